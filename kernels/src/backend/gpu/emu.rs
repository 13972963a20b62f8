//! The emulated device: the `.cu` kernels compiled by the host C++ compiler through
//! `kernels/cuda/emu/cuda_emu.h` (each GPU thread an OS thread, blocks one after another), on
//! host memory. Slow (~20 µs per emulated thread): for tests on small grids.
use super::device::Device;
use core::ffi::{c_char, c_int, c_void};
use std::ffi::CString;

extern "C" {
    fn qssm_emu_launch(
        name: *const c_char,
        gx: u32,
        gy: u32,
        gz: u32,
        bx: u32,
        by: u32,
        bz: u32,
        smem: u32,
        params: *const c_void,
    ) -> c_int;
}

/// The emulated device (stateless).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmuDevice;

/// Host memory standing in for device memory (8-byte aligned, zeroed).
pub struct EmuMem {
    words: Box<[core::cell::UnsafeCell<u64>]>,
}

// SAFETY: like device memory, EmuMem is written only through launches and `write`, which the
// backend orders (one launch at a time, under the emulator's mutex).
unsafe impl Send for EmuMem {}
// SAFETY: as above.
unsafe impl Sync for EmuMem {}

impl EmuMem {
    fn base(&self) -> *mut u8 {
        self.words.as_ptr() as *mut u8
    }
    fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

impl Device for EmuDevice {
    type Mem = EmuMem;
    fn name(&self) -> &'static str {
        "cuda-emu"
    }
    fn alloc(&self, bytes: usize) -> EmuMem {
        let words = bytes.div_ceil(8).max(1);
        EmuMem {
            words: (0..words).map(|_| core::cell::UnsafeCell::new(0)).collect(),
        }
    }
    fn addr(&self, m: &EmuMem) -> u64 {
        m.base() as u64
    }
    fn write(&self, m: &EmuMem, offset: usize, src: &[u8]) {
        assert!(offset + src.len() <= m.bytes(), "emu write out of bounds");
        // SAFETY: in bounds (checked); no launch runs concurrently (launches are synchronous)
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), m.base().add(offset), src.len()) }
    }
    fn read(&self, m: &EmuMem, offset: usize, dst: &mut [u8]) {
        assert!(offset + dst.len() <= m.bytes(), "emu read out of bounds");
        // SAFETY: as in `write`
        unsafe { core::ptr::copy_nonoverlapping(m.base().add(offset), dst.as_mut_ptr(), dst.len()) }
    }
    unsafe fn launch_raw(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        smem: u32,
        params: *const c_void,
    ) {
        let name = CString::new(kernel).expect("kernel name");
        // SAFETY: the caller guarantees `params` and the addresses in it (see the trait)
        let rc = unsafe {
            qssm_emu_launch(
                name.as_ptr(),
                grid[0],
                grid[1],
                grid[2],
                block[0],
                block[1],
                block[2],
                smem,
                params,
            )
        };
        assert!(rc == 0, "emulated launch of `{kernel}` failed (code {rc})");
    }
}
