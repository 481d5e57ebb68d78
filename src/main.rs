//! The `lnmc` binary: the command line of `lnmc::cli`.

fn main() -> std::process::ExitCode {
    lnmc::cli::main()
}
