//! libtorch_cuda on demand. It is not linked (see build.rs): a process that will not touch a
//! GPU never maps the CUDA libraries. When a command may use one and a GPU is present, `load`
//! opens it with RTLD_GLOBAL before any tensor work: its static initialisers register the CUDA
//! backend with libtorch_cpu, which from then on reports CUDA as available.

use std::ffi::{CStr, CString};
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Error, Result};

const LIBRARY: &str = "libtorch_cuda.so";

/// Whether this machine shows an NVIDIA GPU (the driver's device nodes), without loading CUDA.
pub fn gpu_visible() -> bool {
    Path::new("/dev/nvidiactl").exists() || Path::new("/proc/driver/nvidia/version").exists()
}

/// Opens libtorch_cuda once; later calls return the first call's outcome. Searched as the
/// dynamic loader does (LD_LIBRARY_PATH, then the binary's run path), then in the libtorch
/// this binary was built against.
pub fn load() -> Result<()> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let built_with = Path::new(env!("LNMC_TORCH_LIB")).join(LIBRARY);
            let mut last = String::new();
            for name in [LIBRARY.to_string(), built_with.display().to_string()] {
                let c = CString::new(name).expect("no NUL in a path");
                // SAFETY: dlopen with a valid C string; the handle is kept open for the life
                // of the process on purpose (the backend it registers must stay).
                let handle =
                    unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
                if !handle.is_null() {
                    return Ok(());
                }
                // SAFETY: dlerror returns a thread-local C string or null.
                let error = unsafe { libc::dlerror() };
                if !error.is_null() {
                    last = unsafe { CStr::from_ptr(error) }
                        .to_string_lossy()
                        .into_owned();
                }
            }
            Err(last)
        })
        .clone()
        .map_err(|e| Error::runtime(format!("cannot load CUDA support ({LIBRARY}): {e}")))
}

/// For commands that may train or evaluate: load CUDA when a GPU is present, unless the CPU
/// was asked for. A GPU that cannot be used is not an error here: `--device cuda` says so when
/// it picks the device, `auto` falls back to the CPU.
pub fn prepare(cpu_only: bool) {
    if !cpu_only && gpu_visible() {
        let _ = load();
    }
}
