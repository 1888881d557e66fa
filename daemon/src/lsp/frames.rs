//! Input framing that survives garbage.
//!
//! In: the raw bytes an editor sends. Out: only well-formed `Content-Length` frames whose body
//! is a JSON-RPC message. The LSP library stops reading a connection at its first malformed
//! frame, and it answers neither requests it cannot parse nor requests on `$/` methods; this
//! filter sits in front of it. Garbage between frames is skipped. Every request with an id
//! gets exactly one answer: a frame that carries an id but is not a request the library will
//! answer (not JSON-RPC, invalid UTF-8, nested deeper than the JSON parser goes, a `$/` method)
//! becomes a call of [`INVALID_MESSAGE`] with that id, which answers an error. Other bad frames
//! are dropped with a log line. A header longer than [`MAX_HEADER`] or a body longer than
//! [`MAX_FRAME`] ends the connection, so one connection holds at most that much memory.

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// A frame announcing a longer body ends the connection.
pub const MAX_FRAME: usize = 64 << 20;

/// A header (from `Content-Length:` to the blank line) longer than this ends the connection.
pub const MAX_HEADER: usize = 8 << 10;

/// The method a bad request with an id is rewritten to; its params are [`InvalidMessage`] and
/// its answer is that error.
pub const INVALID_MESSAGE: &str = "socratic/$invalidMessage";

/// Why a request was not passed on: the JSON-RPC error its id is answered with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct InvalidMessage {
    /// A JSON-RPC error code: -32700 (parse error), -32600 (invalid request) or -32601 (method
    /// not found).
    pub code: i64,
    pub message: String,
}

/// What the next frame of a buffer is.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A clean frame to pass on, header included.
    Clean(Vec<u8>),
    /// A bad frame and why.
    Rejected(String),
    /// A frame too large to read: the connection must end.
    Fatal(String),
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
    let id_ok = |id: Option<&Value>| matches!(id, None | Some(Value::Null | Value::String(_))) || id.is_some_and(is_id);
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
    let Some(end) = find(&buf[..buf.len().min(MAX_HEADER + 4)], b"\r\n\r\n") else {
        if buf.len() >= MAX_HEADER + 4 {
            return Some(Frame::Fatal(format!("a header longer than {MAX_HEADER} bytes")));
        }
        return None;
    };
    let header = String::from_utf8_lossy(&buf[..end]).to_string();
    let len = header
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Content-Length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let Some(len) = len else {
        buf.drain(..end + 4);
        return Some(Frame::Rejected(format!("bad header {header:?}")));
    };
    if len > MAX_FRAME {
        return Some(Frame::Fatal(format!("a body of {len} bytes (at most {MAX_FRAME})")));
    }
    if buf.len() < end + 4 + len {
        return None;
    }
    let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
    Some(check_body(&body))
}

/// A JSON-RPC id the LSP library can echo: a string or a 64-bit signed integer.
fn is_id(id: &Value) -> bool {
    id.is_string() || id.is_i64()
}

/// The id of a body that may be invalid UTF-8 or too deep for a full parse: only the top level
/// is read (serde_json skips ignored values without recursion).
fn shallow_id(body: &[u8]) -> Option<Value> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<Value>,
    }
    let text = String::from_utf8_lossy(body);
    serde_json::from_str::<IdOnly>(&text).ok()?.id.filter(is_id)
}

/// A call of [`INVALID_MESSAGE`] that answers `id` with the error `code`.
fn invalid_request(id: &Value, code: i64, message: String) -> Frame {
    let params = InvalidMessage { code, message };
    Frame::Clean(frame(
        json!({"jsonrpc": "2.0", "id": id, "method": INVALID_MESSAGE, "params": params}).to_string().as_bytes(),
    ))
}

/// What a whole body becomes.
fn check_body(body: &[u8]) -> Frame {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if is_message(&v) => {
            match (v.get("method").and_then(Value::as_str), v.get("id").filter(|id| is_id(id))) {
                (Some(method), Some(id)) if method.starts_with("$/") => {
                    invalid_request(id, -32601, format!("{method} is a notification, not a request"))
                }
                _ => Frame::Clean(frame(body)),
            }
        }
        Ok(v) => match v.get("id").filter(|id| is_id(id)) {
            Some(id) => invalid_request(id, -32600, "not a JSON-RPC 2.0 request".into()),
            None => Frame::Rejected("a JSON body that is not a JSON-RPC message".into()),
        },
        Err(e) => match shallow_id(body) {
            Some(id) => invalid_request(&id, -32700, format!("the body is not valid JSON: {e}")),
            None => Frame::Rejected(format!("body is not JSON: {e}")),
        },
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
                    Frame::Fatal(why) => {
                        tracing::warn!("closing the connection: {why}");
                        return;
                    }
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

    #[test]
    fn a_header_that_never_ends_is_fatal_within_its_bound() {
        let mut buf = b"Content-Length: 5\r\n".to_vec();
        let chunk = vec![b'x'; 1000];
        let mut fed = 0;
        let verdict = loop {
            if let Some(f) = next_frame(&mut buf) {
                break f;
            }
            assert!(buf.len() <= MAX_HEADER + 4 + chunk.len(), "the buffer stays bounded");
            buf.extend_from_slice(&chunk);
            fed += chunk.len();
            assert!(fed < 1 << 20, "no verdict after a megabyte");
        };
        assert!(matches!(verdict, Frame::Fatal(_)), "{verdict:?}");
    }

    #[test]
    fn an_oversized_body_is_fatal_at_once() {
        let mut buf = format!("Content-Length: {}\r\n\r\n{{", MAX_FRAME + 1).into_bytes();
        assert!(matches!(next_frame(&mut buf), Some(Frame::Fatal(_))));
    }

    /// The error a rewritten frame answers: (id, code).
    fn answer_of(body: &[u8]) -> (Value, i64) {
        let Frame::Clean(bytes) = check_body(body) else { panic!("not answered: {body:?}") };
        let body = &bytes[bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("header") + 4..];
        let v: Value = serde_json::from_slice(body).expect("json");
        assert_eq!(v["method"], INVALID_MESSAGE, "{v}");
        let params: InvalidMessage = serde_json::from_value(v["params"].clone()).expect("params");
        (v["id"].clone(), params.code)
    }

    #[test]
    fn requests_the_library_would_not_answer_get_an_error() {
        let mut bad_utf8 = br#"{"jsonrpc":"2.0","id":4,"method":"textDocument/hover","params":{"x":""#.to_vec();
        bad_utf8.extend([0xff, 0xfe]);
        bad_utf8.extend(br#""}}"#);
        assert_eq!(answer_of(&bad_utf8), (json!(4), -32700));
        let depth = 100_000;
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":"deep","method":"textDocument/hover","params":{{"x":{}{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(answer_of(deep.as_bytes()), (json!("deep"), -32700));
        let dollar = br#"{"jsonrpc":"2.0","id":5,"method":"$/cancelRequest","params":{"id":1}}"#;
        assert_eq!(answer_of(dollar), (json!(5), -32601));
        let unknown_dollar = br#"{"jsonrpc":"2.0","id":6,"method":"$/whatever"}"#;
        assert_eq!(answer_of(unknown_dollar), (json!(6), -32601));
        // a $/ notification passes; a body with no id stays unanswered
        let note = br#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#;
        assert_eq!(check_body(note), Frame::Clean(frame(note)));
        assert!(matches!(check_body(&[0xff, b'{']), Frame::Rejected(_)));
        // a rewritten frame passes a second filter unchanged (the proxy and the daemon both filter)
        let Frame::Clean(rewritten) = check_body(dollar) else { panic!("rewritten") };
        let mut again = rewritten.clone();
        assert_eq!(next_frame(&mut again), Some(Frame::Clean(rewritten)));
    }
}
