//! What the GPU backend needs from a device: zeroed memory, copies, and launches of the
//! kernels of `kernels/cuda/` by name with one parameter struct.
use core::ffi::c_void;

/// A device that runs the kernels of `kernels/cuda/`: `cuda::CudaDevice` (a GPU
/// through `cust`) or [`super::emu::EmuDevice`] (the same sources compiled for the host).
///
/// Work is ordered: a launch sees every earlier launch and write complete; `read` waits for
/// everything before it. Failures of the device itself (a lost GPU, an out-of-memory at plan
/// time) panic with the driver's message: they are not input errors a caller could fix.
pub trait Device: Send + Sync {
    /// An owned allocation (freed on drop).
    type Mem: Send + Sync;
    /// Short name (`cuda`, `cuda-emu`).
    fn name(&self) -> &'static str;
    /// `bytes` of zeroed memory.
    fn alloc(&self, bytes: usize) -> Self::Mem;
    /// The address of `m` as kernels see it.
    fn addr(&self, m: &Self::Mem) -> u64;
    /// Host → device, `src.len()` bytes at byte `offset` of `m`.
    fn write(&self, m: &Self::Mem, offset: usize, src: &[u8]);
    /// Device → host, `dst.len()` bytes from byte `offset` of `m`, after all earlier work.
    fn read(&self, m: &Self::Mem, offset: usize, dst: &mut [u8]);
    /// Launches `kernel` on a grid of `grid` blocks of `block` threads with `smem` bytes of
    /// dynamic shared memory; `params` points to the kernel's parameter struct.
    ///
    /// # Safety
    /// `params` must point to the `#[repr(C)]` struct the kernel takes, and every address in
    /// it must be valid device memory of the size the kernel reads or writes.
    unsafe fn launch_raw(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        smem: u32,
        params: *const c_void,
    );
}

/// A shared device (one context for several models).
impl<D: Device> Device for std::sync::Arc<D> {
    type Mem = D::Mem;
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn alloc(&self, bytes: usize) -> Self::Mem {
        (**self).alloc(bytes)
    }
    fn addr(&self, m: &Self::Mem) -> u64 {
        (**self).addr(m)
    }
    fn write(&self, m: &Self::Mem, offset: usize, src: &[u8]) {
        (**self).write(m, offset, src)
    }
    fn read(&self, m: &Self::Mem, offset: usize, dst: &mut [u8]) {
        (**self).read(m, offset, dst)
    }
    unsafe fn launch_raw(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        smem: u32,
        params: *const c_void,
    ) {
        // SAFETY: forwarded with the caller's guarantees
        unsafe { (**self).launch_raw(kernel, grid, block, smem, params) }
    }
}
