//! Make the binary (and the test binaries) find libtorch without LD_LIBRARY_PATH.
//!
//! libtorch_cuda is not linked: loading it maps and initialises ≈ 400 MB of CUDA libraries,
//! which every command paid for before, `--version` included. `cuda::load` opens it at run
//! time when a command may use a GPU and one is present; the directory it was built against
//! is passed on as LNMC_TORCH_LIB for that.

fn main() {
    // torch-sys declares `links = "tch"` and exports the directory it linked against.
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys did not report its libtorch directory; run scripts/setup first");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    println!("cargo:rustc-env=LNMC_TORCH_LIB={lib}");
    println!("cargo:rerun-if-changed=build.rs");
}
