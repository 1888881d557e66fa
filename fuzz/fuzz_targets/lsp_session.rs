//! A whole language-server session over any byte stream (after a valid `initialize`): the
//! server never panics and ends when the stream does, within a time budget.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

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

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// One multi-threaded runtime for every input (the server moves parsing off its request path
/// with `block_in_place`, which needs one).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (mut client, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, mut editor) = tokio::io::duplex(1 << 20);
        let serve = tokio::spawn(socratic::lsp::serve(server_in, server_out, shared()));
        let drain = tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut editor, &mut sink).await;
        });
        let init = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}}"#;
        let _ = client.write_all(&frame(init)).await;
        let _ = client.write_all(&frame(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#)).await;
        let _ = client.write_all(data).await;
        drop(client);
        let ended = tokio::time::timeout(Duration::from_secs(10), serve).await;
        assert!(ended.is_ok(), "the session did not end within 10 s of its input closing");
        assert!(!ended.unwrap().is_err_and(|e| e.is_panic()), "the session panicked");
        drain.abort();
    });
});
