//! Timing the language server: `socratic bench lsp`.
//!
//! In: a git repository, a scratch home, counts. Out: [`LspBench`]: didOpen → diagnostics
//! latency over an in-memory pipe, re-anchoring per didChange on a ~2,000-line document (the
//! document alone, and end to end until the diagnostics of that version arrive), and the
//! resident memory of an idle daemon.

use super::document::Document;
use super::state::Shared;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Serialize)]
pub struct LspBench {
    pub tasks: usize,
    pub file: String,
    pub file_tasks: usize,
    pub opens: usize,
    /// didOpen → publishDiagnostics, microseconds.
    pub open_to_diagnostics_us: Vec<f64>,
    pub edit_doc_lines: usize,
    pub edit_doc_anchors: usize,
    pub edits: usize,
    /// `Document::apply` (incremental re-parse, anchors moved), microseconds.
    pub reanchor_us: Vec<f64>,
    /// didChange → publishDiagnostics of that version, microseconds.
    pub change_to_diagnostics_us: Vec<f64>,
    /// Resident memory of an idle daemon, KiB (`None` where /proc is missing).
    pub daemon_idle_rss_kib: Option<u64>,
}

struct Pipe {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    read: tokio::io::ReadHalf<tokio::io::DuplexStream>,
    buf: Vec<u8>,
}

impl Pipe {
    async fn send(&mut self, msg: Value) -> anyhow::Result<()> {
        let body = msg.to_string();
        self.write.write_all(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).await?;
        Ok(())
    }

    async fn next(&mut self) -> anyhow::Result<Value> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let header = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let len: usize = header
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    let body: Vec<u8> = self.buf.drain(..end + 4 + len).skip(end + 4).collect();
                    let msg: Value = serde_json::from_slice(&body)?;
                    if msg.get("id").is_some() && msg.get("method").is_some() {
                        self.send(json!({"jsonrpc": "2.0", "id": msg["id"], "result": null})).await?;
                    }
                    return Ok(msg);
                }
            }
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout(Duration::from_secs(30), self.read.read(&mut chunk)).await??;
            anyhow::ensure!(n > 0, "the server closed the pipe");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        loop {
            let m = self.next().await?;
            if pred(&m) {
                return Ok(m);
            }
        }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Run the benchmark on the repository at `repo`, with its tasks stored in `home`.
pub async fn run(repo: &Path, home: &Path, opens: usize, edits: usize) -> anyhow::Result<LspBench> {
    let root = super::state::canonical(&crate::anchor::repo_root(repo)?);
    let shared = Shared::open(home)?;
    if shared.task_count()? == 0 {
        let s = shared.clone();
        let r = root.clone();
        tokio::task::spawn_blocking(move || s.generate(&r, None, &Default::default())).await??;
    }
    let all = shared.tasks_of_root(Some(&root))?;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (_, t) in &all {
        *counts.entry(t.site.file.as_str()).or_default() += 1;
    }
    let (file, file_tasks) = counts
        .iter()
        .max_by_key(|(f, n)| (**n, std::cmp::Reverse(**f)))
        .map(|(f, n)| (f.to_string(), *n))
        .ok_or_else(|| anyhow::anyhow!("no tasks in {}", repo.display()))?;
    let text = std::fs::read_to_string(root.join(&file))?;

    // the server on an in-memory pipe
    let (client, server) = tokio::io::duplex(1 << 22);
    let (sr, sw) = tokio::io::split(server);
    tokio::spawn(super::serve(sr, sw, shared.clone()));
    let (read, write) = tokio::io::split(client);
    let mut pipe = Pipe { write, read, buf: Vec::new() };
    let root_uri = format!("file://{}", root.display());
    pipe.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": root_uri, "capabilities": {}, "initializationOptions": {"diagnostics": {"show": "all", "perFunction": 0}}}})).await?;
    pipe.until(|m| m["id"] == 1).await?;
    pipe.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await?;
    let uri = format!("file://{}", root.join(&file).display());
    let diag_of = |version: Option<i64>| {
        let uri = uri.clone();
        move |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri.as_str()
                && version.is_none_or(|v| m["params"]["version"] == v)
        }
    };

    let mut open_times = Vec::new();
    for i in 0..opens {
        let started = Instant::now();
        pipe.send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "python", "version": i, "text": text}}})).await?;
        pipe.until(diag_of(Some(i as i64))).await?;
        open_times.push(started.elapsed());
        pipe.send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": uri}}}),
        )
        .await?;
        pipe.until(diag_of(None)).await?;
    }

    // a ~2,000-line document: the file followed by copies of itself
    let mut big = text.clone();
    while big.lines().count() < 2000 {
        big.push_str("\n\n");
        big.push_str(&text);
    }
    let tasks = shared.tasks_in(&root, &file);
    let mut doc = Document::open(&file, 0, big.clone(), &tasks, &|t| shared.site_text(&root, t), &shared.queries)
        .map_err(anyhow::Error::msg)?;
    let mut reanchor = Vec::new();
    for i in 0..edits {
        let started = Instant::now();
        if i % 2 == 0 {
            doc.apply(0, 0, "# x\n").map_err(anyhow::Error::msg)?;
        } else {
            doc.apply(0, 4, "").map_err(anyhow::Error::msg)?;
        }
        reanchor.push(started.elapsed());
    }
    let mut change_times = Vec::new();
    pipe.send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": big}}})).await?;
    pipe.until(diag_of(Some(0))).await?;
    for i in 1..=edits {
        let change = if i % 2 == 1 {
            json!({"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# x\n"})
        } else {
            json!({"range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}, "text": ""})
        };
        let started = Instant::now();
        pipe.send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": i}, "contentChanges": [change]}})).await?;
        pipe.until(diag_of(Some(i as i64))).await?;
        change_times.push(started.elapsed());
    }

    Ok(LspBench {
        tasks: all.len(),
        file,
        file_tasks,
        opens,
        open_to_diagnostics_us: open_times.into_iter().map(us).collect(),
        edit_doc_lines: doc.text().lines().count(),
        edit_doc_anchors: doc.anchors.len(),
        edits,
        reanchor_us: reanchor.into_iter().map(us).collect(),
        change_to_diagnostics_us: change_times.into_iter().map(us).collect(),
        daemon_idle_rss_kib: None,
    })
}

/// Start a daemon on `home` (this binary), let it settle, read its resident memory, stop it.
pub async fn daemon_idle_rss(home: &Path) -> anyhow::Result<Option<u64>> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--home")
        .arg(home)
        .arg("daemon")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let mut answered = false;
    for _ in 0..100 {
        if super::daemon::control(home, "status").await.is_some() {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status")).ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
    });
    let _ = super::daemon::control(home, "stop").await;
    if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
    anyhow::ensure!(answered, "the daemon did not answer");
    Ok(rss)
}
