//! The language server's frame parser on any byte stream, split into reads at any points:
//! never panics, never loops, and never holds more than a bounded header's worth of bytes
//! that is not a frame. The body is `socratic::fuzzing::lsp_frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socratic::fuzzing::lsp_frames(data));
