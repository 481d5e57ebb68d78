//! Faults injected on purpose, for the tests of what lnmc survives (tests/faults.rs, system.rs,
//! import.rs), through `LNMC_INJECT_FAULT`. Compiled into debug builds only, which is what
//! `cargo test` builds and runs: a release binary carries no such hook and ignores the
//! variable.

/// One fault a test asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The dashboard panics right after drawing a frame.
    Panic,
    /// The dashboard fails with an error right after drawing a frame.
    Error,
    /// Training's second epoch hangs after its first read-back, until stopped.
    Hang,
    /// `lnmc import` dies as a kill would (no clean-up) once this many series are cut.
    KillImport(u64),
}

pub const VARIABLE: &str = "LNMC_INJECT_FAULT";

/// The fault asked for; always None in a release build.
pub fn injected() -> Option<Fault> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let text = std::env::var(VARIABLE).ok()?;
    match text.as_str() {
        "panic" => Some(Fault::Panic),
        "error" => Some(Fault::Error),
        "hang" => Some(Fault::Hang),
        _ => text
            .strip_prefix("kill-import:")
            .and_then(|n| n.parse().ok())
            .map(Fault::KillImport),
    }
}
