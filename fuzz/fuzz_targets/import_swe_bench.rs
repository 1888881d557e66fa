//! The `swe-bench` importer alone, on any document the bytes decode to (its sniff skipped).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socratic::fuzzing::import_as("swe-bench", data));
