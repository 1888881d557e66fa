//! The whole import path (decode, detect the format, parse, redact): never panics, and every
//! error names the file it was given. The body is `socratic::fuzzing::import_any`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socratic::fuzzing::import_any(data));
