//! Helpers for the tests of `socratic serve`: the real binary started as a process on a free
//! loopback port, and plain HTTP requests to it (ureq).
#![allow(dead_code)]

use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `socratic serve`.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub token: String,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<String>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Server {
    /// `socratic --home HOME serve --addr 127.0.0.1:0 EXTRA...`, once it says where it listens.
    pub fn start(home: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_socratic"))
            .arg("--home")
            .arg(home)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start socratic serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                panic!("socratic serve did not say where it listens: {other:?}");
            }
        };
        let base = line.rsplit_once(" on ").map(|(_, url)| url.trim().to_string()).expect(&line);
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        let token = std::fs::read_to_string(home.join("serve.token")).unwrap().trim().to_string();
        Server { child: Some(child), base, token }
    }

    /// A request with the server's token (`Some("")`: no Authorization header; another string:
    /// that token).
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>, token: Option<&str>) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let token = token.unwrap_or(&self.token);
        let auth = format!("Bearer {token}");
        let result = match (method, body) {
            ("GET", _) => {
                let r = agent.get(&url);
                if token.is_empty() {
                    r.call()
                } else {
                    r.header("Authorization", &auth).call()
                }
            }
            (_, body) => {
                let r = agent.post(&url).header("Content-Type", "application/json");
                let r = if token.is_empty() { r } else { r.header("Authorization", &auth) };
                r.send(body.unwrap_or_default())
            }
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Reply { status, body, retry_after }
    }

    pub fn post_json(&self, path: &str, value: &Value) -> Reply {
        self.request("POST", path, Some(value.to_string().as_bytes()), None)
    }

    pub fn grade(&self, instance_id: &str, patch: &str) -> Reply {
        self.post_json("/v1/grade", &serde_json::json!({"instance_id": instance_id, "patch": patch}))
    }

    /// `/metrics` as name{labels} → value.
    pub fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        let reply = self.request("GET", "/metrics", None, None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        parse_metrics(&reply.body)
    }

    /// SIGTERM, then wait for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        // SAFETY: a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        for _ in 0..600 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!("socratic serve did not stop within 60 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The Prometheus text format parsed strictly: every sample line is `name[{labels}] number`
/// and follows a `# TYPE` line of its family.
pub fn parse_metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let mut families = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            families.insert(parts.next().unwrap().to_string());
            assert!(matches!(parts.next(), Some("counter" | "gauge" | "histogram")), "{line}");
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("sample without value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let family = name.split('{').next().unwrap();
        let base = ["_bucket", "_sum", "_count"].iter().fold(family, |f, s| f.strip_suffix(s).unwrap_or(f));
        assert!(families.contains(family) || families.contains(base), "no TYPE line for {line}");
        out.insert(name.to_string(), value);
    }
    out
}
