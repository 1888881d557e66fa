//! A warm worker: one long-lived container from an environment image, running our Python
//! runner (`runner.py`), fed requests over the exec's stdin, answering on its stdout.
//!
//! In: `RunRequest`s (a patch and the tests to run). Out: `RunResponse`s with one result per
//! test (`RunResponse::results`: node id → status, message, seconds, as the JUnit report of the
//! same run would say). The runner is one pytest session that has collected the suite; it forks
//! per request, so a candidate costs a fork and its selected tests, not a container, an
//! interpreter or a pytest session. A worker that stops answering is dropped (its container
//! removed) and the caller starts a new one.

use super::junit::node_id_from;
use super::{docker_err, Container, Engine, Limits, Result, SandboxError};
use crate::model::TestResult;
use crate::model::TestStatus;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// The runner script, copied into each worker container.
pub const RUNNER_PY: &str = include_str!("runner.py");
/// Where the repository lives inside environment images.
pub const REPO_DIR: &str = "/work/repo";
/// Where a worker's runner is written: the sealed container's tmpfs (the root is read-only).
const RUNNER_PATH: &str = "/tmp/socratic-runner/runner.py";

/// One candidate run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRequest {
    pub id: String,
    /// Unified diff to apply first; empty for the clean tree.
    pub patch: String,
    /// pytest node ids; empty runs the whole suite.
    pub tests: Vec<String>,
    pub timeout: f64,
    /// Leave the patch applied after the run, until the next request that does not keep
    /// (default: the tree is reset).
    pub keep: bool,
    /// Re-import the project's modules instead of swapping changed function code in place.
    pub cold: bool,
}

/// The runner's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct RunResponse {
    pub id: String,
    pub ok: bool,
    /// `apply` (patch failed), `timeout`, `crash` (the test process died before finishing),
    /// `done`, or `error`.
    pub stage: String,
    /// pytest's exit status (0 all passed, 1 some failed, 5 none selected), or -9 on timeout.
    pub exit: i64,
    /// One entry per test that reported (and per file that failed to collect).
    #[serde(default)]
    pub tests: Vec<RunTest>,
    #[serde(default)]
    pub ms: u64,
    #[serde(default)]
    pub detail: String,
    /// How the child brought its code up to date: `hot` (code swapped in place) or `cold`.
    #[serde(default)]
    pub mode: String,
    /// Where the runner's time went, ms: `apply` (patch written, swap planned), `child_start`
    /// (fork to the first test), `tests` and `tests_cpu` (the tests, wall and CPU), `run` (fork
    /// to results read), `reset` (tree restored).
    #[serde(default)]
    pub phases: BTreeMap<String, f64>,
}

/// One test as the runner reports it: pytest's node id, the JUnit `classname` / `name` /
/// `file` of the same test, and its outcome.
#[derive(Debug, Clone, Deserialize)]
pub struct RunTest {
    pub nodeid: String,
    #[serde(default)]
    pub classname: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub file: String,
    /// `passed`, `failed`, `error`, `skipped` or `xfail`.
    pub status: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub seconds: f64,
}

impl RunResponse {
    /// Node id (as the environment's clean JUnit run names it) → result.
    pub fn results(&self) -> BTreeMap<String, TestResult> {
        self.tests
            .iter()
            .map(|t| {
                let status = match t.status.as_str() {
                    "passed" => TestStatus::Passed,
                    "failed" => TestStatus::Failed,
                    "skipped" => TestStatus::Skipped,
                    "xfail" => TestStatus::XFail,
                    _ => TestStatus::Error,
                };
                let id = if t.name.is_empty() {
                    t.nodeid.clone()
                } else {
                    node_id_from(&t.classname, &t.name, Some(&t.file))
                };
                (id, TestResult { status, message: t.message.clone(), seconds: t.seconds })
            })
            .collect()
    }
}

type Output = Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A container with a running runner process.
pub struct Worker {
    container: Option<Container>,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    pending: String,
}

/// A tar archive holding one file; `path` is relative to where the archive is unpacked (a
/// leading `/` is dropped).
pub fn tar_one_file(path: &str, contents: &[u8], mode: u32) -> Result<Vec<u8>> {
    let archive_err = |e: std::io::Error| SandboxError::Other(format!("archiving {path}: {e}"));
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(mode);
    header.set_cksum();
    builder.append_data(&mut header, path.trim_start_matches('/'), contents).map_err(archive_err)?;
    builder.into_inner().map_err(archive_err)
}

impl Worker {
    /// Start a container from `image` with `limits` and the runner inside it, and wait until
    /// the runner says it is ready.
    pub async fn start(engine: &Engine, image: &str, limits: &Limits, run_env: &[String]) -> Result<Worker> {
        let container = engine.start_container(image, limits, &[]).await?;
        container.write_file(RUNNER_PATH, RUNNER_PY.as_bytes(), 60).await?;
        let exec = engine
            .docker()
            .create_exec(
                &container.id,
                CreateExecOptions {
                    cmd: Some(vec!["python3".to_string(), "-u".to_string(), RUNNER_PATH.to_string()]),
                    env: Some(
                        [
                            vec![format!("SOCRATIC_REPO={REPO_DIR}"), "PYTHONDONTWRITEBYTECODE=1".to_string()],
                            run_env.to_vec(),
                        ]
                        .concat(),
                    ),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    working_dir: Some(REPO_DIR.to_string()),
                    ..Default::default()
                },
            )
            .await
            .map_err(docker_err("create runner exec"))?;
        let StartExecResults::Attached { output, input } =
            engine.docker().start_exec(&exec.id, None).await.map_err(docker_err("start runner"))?
        else {
            return Err(SandboxError::Other("runner exec started detached".into()));
        };
        let mut worker = Worker { container: Some(container), input, output, pending: String::new() };
        let ready = tokio::time::timeout(Duration::from_secs(60), worker.next_line())
            .await
            .map_err(|_| SandboxError::Timeout { op: "runner start".into(), secs: 60 })??;
        if !ready.contains("\"ready\"") {
            return Err(SandboxError::Other(format!("runner did not start: {ready}")));
        }
        Ok(worker)
    }

    /// Send one request and wait for its answer (the runner enforces `timeout`; this call
    /// gives up `timeout + 30 s` later and the worker should then be discarded).
    pub async fn run(&mut self, request: &RunRequest) -> Result<RunResponse> {
        let mut line = serde_json::to_string(request).map_err(|e| SandboxError::Other(e.to_string()))?;
        line.push('\n');
        self.input.write_all(line.as_bytes()).await.map_err(|e| SandboxError::Other(format!("runner stdin: {e}")))?;
        self.input.flush().await.map_err(|e| SandboxError::Other(format!("runner stdin: {e}")))?;
        let limit = request.timeout as u64 + 30;
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(limit), self.next_line())
            .await
            .map_err(|_| SandboxError::Timeout { op: format!("candidate {}", request.id), secs: limit })??;
        let response: RunResponse = serde_json::from_str(&answer)
            .map_err(|e| SandboxError::Other(format!("runner answered {answer:.200}: {e}")))?;
        tracing::debug!(
            target: "socratic::runner",
            "{}: {} tests, {} {}, runner {} ms {:?}, round trip {} ms",
            request.id,
            request.tests.len(),
            response.stage,
            response.mode,
            response.ms,
            response.phases,
            started.elapsed().as_millis()
        );
        Ok(response)
    }

    /// The next full line on the runner's stdout (stderr is logged).
    async fn next_line(&mut self) -> Result<String> {
        loop {
            if let Some(pos) = self.pending.find('\n') {
                let line: String = self.pending.drain(..=pos).collect();
                let line = line.trim().to_string();
                if line.starts_with('{') {
                    return Ok(line);
                }
                continue;
            }
            match self.output.next().await {
                Some(Ok(LogOutput::StdOut { message })) => self.pending.push_str(&String::from_utf8_lossy(&message)),
                Some(Ok(LogOutput::StdErr { message })) => {
                    tracing::debug!(target: "socratic::runner", "{}", String::from_utf8_lossy(&message));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(SandboxError::Docker { op: "read runner".into(), source: e }),
                None => return Err(SandboxError::Other("runner exited".into())),
            }
        }
    }

    /// The container's peak memory use in bytes (cgroup v2 `memory.peak`, else v1
    /// `memory.max_usage_in_bytes`; page cache included), if the kernel reports it.
    pub async fn memory_peak(&mut self) -> Option<u64> {
        let container = self.container.as_ref()?;
        let script =
            "cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes";
        let out = container.exec(&["sh", "-c", script], 10).await.ok()?;
        out.stdout.trim().parse().ok()
    }

    /// The id of the worker's container (while it has one).
    pub fn container_id(&self) -> Option<&str> {
        self.container.as_ref().map(|c| c.id.as_str())
    }

    /// Stop the runner and remove the container.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.input.shutdown().await;
        match self.container.take() {
            Some(c) => c.remove().await,
            None => Ok(()),
        }
    }
}
