//! Input framing that survives garbage.
//!
//! In: the raw bytes an editor sends. Out: only well-formed `Content-Length` frames whose body
//! is a JSON-RPC message. The LSP library stops reading a connection at its first malformed
//! frame; this filter sits in front of it. Garbage between frames is skipped; a frame whose
//! body is not JSON-RPC but carries a request id becomes a call of an unknown method with that
//! id (so the editor gets an error answer instead of waiting); other bad frames are dropped
//! with a log line.

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Frames larger than this are dropped (and their bytes skipped).
pub const MAX_FRAME: usize = 64 << 20;

/// What the next frame of a buffer is.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A clean frame to pass on, header included.
    Clean(Vec<u8>),
    /// A bad frame and why.
    Rejected(String),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Whether a value has the shape of a JSON-RPC 2.0 request, notification or response.
fn is_message(v: &Value) -> bool {
    let Some(o) = v.as_object() else { return false };
    if o.get("jsonrpc") != Some(&json!("2.0")) {
        return false;
    }
    let id_ok = |id: Option<&Value>| {
        matches!(id, None | Some(Value::Null | Value::String(_))) || id.is_some_and(|i| i.is_i64() || i.is_u64())
    };
    match o.get("method") {
        Some(Value::String(_)) => {
            id_ok(o.get("id"))
                && matches!(o.get("params"), None | Some(Value::Object(_) | Value::Array(_) | Value::Null))
        }
        Some(_) => false,
        None => o.contains_key("id") && id_ok(o.get("id")) && (o.contains_key("result") || o.contains_key("error")),
    }
}

/// Take the next frame off the front of `buf`; `None` until a whole frame is there.
pub fn next_frame(buf: &mut Vec<u8>) -> Option<Frame> {
    const KEY: &[u8] = b"Content-Length:";
    let start = match find(buf, KEY) {
        Some(i) => i,
        None => {
            // keep a possible partial key at the end
            let keep = buf.len().min(KEY.len() - 1);
            let drop = buf.len() - keep;
            if drop > 0 && buf[..drop].iter().any(|b| !b.is_ascii_whitespace()) {
                buf.drain(..drop);
                return Some(Frame::Rejected("bytes outside a frame".into()));
            }
            buf.drain(..drop);
            return None;
        }
    };
    if start > 0 {
        let skipped = buf.drain(..start).any(|b| !b.is_ascii_whitespace());
        if skipped {
            return Some(Frame::Rejected("bytes outside a frame".into()));
        }
    }
    let end = find(buf, b"\r\n\r\n")?;
    let header = String::from_utf8_lossy(&buf[..end]).to_string();
    let len = header
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Content-Length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let Some(len) = len.filter(|l| *l <= MAX_FRAME) else {
        buf.drain(..end + 4);
        return Some(Frame::Rejected(format!("bad header {header:?}")));
    };
    if buf.len() < end + 4 + len {
        return None;
    }
    let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) if is_message(&v) => Some(Frame::Clean(frame(&body))),
        Ok(v) => match v.get("id").filter(|id| id.is_string() || id.is_i64() || id.is_u64()) {
            Some(id) => Some(Frame::Clean(frame(
                json!({"jsonrpc": "2.0", "id": id, "method": "socratic/$invalidMessage"}).to_string().as_bytes(),
            ))),
            None => Some(Frame::Rejected("a JSON body that is not a JSON-RPC message".into())),
        },
        Err(e) => Some(Frame::Rejected(format!("body is not JSON: {e}"))),
    }
}

/// Filter `input` into clean frames; the returned reader ends when `input` does.
pub fn sanitize<R: AsyncRead + Unpin + Send + 'static>(mut input: R) -> tokio::io::DuplexStream {
    let (mut tx, rx) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            while let Some(f) = next_frame(&mut buf) {
                match f {
                    Frame::Clean(bytes) => {
                        if tx.write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                    Frame::Rejected(why) => tracing::warn!("dropped a malformed frame: {why}"),
                }
            }
            match input.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(bytes: &[u8]) -> Vec<Frame> {
        let mut buf = bytes.to_vec();
        std::iter::from_fn(|| next_frame(&mut buf)).collect()
    }

    #[test]
    fn clean_frames_pass_and_garbage_is_skipped() {
        let good = br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let mut input = b"junk junk\r\n".to_vec();
        input.extend(frame(b"hello"));
        input.extend(frame(br#"{"jsonrpc":"2.0","id":3,"method":7}"#));
        input.extend(b"Content-Length: nope\r\n\r\n");
        input.extend(frame(good));
        let frames = feed(&input);
        assert!(matches!(frames[0], Frame::Rejected(_)));
        assert!(matches!(frames[1], Frame::Rejected(_)));
        let Frame::Clean(answer) = &frames[2] else { panic!("{frames:?}") };
        assert!(String::from_utf8_lossy(answer).contains(r#""id":3"#));
        assert!(matches!(frames[3], Frame::Rejected(_)));
        assert_eq!(frames[4], Frame::Clean(frame(good)));
        assert_eq!(frames.len(), 5);
    }

    #[test]
    fn partial_frames_wait() {
        let mut buf = b"Content-Length: 10\r\n\r\n{\"a\"".to_vec();
        assert_eq!(next_frame(&mut buf), None);
        let mut buf = b"Content-Le".to_vec();
        assert_eq!(next_frame(&mut buf), None);
        assert_eq!(buf, b"Content-Le");
    }
}
