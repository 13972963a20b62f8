//! A CUDA GPU through `cust`: the kernels of `kernels/cuda/` compiled by nvcc at build time
//! (sm_90 SASS + PTX, embedded), one context, one stream, launches through the driver API.
use super::device::Device;
use core::ffi::c_void;
use cust::context::Context;
use cust::memory::DeviceBuffer;
use cust::module::Module;
use cust::stream::{Stream, StreamFlags};
use cust::sys as cu;
use std::collections::HashMap;

/// The embedded fatbin of `kernels/cuda/qssm.cu`.
static FATBIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/qssm.fatbin"));

/// Why a CUDA device could not be opened.
#[derive(Debug)]
pub struct CudaUnavailable(pub String);

impl core::fmt::Display for CudaUnavailable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CUDA device unavailable: {}", self.0)
    }
}
impl std::error::Error for CudaUnavailable {}

/// GPU 0 with the qssm kernels loaded.
pub struct CudaDevice {
    ctx: Context,
    stream: Stream,
    funcs: HashMap<&'static str, usize>,
    _module: Module,
    name: String,
}

// SAFETY: the raw handles are used only through the driver API, which is thread-safe once the
// context is made current on the calling thread (every method does).
unsafe impl Send for CudaDevice {}
// SAFETY: as above.
unsafe impl Sync for CudaDevice {}

fn check(r: cu::CUresult, what: &str) {
    assert!(
        r == cu::cudaError_enum::CUDA_SUCCESS,
        "CUDA error in {what}: {r:?}"
    );
}

impl CudaDevice {
    /// Opens GPU 0 and loads the kernels; an error (no driver, no device, wrong
    /// architecture) rather than a panic when there is no usable GPU.
    pub fn open() -> Result<Self, CudaUnavailable> {
        let err = |e: cust::error::CudaError| CudaUnavailable(e.to_string());
        let ctx = cust::quick_init().map_err(err)?;
        let dev = cust::device::Device::get_device(0).map_err(err)?;
        let name = dev.name().map_err(err)?;
        let module = Module::from_fatbin(FATBIN, &[]).map_err(err)?;
        let stream = Stream::new(StreamFlags::NON_BLOCKING, None).map_err(err)?;
        let mut funcs = HashMap::new();
        for &k in super::KERNELS {
            let f = module.get_function(k).map_err(err)?;
            funcs.insert(k, f.to_raw() as usize);
        }
        Ok(Self {
            ctx,
            stream,
            funcs,
            _module: module,
            name,
        })
    }
    /// The GPU's name (e.g. `NVIDIA H200`).
    pub fn device_name(&self) -> &str {
        &self.name
    }
    fn current(&self) {
        // SAFETY: a live context handle
        check(
            unsafe { cu::cuCtxSetCurrent(self.ctx.as_raw()) },
            "cuCtxSetCurrent",
        );
    }
    /// Waits for all queued work.
    pub fn synchronize(&self) {
        self.current();
        // SAFETY: a live stream
        check(
            unsafe { cu::cuStreamSynchronize(self.stream.as_inner()) },
            "cuStreamSynchronize",
        );
    }
}

impl Device for CudaDevice {
    type Mem = DeviceBuffer<u8>;
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn alloc(&self, bytes: usize) -> DeviceBuffer<u8> {
        self.current();
        self.synchronize();
        DeviceBuffer::zeroed(bytes.max(8)).expect("cuMemAlloc (device out of memory?)")
    }
    fn addr(&self, m: &DeviceBuffer<u8>) -> u64 {
        m.as_device_ptr().as_raw()
    }
    fn write(&self, m: &DeviceBuffer<u8>, offset: usize, src: &[u8]) {
        assert!(offset + src.len() <= m.len(), "device write out of bounds");
        self.current();
        // SAFETY: in bounds (checked); a pageable source is staged before the call returns
        check(
            unsafe {
                cu::cuMemcpyHtoDAsync_v2(
                    self.addr(m) + offset as u64,
                    src.as_ptr() as *const c_void,
                    src.len(),
                    self.stream.as_inner(),
                )
            },
            "cuMemcpyHtoDAsync",
        );
    }
    fn read(&self, m: &DeviceBuffer<u8>, offset: usize, dst: &mut [u8]) {
        assert!(offset + dst.len() <= m.len(), "device read out of bounds");
        self.current();
        // SAFETY: in bounds (checked); the stream is synchronised before dst is used
        check(
            unsafe {
                cu::cuMemcpyDtoHAsync_v2(
                    dst.as_mut_ptr() as *mut c_void,
                    self.addr(m) + offset as u64,
                    dst.len(),
                    self.stream.as_inner(),
                )
            },
            "cuMemcpyDtoHAsync",
        );
        self.synchronize();
    }
    unsafe fn launch_raw(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        smem: u32,
        params: *const c_void,
    ) {
        let f = *self
            .funcs
            .get(kernel)
            .unwrap_or_else(|| panic!("kernel `{kernel}` is not in the module"));
        self.current();
        let mut args = [params as *mut c_void];
        // SAFETY: the caller guarantees `params` (see the trait); `f` is a function of the
        // loaded module
        check(
            unsafe {
                cu::cuLaunchKernel(
                    f as cu::CUfunction,
                    grid[0],
                    grid[1],
                    grid[2],
                    block[0],
                    block[1],
                    block[2],
                    smem,
                    self.stream.as_inner(),
                    args.as_mut_ptr(),
                    core::ptr::null_mut(),
                )
            },
            kernel,
        );
    }
}
