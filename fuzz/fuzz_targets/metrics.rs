#![no_main]
// One reader of untrusted bytes; see lnmc::untrusted.
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| lnmc::untrusted::fuzz("metrics", bytes));
