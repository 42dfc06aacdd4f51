#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| invmon::fuzzing::allowed_signers(data));
