#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| invmon::fuzzing::snmprec_text(data));
