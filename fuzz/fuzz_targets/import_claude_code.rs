//! The `claude-code` importer alone, on any document the bytes decode to (its sniff skipped).
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::import_as("claude-code", data));
