//! The embedded default: example traces compiled into the binary, so `socratic demo` runs with
//! nothing configured and nothing downloaded.
//!
//! In: nothing. Out: `(file name, bytes)` pairs of small hand-written traces in several formats.

/// Example trace files shipped in the binary (from `tests/fixtures/traces/`).
pub const TRACE_FILES: &[(&str, &[u8])] = &[];
