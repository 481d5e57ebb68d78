//! Make the binary (and the test binaries) find libtorch without LD_LIBRARY_PATH, and keep
//! libtorch_cuda linked so `--device auto` can pick a GPU where one exists.

use std::path::Path;

fn main() {
    // torch-sys declares `links = "tch"` and exports the directory it linked against.
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys did not report its libtorch directory; run scripts/setup first");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    // Nothing in lnmc calls into libtorch_cuda directly, so the default --as-needed would drop
    // it and CUDA would silently be unavailable: its static initialisers register the CUDA
    // backend.
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{lib}");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
