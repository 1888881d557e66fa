//! The fuzz targets' bodies, shared by the libFuzzer targets (`fuzz/`, run by `bench/fuzz.sh`)
//! and the bounded, seeded fuzzing test CI runs (`daemon/tests/fuzz_bounded.rs`).
//!
//! In: any bytes. Out: nothing; a body panics only when the property it checks fails (never
//! panics, errors name their file, the frame parser always makes progress, a language-server
//! session ends within 10 s of its input closing).

use crate::lsp::frames::{next_frame, Frame};
use crate::lsp::state::Shared;
use crate::traces::{decode, Ctx, IMPORTERS};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Importer fuzz targets: target name → the importer it drives alone.
pub const IMPORTER_TARGETS: &[(&str, &str)] = &[
    ("import_swe_agent", "swe-agent"),
    ("import_mini_swe_agent", "mini-swe-agent"),
    ("import_openhands", "openhands"),
    ("import_openhands_resolver", "openhands-resolver"),
    ("import_swe_bench", "swe-bench"),
    ("import_swe_bench_run_meta", "swe-bench-run-meta"),
    ("import_predictions", "predictions"),
    ("import_claude_code", "claude-code"),
    ("import_codex_cli", "codex-cli"),
    ("import_cline", "cline"),
];

/// Decode `data` as a trace file and hand it to the importer called `name`, sniff or not, then
/// redact what it returned, as an import does.
pub fn import_as(name: &str, data: &[u8]) {
    let importer = IMPORTERS.iter().find(|i| i.name == name).expect("an importer by that name");
    let origin = "fuzz.json".to_string();
    let Ok(doc) = decode(&origin, data) else { return };
    let ctx = Ctx {
        origin: origin.clone(),
        path: PathBuf::from(&origin),
        instance_id_hint: None,
        warnings: Default::default(),
    };
    if let Ok(records) = (importer.parse)(&doc, &ctx) {
        for record in records {
            let _ = crate::redact::redact_record(record);
        }
    }
}

/// The whole import path (decode, detect the format, parse, redact): every error names the file.
pub fn import_any(data: &[u8]) {
    let path = Path::new("fuzz-input.traj.json");
    if let Err(e) = crate::traces::parse_file(path, data) {
        assert!(e.to_string().starts_with("fuzz-input.traj.json"), "an error that does not name its file: {e}");
    }
}

/// The frame parser on a byte stream split into reads of `1 + data[0]` bytes: it never returns
/// frames without consuming bytes.
pub fn lsp_frames(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else { return };
    let chunk = 1 + split as usize;
    let mut buf = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        let mut taken = 0;
        while let Some(frame) = next_frame(&mut buf) {
            taken += 1;
            assert!(taken <= rest.len() + 1, "next_frame keeps returning frames without consuming bytes");
            if let Frame::Fatal(_) = frame {
                return;
            }
        }
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// A whole language-server session over `data` after a valid `initialize`, on `runtime` (a
/// multi-threaded one: parsing moves off the request path with `block_in_place`) with the
/// store `shared`: it never panics and ends within 10 s of its input closing.
pub fn lsp_session(runtime: &tokio::runtime::Runtime, shared: Arc<Shared>, data: &[u8]) {
    runtime.block_on(async {
        let (mut client, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, mut editor) = tokio::io::duplex(1 << 20);
        let serve = tokio::spawn(crate::lsp::serve(server_in, server_out, shared));
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
}

/// A few valid frames, seeds for the language-server targets.
pub fn lsp_seeds() -> Vec<Vec<u8>> {
    let bodies: [&[u8]; 4] = [
        b"{}",
        br#"{"jsonrpc":"2.0","id":1,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///a.py"},"position":{"line":0,"character":0}}}"#,
        br#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///a.py","languageId":"python","version":1,"text":"def f(x):\n    return x + 1\n"}}}"#,
        br#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#,
    ];
    bodies.iter().map(|b| frame(b)).collect()
}
