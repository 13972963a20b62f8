//! A CUDA GPU through `cust`: the kernels of `kernels/cuda/` compiled by nvcc at build time
//! (sm_90 SASS + PTX, embedded), one context, one stream, launches through the driver API.
use super::device::Device;
use core::ffi::c_void;
use cust::context::Context;
use cust::module::Module;
use cust::stream::{Stream, StreamFlags};
use cust::sys as cu;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// The context, shared by the device and every allocation, so that it is destroyed only
/// after all of them (fields drop in order: an allocation freed after its context would
/// crash the process at exit).
struct Ctx(Context);

impl Ctx {
    fn current(&self) {
        // SAFETY: a live context handle
        check(
            unsafe { cu::cuCtxSetCurrent(self.0.as_raw()) },
            "cuCtxSetCurrent",
        );
    }
}

/// Device memory (freed on drop, with its context made current first).
pub struct CudaMem {
    ptr: u64,
    bytes: usize,
    ctx: Arc<Ctx>,
}

impl Drop for CudaMem {
    fn drop(&mut self) {
        self.ctx.current();
        // SAFETY: allocated by cuMemAlloc in this context, freed once; an error here (a lost
        // device) is ignored: nothing can be done about it in a destructor
        unsafe {
            cu::cuMemFree_v2(self.ptr);
        }
    }
}

/// Per-kernel launch counts and wall times (`QSSM_CUDA_PROFILE=1`: each launch is
/// synchronised and timed; the table is printed to stderr when the device is dropped).
#[derive(Default)]
struct Profile {
    kernels: HashMap<&'static str, (u64, f64)>,
}

/// GPU 0 with the qssm kernels loaded.
pub struct CudaDevice {
    funcs: HashMap<&'static str, usize>,
    stream: Stream,
    module: Option<Module>,
    name: String,
    profile: Option<Mutex<Profile>>,
    ctx: Arc<Ctx>,
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
        let profile = (std::env::var("QSSM_CUDA_PROFILE").as_deref() == Ok("1"))
            .then(|| Mutex::new(Profile::default()));
        Ok(Self {
            funcs,
            stream,
            module: Some(module),
            name,
            profile,
            ctx: Arc::new(Ctx(ctx)),
        })
    }
    /// The GPU's name (e.g. `NVIDIA H200`).
    pub fn device_name(&self) -> &str {
        &self.name
    }
    fn current(&self) {
        self.ctx.current();
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

impl Drop for CudaDevice {
    fn drop(&mut self) {
        self.current();
        // the module before the context (the stream drops with the fields)
        drop(self.module.take());
        if let Some(p) = &self.profile {
            let p = p.lock().unwrap_or_else(|e| e.into_inner());
            let mut rows: Vec<_> = p.kernels.iter().collect();
            rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
            let total: f64 = rows.iter().map(|r| r.1 .1).sum();
            eprintln!("CUDA profile (synchronised launches): {total:.3} s in all");
            for (k, (n, t)) in rows {
                eprintln!(
                    "  {k:<20} {n:>8} launches {:>10.3} ms {:>5.1} %",
                    t * 1e3,
                    100.0 * t / total
                );
            }
        }
    }
}

impl Device for CudaDevice {
    type Mem = CudaMem;
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn alloc(&self, bytes: usize) -> CudaMem {
        self.synchronize();
        let bytes = bytes.max(8);
        let mut ptr = 0u64;
        // SAFETY: out-pointer to a local; the context is current
        check(
            unsafe { cu::cuMemAlloc_v2(&mut ptr, bytes) },
            "cuMemAlloc (device out of memory?)",
        );
        // SAFETY: the allocation just made
        check(unsafe { cu::cuMemsetD8_v2(ptr, 0, bytes) }, "cuMemsetD8");
        CudaMem {
            ptr,
            bytes,
            ctx: self.ctx.clone(),
        }
    }
    fn addr(&self, m: &CudaMem) -> u64 {
        m.ptr
    }
    fn write(&self, m: &CudaMem, offset: usize, src: &[u8]) {
        assert!(offset + src.len() <= m.bytes, "device write out of bounds");
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
    fn read(&self, m: &CudaMem, offset: usize, dst: &mut [u8]) {
        assert!(offset + dst.len() <= m.bytes, "device read out of bounds");
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
        let t0 = self.profile.as_ref().map(|_| {
            self.synchronize();
            std::time::Instant::now()
        });
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
        if let (Some(p), Some(t0)) = (&self.profile, t0) {
            self.synchronize();
            let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
            let e = p.kernels.entry(kernel).or_default();
            e.0 += 1;
            e.1 += t0.elapsed().as_secs_f64();
        }
    }
}
