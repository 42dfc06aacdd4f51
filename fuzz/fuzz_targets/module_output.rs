#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| invmon::fuzzing::module_output(data));
