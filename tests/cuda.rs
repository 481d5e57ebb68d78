//! libtorch_cuda is opened on demand, and once opened registers the CUDA backend: checked in a
//! process of its own (libtorch caches its first answer), on a machine without a GPU too.

use std::path::Path;

#[test]
fn loading_cuda_support_registers_the_backend() {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/libtorch/lib/libtorch_cuda.so");
    if !lib.exists() {
        eprintln!("a CPU-only libtorch: nothing to load");
        return;
    }
    lnmc::cuda::load().expect("libtorch_cuda loads");
    // hasCUDART is true once the CUDA hooks are registered, GPU or not; the stub says false.
    assert!(tch::utils::has_cudart(), "CUDA backend not registered");
    lnmc::cuda::load().expect("a second load is the first one's outcome");
    if !lnmc::cuda::gpu_visible() {
        assert!(!tch::Cuda::is_available());
        let error = lnmc::compute::device(lnmc::types::DeviceChoice::Cuda).unwrap_err();
        assert!(error.to_string().contains("no CUDA device is visible"));
    }
}
