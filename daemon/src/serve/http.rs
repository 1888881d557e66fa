//! The HTTP glue (hyper, HTTP/1.1, no TLS: put a reverse proxy in front for that): accept
//! connections, check the bearer token, read bodies up to the size limit, route to `api.rs`.
//!
//! In: TCP connections and their requests. Out: responses: 401 without the token, 413 for a body
//! over `--max-body`, 400 for a body that is not JSON, 404 / 405 for unknown routes and methods,
//! else what the endpoint answers. Grades run on their own tasks, so a client that hangs up
//! never cuts a grade short (the worker goes back to the pool whole).

use super::api::{self, Answer, Body};
use super::token::authorizes;
use super::Service;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Serve connections from `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let service = service.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |req| handle(service.clone(), req));
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, handler).await {
                tracing::debug!("connection: {e}");
            }
        });
    }
}

async fn handle(service: Arc<Service>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let answer = route(service.clone(), req).await;
    if (400..500).contains(&answer.status) && answer.status != 429 {
        service.metrics.bad_requests.fetch_add(1, Relaxed);
    }
    Ok(respond(answer))
}

async fn route(service: Arc<Service>, req: Request<Incoming>) -> Answer {
    let header = req.headers().get(AUTHORIZATION).and_then(|h| h.to_str().ok());
    if !authorizes(header, &service.token) {
        return Answer::error(
            401,
            "authorization",
            "authorization: a bearer token is required (the token file in the home)",
        );
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    match (req.method(), path.as_str()) {
        (&Method::GET, "/healthz") => api::health(&service),
        (&Method::GET, "/metrics") => api::metrics(&service),
        (&Method::GET, "/v1/tasks") => api::tasks(&service, query.as_deref()),
        (&Method::POST, "/v1/grade") | (&Method::POST, "/v1/grade/batch") => {
            let body = match read_json(req, service.max_body).await {
                Ok(v) => v,
                Err(answer) => return answer,
            };
            // On a task of its own: a client hanging up does not cut the grade short.
            let graded = if path == "/v1/grade" {
                tokio::spawn(api::grade_one(service, body)).await
            } else {
                tokio::spawn(api::grade_batch(service, body)).await
            };
            graded.unwrap_or_else(|e| Answer::error(500, "body", format!("the grade failed: {e}")))
        }
        (_, "/healthz" | "/metrics" | "/v1/tasks" | "/v1/grade" | "/v1/grade/batch") => {
            Answer::error(405, "method", format!("{} is not allowed on {path}", req.method()))
        }
        _ => Answer::error(404, "path", format!("no endpoint {path}")),
    }
}

/// The body as JSON: 413 over the limit (by Content-Length, or while reading), 400 when not JSON.
async fn read_json(req: Request<Incoming>, max: usize) -> Result<serde_json::Value, Answer> {
    let too_big = || Answer::error(413, "body", format!("body: over the limit of {max} bytes (--max-body)"));
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let mut body = req.into_body();
    if declared.is_some_and(|n| n > max as u64) {
        drain(&mut body).await;
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Answer::error(400, "body", format!("body: cannot be read: {e}")))?;
        if let Some(data) = frame.data_ref() {
            bytes.extend_from_slice(data);
        }
        if bytes.len() > max {
            drain(&mut body).await;
            return Err(too_big());
        }
    }
    serde_json::from_slice(&bytes).map_err(|e| Answer::error(400, "body", format!("body: not JSON: {e}")))
}

/// Bytes of a refused body read (and dropped) at most, and for how long.
const DRAIN_MAX: usize = 64 << 20;
const DRAIN_S: u64 = 10;

/// Read and drop the rest of a body that is refused (413), up to [`DRAIN_MAX`] bytes and
/// [`DRAIN_S`] seconds: a client still sending then reads the answer instead of a broken pipe.
async fn drain(body: &mut Incoming) {
    let all = async {
        let mut dropped = 0;
        while let Some(Ok(frame)) = body.frame().await {
            dropped += frame.data_ref().map_or(0, |d| d.len());
            if dropped > DRAIN_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(DRAIN_S), all).await;
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let (bytes, content_type) = match answer.body {
        Body::Json(v) => (serde_json::to_vec(&v).unwrap_or_default(), "application/json"),
        Body::Text(t) => (t.into_bytes(), "text/plain; version=0.0.4; charset=utf-8"),
    };
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(s) = answer.retry_after_s {
        headers.insert(RETRY_AFTER, HeaderValue::from(s));
    }
    if answer.status == 401 {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
