//! The fuzz binaries find libtorch as lnmc's do (an rpath), from the LIBTORCH that
//! .cargo/config.toml sets for the whole repository.
fn main() {
    if let Ok(root) = std::env::var("LIBTORCH") {
        let lib = std::fs::canonicalize(&root).map_or(root.clone(), |p| p.display().to_string());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}/lib");
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH");
}
