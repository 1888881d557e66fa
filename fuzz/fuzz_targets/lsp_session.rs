//! A whole language-server session over any byte stream (after a valid `initialize`): the
//! server never panics and ends when the stream does, within a time budget. The body is
//! `socratic::fuzzing::lsp_session`; this target holds one runtime and one store for every input.
#![no_main]

use std::sync::{Arc, OnceLock};

/// One store for every input (opening it is the slow part).
fn shared() -> Arc<socratic::lsp::state::Shared> {
    static SHARED: OnceLock<(tempfile::TempDir, Arc<socratic::lsp::state::Shared>)> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let home = tempfile::tempdir().expect("a temporary home");
            let shared = socratic::lsp::state::Shared::open(home.path()).expect("a store");
            (home, shared)
        })
        .1
        .clone()
}

/// One multi-threaded runtime for every input.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| socratic::fuzzing::lsp_session(runtime(), shared(), data));
