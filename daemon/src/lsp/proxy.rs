//! The `socratic lsp` pipe between an editor and the daemon.
//!
//! In: the editor's byte streams (stdin, stdout) and a connection to the daemon. Out: whole
//! frames copied both ways (cut by [`frames`], so a daemon that dies mid-frame leaves no half
//! frame on the editor's side) and, when the daemon goes away, an error answer to every
//! request of the editor it had not answered; then the pipe ends, so the editor sees its
//! server exit instead of waiting forever. [`ProxyEnd`] says how it ended.

use super::frames::{next_frame, Frame};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How a proxied session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyEnd {
    /// The editor sent `exit` or closed its input, and the daemon closed the session.
    EditorDone,
    /// The daemon closed the connection first; this many requests were answered with an error.
    DaemonGone { unanswered: usize },
}

/// What the two directions share.
#[derive(Default)]
struct Session {
    /// The editor's requests the daemon has not answered, by the JSON text of their id.
    pending: BTreeMap<String, Value>,
    /// The editor sent `exit` or closed its input.
    editor_done: bool,
}

fn lock(s: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The message of a clean frame.
fn message(frame: &[u8]) -> Option<Value> {
    let body = frame.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    serde_json::from_slice(&frame[body..]).ok()
}

fn framed(v: &Value) -> Vec<u8> {
    let body = v.to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The clean frames of a byte stream.
struct FrameReader<R> {
    input: R,
    buf: Vec<u8>,
    chunk: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    fn new(input: R) -> Self {
        FrameReader { input, buf: Vec::new(), chunk: vec![0u8; 1 << 16] }
    }

    /// The next clean frame; `None` when the stream ends or breaks the frame bounds.
    async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            while let Some(f) = next_frame(&mut self.buf) {
                match f {
                    Frame::Clean(bytes) => return Some(bytes),
                    Frame::Rejected(why) => tracing::warn!("proxy: dropped a malformed frame: {why}"),
                    Frame::Fatal(why) => {
                        tracing::warn!("proxy: {why}");
                        return None;
                    }
                }
            }
            match self.input.read(&mut self.chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&self.chunk[..n]),
            }
        }
    }
}

/// Pipe `editor_in` to `daemon_out` and `daemon_in` to `editor_out` until the daemon closes
/// the session; then answer the editor's unanswered requests with an error.
pub async fn proxy<EI, EO, DI, DO>(editor_in: EI, mut editor_out: EO, daemon_in: DI, mut daemon_out: DO) -> ProxyEnd
where
    EI: AsyncRead + Unpin,
    EO: AsyncWrite + Unpin,
    DI: AsyncRead + Unpin,
    DO: AsyncWrite + Unpin,
{
    let session = Arc::new(Mutex::new(Session::default()));
    let to_daemon = async {
        let mut frames = FrameReader::new(editor_in);
        while let Some(frame) = frames.next().await {
            if let Some(msg) = message(&frame) {
                let mut s = lock(&session);
                match (msg.get("method").and_then(Value::as_str), msg.get("id").filter(|id| !id.is_null())) {
                    (Some("exit"), _) => s.editor_done = true,
                    (Some(_), Some(id)) => {
                        s.pending.insert(id.to_string(), id.clone());
                    }
                    _ => {}
                }
            }
            if daemon_out.write_all(&frame).await.is_err() {
                break;
            }
        }
        lock(&session).editor_done = true;
        let _ = daemon_out.shutdown().await;
        // the session ends when the daemon closes it
        std::future::pending::<()>().await
    };
    let from_daemon = async {
        let mut frames = FrameReader::new(daemon_in);
        while let Some(frame) = frames.next().await {
            if let Some(msg) = message(&frame) {
                if let (None, Some(id)) = (msg.get("method"), msg.get("id")) {
                    lock(&session).pending.remove(&id.to_string());
                }
            }
            if editor_out.write_all(&frame).await.is_err() || editor_out.flush().await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = from_daemon => {}
        _ = to_daemon => {}
    }
    let (pending, editor_done) = {
        let mut s = lock(&session);
        (std::mem::take(&mut s.pending), s.editor_done)
    };
    for id in pending.values() {
        let answer = json!({"jsonrpc": "2.0", "id": id,
                            "error": {"code": -32603, "message": "the socratic daemon stopped before answering"}});
        if editor_out.write_all(&framed(&answer)).await.is_err() {
            break;
        }
    }
    let _ = editor_out.flush().await;
    let _ = editor_out.shutdown().await;
    if editor_done && pending.is_empty() {
        ProxyEnd::EditorDone
    } else {
        ProxyEnd::DaemonGone { unanswered: pending.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_daemon_that_goes_away_leaves_no_request_unanswered() {
        let (editor, editor_end) = tokio::io::duplex(1 << 16);
        let (daemon, daemon_end) = tokio::io::duplex(1 << 16);
        let (editor_read, mut editor_write) = tokio::io::split(editor);
        let (pi, po) = tokio::io::split(editor_end);
        let (di, dout) = tokio::io::split(daemon_end);
        let proxied = tokio::spawn(proxy(pi, po, di, dout));
        let (mut daemon_read, mut daemon_write) = tokio::io::split(daemon);
        for (id, method) in [(json!(1), "initialize"), (json!("two"), "textDocument/hover")] {
            editor_write.write_all(&framed(&json!({"jsonrpc": "2.0", "id": id, "method": method}))).await.unwrap();
        }
        editor_write.write_all(&framed(&json!({"jsonrpc": "2.0", "method": "initialized"}))).await.unwrap();
        // the daemon reads all three, answers the first, then dies mid-frame
        let mut seen = Vec::new();
        while seen.windows(11).filter(|w| w == b"initialized").count() == 0 {
            let mut chunk = [0u8; 4096];
            let n = daemon_read.read(&mut chunk).await.unwrap();
            seen.extend_from_slice(&chunk[..n]);
        }
        daemon_write.write_all(&framed(&json!({"jsonrpc": "2.0", "id": 1, "result": {}}))).await.unwrap();
        daemon_write.write_all(b"Content-Length: 40\r\n\r\n{\"jsonrpc\"").await.unwrap();
        drop((daemon_read, daemon_write));
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), proxied).await.expect("ends").unwrap();
        assert_eq!(end, ProxyEnd::DaemonGone { unanswered: 1 });
        let mut out = Vec::new();
        let mut editor_read = editor_read;
        editor_read.read_to_end(&mut out).await.unwrap();
        let mut messages = Vec::new();
        let mut buf = out;
        while let Some(Frame::Clean(f)) = next_frame(&mut buf) {
            messages.push(message(&f).unwrap());
        }
        assert!(buf.is_empty(), "no half frame: {:?}", String::from_utf8_lossy(&buf));
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0]["id"], 1);
        assert_eq!(messages[1]["id"], "two");
        assert_eq!(messages[1]["error"]["code"], -32603);
    }
}
