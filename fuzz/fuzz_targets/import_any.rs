//! The whole import path (decode, detect the format, parse, redact): never panics, and every
//! error names the file it was given.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-input.traj.json");
    if let Err(e) = socratic::traces::parse_file(path, data) {
        assert!(e.to_string().starts_with("fuzz-input.traj.json"), "an error that does not name its file: {e}");
    }
});
