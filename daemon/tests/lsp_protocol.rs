//! The language server over an in-memory pipe: a real git repository (a copy of the example
//! library), tasks generated and stored, then LSP messages in and JSON values compared. Command
//! results are read back into the protocol's types (`socratic::lsp::protocol`), which must
//! serialize to exactly the JSON received.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use socratic::lsp::protocol::{self, RoundSummary, StatusChanged, TaskList, TaskPatch};
use socratic::model::{AnchorState, Decision, Round, RoundInputs, RoundStep, TaskStage, Verdict};
use socratic::store::Store;
use socratic::tasks::{generate, GenerateConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

mod common;
use common::{commit_all, copy_dir};

fn example_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/example_repo")
}

/// A committed copy of the example repository and a home whose store holds its tasks.
pub struct Fixture {
    pub repo: tempfile::TempDir,
    pub home: tempfile::TempDir,
    /// The file with the most tasks, relative, and its tasks.
    pub file: String,
}

impl Fixture {
    fn new() -> Fixture {
        let repo = tempfile::tempdir().expect("tempdir");
        let home = tempfile::tempdir().expect("tempdir");
        copy_dir(&example_repo(), repo.path());
        commit_all(repo.path());
        let (mut tasks, _) =
            generate(repo.path(), &GenerateConfig { budget: 60, ..Default::default() }).expect("generate");
        assert!(!tasks.is_empty());
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for t in &tasks {
            *counts.entry(t.site.file.clone()).or_default() += 1;
        }
        let file = counts
            .iter()
            .max_by_key(|(f, n)| (**n, std::cmp::Reverse((*f).clone())))
            .map(|(f, _)| f.clone())
            .expect("a file");
        // one task of that file is validated already: it shows as Information
        if let Some(t) = tasks.iter_mut().find(|t| t.site.file == file) {
            t.stage = TaskStage::Valid;
        }
        Store::open(home.path()).expect("store").insert_tasks(&tasks).expect("insert");
        Fixture { repo, home, file }
    }

    fn root(&self) -> PathBuf {
        self.repo.path().canonicalize().expect("canonical")
    }

    fn uri(&self, rel: &str) -> String {
        format!("file://{}", self.root().join(rel).display())
    }

    fn store(&self) -> Store {
        Store::open(self.home.path()).expect("store")
    }
}

/// The result of a command answer as the protocol type `T`, which serializes back to the same
/// JSON (no field missing, renamed or extra).
fn result_as<T: DeserializeOwned + Serialize>(answer: &Value) -> T {
    let result = &answer["result"];
    let parsed: T = serde_json::from_value(result.clone()).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(&serde_json::to_value(&parsed).expect("json"), result, "the result is the protocol type");
    parsed
}

/// A client speaking LSP over a duplex pipe to an in-process server.
pub struct Client {
    write: tokio::io::WriteHalf<DuplexStream>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Notifications seen while waiting for something else.
    pub seen: Vec<Value>,
    next_id: i64,
}

async fn read_frames(mut read: tokio::io::ReadHalf<DuplexStream>, tx: mpsc::UnboundedSender<Value>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let header = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = header
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length:").map(|v| v.trim().parse().expect("length")))
                .expect("content length");
            if buf.len() < end + 4 + len {
                break;
            }
            let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
            let _ = tx.send(serde_json::from_slice(&body).expect("json from server"));
        }
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Client {
    pub fn start(home: &Path) -> Client {
        let shared = socratic::lsp::state::Shared::open(home).expect("shared");
        let (client_end, server_end) = tokio::io::duplex(1 << 20);
        let (sr, sw) = tokio::io::split(server_end);
        tokio::spawn(socratic::lsp::serve(sr, sw, shared));
        let (read, write) = tokio::io::split(client_end);
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(read, tx));
        Client { write, incoming, seen: Vec::new(), next_id: 1 }
    }

    pub async fn raw(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).await.expect("write");
    }

    async fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        self.raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).await;
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params})).await;
    }

    async fn next(&mut self) -> Value {
        let msg = tokio::time::timeout(Duration::from_secs(30), self.incoming.recv())
            .await
            .expect("a message within 30 s")
            .expect("server open");
        // answer the server's own requests (progress tokens, ...)
        if msg.get("id").is_some() && msg.get("method").is_some() {
            let id = msg["id"].clone();
            self.send(json!({"jsonrpc": "2.0", "id": id, "result": null})).await;
        }
        msg
    }

    /// A request's whole response (`result` or `error`).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        loop {
            let msg = self.next().await;
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return msg;
            }
            self.seen.push(msg);
        }
    }

    /// The response to request `id` sent by hand (`raw`).
    pub async fn answer(&mut self, id: Value) -> Value {
        loop {
            let msg = self.next().await;
            if msg.get("id") == Some(&id) && msg.get("method").is_none() {
                return msg;
            }
            self.seen.push(msg);
        }
    }

    /// The next notification `method` whose params satisfy `pred` (earlier ones included).
    pub async fn wait_for(&mut self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(|m| m["method"] == method && pred(&m["params"])) {
            return self.seen.remove(i)["params"].clone();
        }
        loop {
            let msg = self.next().await;
            if msg["method"] == method && pred(&msg["params"]) {
                return msg["params"].clone();
            }
            self.seen.push(msg);
        }
    }

    pub async fn initialize(&mut self, root: &Path) -> Value {
        let uri = format!("file://{}", root.display());
        let r = self
            .request(
                "initialize",
                json!({"processId": null, "rootUri": uri, "capabilities": {"window": {"workDoneProgress": true}},
                       "workspaceFolders": [{"uri": uri, "name": "repo"}]}),
            )
            .await;
        self.notify("initialized", json!({})).await;
        r
    }

    pub async fn open(&mut self, uri: &str, text: &str) -> Value {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
        )
        .await;
        self.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri).await
    }
}

fn diags(published: &Value) -> Vec<Value> {
    published["diagnostics"].as_array().cloned().unwrap_or_default()
}

fn by_id<'a>(ds: &'a [Value], id: &str) -> &'a Value {
    ds.iter().find(|d| d["data"] == id).unwrap_or_else(|| panic!("no diagnostic for {id} in {ds:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_hover_actions_and_commands() {
    let fx = Fixture::new();
    let tasks: Vec<_> = fx.store().tasks().expect("tasks").into_iter().filter(|t| t.site.file == fx.file).collect();
    let mut c = Client::start(fx.home.path());
    let init = c.initialize(&fx.root()).await;
    assert_eq!(init["result"]["capabilities"]["textDocumentSync"]["change"], 2, "{init}");
    let commands = &init["result"]["capabilities"]["executeCommandProvider"]["commands"];
    assert!(commands.as_array().expect("commands").contains(&json!("socratic.accept")));

    let uri = fx.uri(&fx.file);
    let text = std::fs::read_to_string(fx.root().join(&fx.file)).expect("read");
    let published = c.open(&uri, &text).await;
    let ds = diags(&published);
    assert_eq!(ds.len(), tasks.len(), "one diagnostic per task of {}", fx.file);
    for t in &tasks {
        let d = by_id(&ds, &t.id);
        assert_eq!(d["source"], "socratic");
        assert_eq!(d["code"], json!(t.operator));
        let want = if t.stage == TaskStage::Valid { 3 } else { 4 };
        assert_eq!(d["severity"], want, "{d}");
        assert_eq!(d["range"]["start"]["line"], json!(t.site.start_line), "{d}");
        assert_eq!(d["range"]["start"]["character"], json!(t.site.start_col), "{d}");
    }
    assert!(ds.iter().any(|d| d["severity"] == 3));

    // hover on a site
    let task = tasks.iter().find(|t| t.stage == TaskStage::Candidate).expect("a candidate");
    let hover = c
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": task.site.start_line, "character": task.site.start_col}}))
        .await;
    let value = hover["result"]["contents"]["value"].as_str().expect("markdown").to_string();
    assert!(value.contains(&task.id) && value.contains(&task.operator) && value.contains("verdict"), "{value}");

    // code actions for its diagnostic
    let d = by_id(&ds, &task.id).clone();
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}),
        )
        .await;
    let cmds: Vec<&str> = actions["result"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["command"]["command"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(cmds, ["socratic.accept", "socratic.reject", "socratic.startAttempt", "socratic.showPatch"]);
    let patch =
        c.request("workspace/executeCommand", json!({"command": "socratic.showPatch", "arguments": [task.id]})).await;
    assert_eq!(result_as::<TaskPatch>(&patch).patch, task.bug_patch);

    // accept: the store changes and the diagnostic is re-published as accepted
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.accept", "arguments": [task.id]})).await;
    assert_eq!(
        result_as::<StatusChanged>(&r),
        StatusChanged {
            id: task.id.clone(),
            status: "accepted".into(),
            stage: "candidate".into(),
            decision: Decision::Accepted
        }
    );
    assert_eq!(fx.store().task(&task.id).expect("store").expect("task").decision, Decision::Accepted);
    let id = task.id.clone();
    let again = c
        .wait_for("textDocument/publishDiagnostics", |p| {
            p["diagnostics"].as_array().is_some_and(|ds| {
                ds.iter().any(|d| d["data"] == id && d["message"].as_str().unwrap_or("").starts_with("[accepted]"))
            })
        })
        .await;
    assert_eq!(by_id(&diags(&again), &task.id)["severity"], 3);

    // reject another: it disappears
    let other = tasks.iter().find(|t| t.id != task.id && t.stage == TaskStage::Candidate).expect("another");
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.reject", "arguments": [other.id]})).await;
    assert_eq!(r["result"]["status"], "rejected");
    let oid = other.id.clone();
    c.wait_for("textDocument/publishDiagnostics", |p| {
        p["diagnostics"].as_array().is_some_and(|ds| !ds.is_empty() && !ds.iter().any(|d| d["data"] == oid))
    })
    .await;

    // close: empty list
    c.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}})).await;
    c.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri.as_str() && p["diagnostics"] == json!([])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_follow_edits_and_deleted_sites_go_stale() {
    let fx = Fixture::new();
    let tasks: Vec<_> = fx.store().tasks().expect("tasks").into_iter().filter(|t| t.site.file == fx.file).collect();
    // the task whose site will be deleted was accepted into the curriculum
    let victim_decision = Decision::Accepted;
    let last = tasks.iter().max_by_key(|t| t.site.start_byte).expect("task");
    fx.store().set_decision(&last.id, victim_decision).expect("accept");
    let mut c = Client::start(fx.home.path());
    c.initialize(&fx.root()).await;
    let uri = fx.uri(&fx.file);
    let text = std::fs::read_to_string(fx.root().join(&fx.file)).expect("read");
    c.open(&uri, &text).await;

    // insert two lines at the top: every diagnostic moves down by two
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# one\n# two\n"}]}),
    )
    .await;
    let moved = c.wait_for("textDocument/publishDiagnostics", |p| p["version"] == 2).await;
    let ds = diags(&moved);
    assert_eq!(ds.len(), tasks.len());
    for t in &tasks {
        let d = by_id(&ds, &t.id);
        assert_eq!(d["range"]["start"]["line"], json!(t.site.start_line + 2), "{d}");
        assert!(!d["message"].as_str().unwrap_or("").starts_with("[stale]"), "{d}");
    }

    // delete the text of one site (moved down by two lines): it is stale, not dropped
    let victim = tasks.iter().max_by_key(|t| t.site.start_byte).expect("task");
    let (sl, sc, el, ec) =
        (victim.site.start_line + 2, victim.site.start_col, victim.site.end_line + 2, victim.site.end_col);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3},
               "contentChanges": [{"range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}, "text": ""}]}),
    )
    .await;
    let after = c.wait_for("textDocument/publishDiagnostics", |p| p["version"] == 3).await;
    let after_ds = diags(&after);
    let d = by_id(&after_ds, &victim.id);
    assert!(d["message"].as_str().unwrap_or("").starts_with("[stale]"), "{d}");
    assert_eq!(d["severity"], 4);
    // ... and in the store
    let mut stored = None;
    for _ in 0..50 {
        stored = fx.store().task(&victim.id).expect("store");
        if stored.as_ref().is_some_and(|t| t.anchor == AnchorState::Stale) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = stored.expect("task");
    assert_eq!(stored.anchor, AnchorState::Stale);
    assert_eq!(stored.decision, victim_decision, "an edit never changes the user's decision");
    // a task above the deletion kept its place
    let first = tasks
        .iter()
        .filter(|t| t.id != victim.id && t.site.end_byte <= victim.site.start_byte)
        .min_by_key(|t| t.site.start_byte);
    if let Some(t) = first {
        let d = by_id(&after_ds, &t.id);
        assert_eq!(d["range"]["start"]["line"], json!(t.site.start_line + 2));
        assert!(!d["message"].as_str().unwrap_or("").starts_with("[stale]"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_bad_params_do_not_kill_the_server() {
    let fx = Fixture::new();
    let mut c = Client::start(fx.home.path());
    // before initialize: requests are refused, not fatal
    let early = c
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": 0}}),
        )
        .await;
    assert!(early.get("error").is_some(), "{early}");
    c.initialize(&fx.root()).await;
    // garbage frames
    c.raw(b"Content-Length: 5\r\n\r\nhello").await;
    c.raw(b"Content-Length: 12\r\n\r\n{\"jsonrpc\":1").await;
    c.raw(b"this is not a header at all\r\n\r\n").await;
    c.raw(b"Content-Length: 30\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":7}  ").await;
    // bad params
    let r = c.request("textDocument/hover", json!({"nonsense": true})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let uri = fx.uri(&fx.file);
    let text = std::fs::read_to_string(fx.root().join(&fx.file)).expect("read");
    c.open(&uri, &text).await;
    let r = c
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": 99999, "character": 0}}),
        )
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.accept", "arguments": [42]})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap_or("").contains("socratic.accept: argument 1 is not a task id"),
        "{r}"
    );
    // each command names its bad argument
    for (command, args, says) in [
        ("socratic.accept", json!([]), "socratic.accept expects a task id"),
        ("socratic.showPatch", json!(["a", "b"]), "socratic.showPatch takes one argument"),
        ("socratic.generate", json!([7]), "socratic.generate: argument 1 is not a document URI"),
        ("socratic.round", json!([{"budgte": 3}]), "unknown field `budgte`"),
        ("socratic.startAttempt", json!([{"task": "x"}]), "socratic.startAttempt: argument 1 is not a task id"),
        ("socratic.finishAttempt", json!([7]), "socratic.finishAttempt: argument 1 is not an attempt id"),
        ("socratic.finishAttempt", json!([]), "socratic.finishAttempt: no attempt is running in this editor"),
        ("socratic.attemptRunTests", json!(["t-1-1"]), "no attempt 't-1-1' is running"),
        ("socratic.abandonAttempt", json!([{"attemptId": ""}]), "the attempt id is empty"),
        ("socratic.tasks", json!([{"all": "yes"}]), "socratic.tasks: argument 1 is not task list options"),
        ("socratic.evolve", json!([{"rouns": 2}]), "unknown field `rouns`"),
        ("socratic.evolve", json!([{"rounds": 0}]), "socratic.evolve: --rounds must be at least 1"),
    ] {
        let r = c.request("workspace/executeCommand", json!({"command": command, "arguments": args})).await;
        assert_eq!(r["error"]["code"], -32602, "{command}: {r}");
        assert!(r["error"]["message"].as_str().unwrap_or("").contains(says), "{command}: {r}");
    }
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.accept", "arguments": ["t-nope"]})).await;
    assert!(r.get("error").is_some(), "{r}");
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.nothing"})).await;
    assert!(r.get("error").is_some(), "{r}");
    c.notify("socratic/recordEvent", json!({"kind": 12})).await;
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 9},
               "contentChanges": [{"range": {"start": {"line": 5000, "character": 0}, "end": {"line": 5001, "character": 0}}, "text": "x"}]}),
    )
    .await;
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///nowhere.py", "version": 1}, "contentChanges": [{"text": "x"}]}),
    )
    .await;
    // still alive and answering
    let r = c
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}))
        .await;
    assert!(r.get("result").is_some(), "{r}");
    let r = c.request("shutdown", Value::Null).await;
    assert!(r.get("result").is_some(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_never_ends_closes_its_connection_only() {
    let fx = Fixture::new();
    let mut hostile = Client::start(fx.home.path());
    hostile.initialize(&fx.root()).await;
    let started = std::time::Instant::now();
    hostile.raw(b"Content-Length: 5\r\n").await;
    let chunk = vec![b'a'; 64 << 10];
    let mut written = 0usize;
    // 64 MiB of header: the server must stop reading long before (and not spend minutes on it)
    let writing = async {
        while written < 64 << 20 {
            if hostile.write.write_all(&chunk).await.is_err() {
                break;
            }
            written += chunk.len();
        }
    };
    tokio::time::timeout(Duration::from_secs(10), writing).await.expect("the server closed the connection in 10 s");
    // what the pipe holds (1 MiB) plus what the server read before it closed
    assert!(written < 2 << 20, "the server read {written} bytes of one header");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // a new session on the same home still answers
    let mut c = Client::start(fx.home.path());
    c.initialize(&fx.root()).await;
    let uri = fx.uri(&fx.file);
    let text = std::fs::read_to_string(fx.root().join(&fx.file)).expect("read");
    c.open(&uri, &text).await;
    let r = c
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}))
        .await;
    assert!(r.get("result").is_some(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_with_an_id_gets_one_answer() {
    let fx = Fixture::new();
    let mut c = Client::start(fx.home.path());
    c.initialize(&fx.root()).await;
    let uri = fx.uri(&fx.file);
    let frame = |body: &[u8]| {
        let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out
    };
    // a hover whose URI is invalid UTF-8
    let mut hover =
        format!(r#"{{"jsonrpc":"2.0","id":101,"method":"textDocument/hover","params":{{"textDocument":{{"uri":"{uri}"#)
            .into_bytes();
    hover.extend([0xff, 0xfe]);
    hover.extend(br#""},"position":{"line":0,"character":0}}}"#);
    c.raw(&frame(&hover)).await;
    let r = c.answer(json!(101)).await;
    assert_eq!(r["error"]["code"], -32700, "{r}");
    // requests on $/ methods
    c.raw(&frame(br#"{"jsonrpc":"2.0","id":102,"method":"$/cancelRequest","params":{"id":1}}"#)).await;
    let r = c.answer(json!(102)).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
    c.raw(&frame(br#"{"jsonrpc":"2.0","id":"x103","method":"$/setTrace","params":{"value":"off"}}"#)).await;
    let r = c.answer(json!("x103")).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
    // a request nested 100,000 deep
    let depth = 100_000;
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":104,"method":"textDocument/hover","params":{{"textDocument":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    c.raw(&frame(deep.as_bytes())).await;
    let r = c.answer(json!(104)).await;
    assert_eq!(r["error"]["code"], -32700, "{r}");
    // exactly one answer each: the next request's answer is the next response
    let r = c
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}))
        .await;
    assert!(r.get("result").is_some(), "{r}");
    let answers: Vec<&Value> = c.seen.iter().filter(|m| m.get("id").is_some() && m.get("method").is_none()).collect();
    assert!(answers.is_empty(), "answers nobody asked for: {answers:?}");
}

/// A task of the fixture's file made attemptable without a container: FAIL_TO_PASS set and an
/// environment recorded whose image does not exist.
fn attemptable(fx: &Fixture) -> socratic::model::Task {
    let mut store = fx.store();
    let mut task = store.tasks().expect("tasks").into_iter().find(|t| t.site.file == fx.file).expect("task");
    task.fail_to_pass = vec!["tests/test_ledger.py::test_nothing".into()];
    store.update_task(&task).expect("update");
    let env: socratic::model::Environment = serde_json::from_value(json!({
        "repo": task.repo, "head": task.base_commit, "image": "socratic-env-none:gone", "base_image": "b",
        "install_commands": [], "clean": {}, "coverage": {}, "build_ms": 1
    }))
    .expect("an environment");
    store.save_environment(&env).expect("environment");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_is_a_scratch_checkout_of_the_bug_whose_edits_are_recorded() {
    let fx = Fixture::new();
    let mut c = Client::start(fx.home.path());
    c.initialize(&fx.root()).await;
    // a candidate without tests is refused, naming what to run
    let candidate =
        fx.store().tasks().expect("tasks").into_iter().find(|t| t.fail_to_pass.is_empty()).expect("a candidate");
    let r = c
        .request("workspace/executeCommand", json!({"command": "socratic.startAttempt", "arguments": [candidate.id]}))
        .await;
    assert!(r["error"]["message"].as_str().unwrap_or("").contains("socratic tasks validate"), "{r}");
    let r = c
        .request("workspace/executeCommand", json!({"command": "socratic.startAttempt", "arguments": ["t-nope"]}))
        .await;
    assert!(r["error"]["message"].as_str().unwrap_or("").contains("no task 't-nope'"), "{r}");

    let task = attemptable(&fx);
    let r = c
        .request("workspace/executeCommand", json!({"command": "socratic.startAttempt", "arguments": [task.id]}))
        .await;
    let started = result_as::<protocol::AttemptStarted>(&r);
    assert_eq!(started.id, task.id);
    assert_eq!(started.fail_to_pass, task.fail_to_pass);
    let root = PathBuf::from(&started.root);
    assert!(root.starts_with(fx.home.path().canonicalize().expect("home")), "under the home: {}", root.display());
    assert_eq!(started.file, format!("file://{}", root.join(&task.site.file).display()));
    // the checkout holds the bug at the range, and one commit: no history with the fix
    let bugged = std::fs::read_to_string(root.join(&task.site.file)).expect("read");
    let clean = std::fs::read_to_string(fx.root().join(&task.site.file)).expect("read");
    assert_ne!(bugged, clean);
    let added: Vec<&str> =
        task.bug_patch.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).map(|l| &l[1..]).collect();
    let lines: Vec<&str> = bugged.lines().collect();
    let shown = &lines[started.range.start.line as usize..=started.range.end.line as usize];
    for line in &added {
        assert!(shown.contains(line), "{line:?} is in the range {shown:?}");
    }
    let git = git2::Repository::open(&root).expect("a repository");
    let mut walk = git.revwalk().expect("revwalk");
    walk.push_head().expect("head");
    assert_eq!(walk.count(), 1, "one commit");
    // a second attempt in the same editor is refused
    let r = c
        .request("workspace/executeCommand", json!({"command": "socratic.startAttempt", "arguments": [task.id]}))
        .await;
    assert!(r["error"]["message"].as_str().unwrap_or("").contains("is running in this editor"), "{r}");

    // documents under the checkout are recorded, not indexed (no task diagnostics there)
    let uri = started.file.clone();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": bugged}}),
    )
    .await;
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# fixed\n"}]}),
    )
    .await;
    std::fs::write(root.join(&task.site.file), format!("# fixed\n{bugged}")).expect("write");
    c.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}})).await;
    c.notify(
        "socratic/recordEvent",
        json!({"kind": "message", "text": "token sk-abcdefghijklmnopqrstuvwxyz0123456789"}),
    )
    .await;
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.tasks"})).await;
    assert_eq!(result_as::<TaskList>(&r).attempt.as_deref(), Some(task.id.as_str()));
    let shown_there =
        c.seen.iter().filter(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri);
    assert_eq!(shown_there.count(), 0, "no task diagnostics in the checkout");

    // no environment image: the tests cannot run, finishing fails and the attempt stays
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.attemptRunTests"})).await;
    assert!(r["error"]["message"].as_str().unwrap_or("").contains("socratic env build"), "{r}");
    let r = c
        .request(
            "workspace/executeCommand",
            json!({"command": "socratic.finishAttempt", "arguments": [started.attempt_id]}),
        )
        .await;
    assert!(r["error"]["message"].as_str().unwrap_or("").contains("still running"), "{r}");
    assert!(fx.store().traces().expect("traces").is_empty(), "nothing stored");
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.abandonAttempt"})).await;
    let abandoned = result_as::<protocol::AttemptAbandoned>(&r);
    assert_eq!((abandoned.id.as_str(), abandoned.attempt_id.as_str()), (task.id.as_str(), started.attempt_id.as_str()));
    assert!(!root.exists(), "the checkout is gone");
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.abandonAttempt"})).await;
    assert!(r.get("error").is_some(), "no attempt left: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_are_found_again_when_the_file_differs_from_the_commit() {
    let fx = Fixture::new();
    let tasks: Vec<_> = fx.store().tasks().expect("tasks").into_iter().filter(|t| t.site.file == fx.file).collect();
    let mut c = Client::start(fx.home.path());
    c.initialize(&fx.root()).await;
    let uri = fx.uri(&fx.file);
    let text = std::fs::read_to_string(fx.root().join(&fx.file)).expect("read");
    let published = c.open(&uri, &format!("import os\nimport sys\n\n{text}")).await;
    let ds = diags(&published);
    assert_eq!(ds.len(), tasks.len());
    for t in &tasks {
        let d = by_id(&ds, &t.id);
        assert_eq!(d["range"]["start"]["line"], json!(t.site.start_line + 3), "{d}");
        assert!(!d["message"].as_str().unwrap_or("").starts_with("[stale]"), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_reports_progress_and_publishes_new_tasks() {
    let fx = Fixture::new();
    let empty_home = tempfile::tempdir().expect("tempdir");
    let mut c = Client::start(empty_home.path());
    c.initialize(&fx.root()).await;
    let uri = fx.uri(&fx.file);
    let text = std::fs::read_to_string(fx.root().join(&fx.file)).expect("read");
    let first = c.open(&uri, &text).await;
    assert_eq!(diags(&first).len(), 0, "an empty store has no tasks");
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.generate", "arguments": [uri]})).await;
    let generated = result_as::<protocol::Generated>(&r);
    let added = generated.added as u64;
    assert!(added > 0, "{r}");
    assert_eq!(generated.file.as_deref(), Some(fx.file.as_str()));
    let stored = Store::open(empty_home.path()).expect("store").tasks().expect("tasks");
    assert_eq!(stored.len() as u64, added);
    assert!(stored.iter().all(|t| t.site.file == fx.file));
    let published = c
        .wait_for("textDocument/publishDiagnostics", |p| p["diagnostics"].as_array().is_some_and(|d| !d.is_empty()))
        .await;
    assert_eq!(diags(&published).len() as u64, added);
    let kinds: Vec<String> = c
        .seen
        .iter()
        .filter(|m| m["method"] == "$/progress")
        .map(|m| m["params"]["value"]["kind"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("begin"), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("end"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "report"), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_answers_its_summary_and_the_task_list_its_rows() {
    let fx = Fixture::new();
    // round 1 stopped before its select step: selecting needs no container
    let mut store = fx.store();
    let mut picked: Vec<_> = store.tasks().expect("tasks").into_iter().take(3).collect();
    for t in &mut picked {
        t.round = Some(1);
        t.stage = TaskStage::Scored;
        let verdict = Verdict {
            task_id: t.id.clone(),
            outcome: socratic::model::VerdictOutcome::Valid,
            reason: "valid".into(),
            fail_to_pass: vec!["tests/test_x.py::test_x".into()],
            pass_to_pass: vec![],
            duration_ms: 1,
        };
        store.record_verdict(t, &verdict).expect("verdict");
    }
    let git = git2::Repository::open(fx.root()).expect("repo");
    let head = git.head().expect("head").peel_to_commit().expect("commit").id().to_string();
    let inputs = RoundInputs {
        repo: fx.root().display().to_string(),
        head,
        seed: 1,
        budget: 3,
        keep: 2,
        max_skill_share: 1.0,
        trace_ids: vec![],
        skill_versions: Default::default(),
        model_hash: None,
        reference_set: None,
        adapter_hash: None,
    };
    let round = Round {
        number: 1,
        inputs,
        step: RoundStep::Select,
        candidates: 3,
        valid: 3,
        kept: vec![],
        timings_ms: Default::default(),
    };
    store.save_round(&round).expect("save round");
    drop(store);

    let mut c = Client::start(fx.home.path());
    c.initialize(&fx.root()).await;
    let r = c.request("workspace/executeCommand", json!({"command": "socratic.round", "arguments": [{}]})).await;
    let summary = result_as::<RoundSummary>(&r);
    let stored = fx.store().rounds().expect("rounds").pop().expect("a round");
    assert_eq!(summary, RoundSummary::of(&stored));
    assert_eq!((summary.number, summary.step.as_str(), summary.candidates, summary.valid), (1, "done", 3, 3));
    assert!(!summary.kept.is_empty() && summary.kept.len() <= 2, "{r}");
    assert!(summary.kept.iter().all(|id| picked.iter().any(|t| &t.id == id)), "{r}");

    let r = c.request("workspace/executeCommand", json!({"command": "socratic.tasks"})).await;
    let list = result_as::<TaskList>(&r);
    assert_eq!(list.root.as_deref(), Some(fx.root().display().to_string().as_str()));
    assert_eq!(list.tasks.len(), fx.store().tasks().expect("tasks").len());
    let all =
        c.request("workspace/executeCommand", json!({"command": "socratic.tasks", "arguments": [{"all": true}]})).await;
    assert_eq!(result_as::<TaskList>(&all).tasks.len(), list.tasks.len());

    // the CLI prints the same rows: `tasks list --json` as `socratic.tasks` (no document is
    // open, so the same places), `curriculum list --json` the kept ones
    let cli = |args: &[&str]| -> Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_socratic"))
            .arg("--home")
            .arg(fx.home.path())
            .args(args)
            .output()
            .expect("run socratic");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let mut printed: Vec<protocol::TaskRow> = serde_json::from_value(cli(&["tasks", "list", "--json"])).expect("rows");
    printed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut listed = list.tasks.clone();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(printed, listed);
    let curriculum = cli(&["curriculum", "list", "--json"]);
    let entries = curriculum["tasks"].as_array().expect("entries");
    assert_eq!(entries.len(), summary.kept.len(), "{curriculum}");
    for e in entries {
        let row: protocol::TaskRow = serde_json::from_value(e["task"].clone()).expect("a task row");
        assert_eq!(Some(&row), listed.iter().find(|r| r.id == row.id), "{e}");
        assert_eq!(e["membership"], "kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_documents_are_refused_or_parsed_aside_and_other_sessions_keep_answering() {
    use socratic::lsp::document::MAX_DOCUMENT_BYTES;
    let fx = Fixture::new();
    let root = fx.root();
    let uri = fx.uri(&fx.file);
    let text = std::fs::read_to_string(root.join(&fx.file)).expect("read");
    let task = fx.store().tasks().expect("tasks").into_iter().find(|t| t.site.file == fx.file).expect("a task");
    let hover = json!({"textDocument": {"uri": uri}, "position": {"line": task.site.start_line, "character": task.site.start_col}});
    let (mut a, mut b, mut c) =
        (Client::start(fx.home.path()), Client::start(fx.home.path()), Client::start(fx.home.path()));
    for client in [&mut a, &mut b, &mut c] {
        client.initialize(&root).await;
    }
    c.open(&uri, &text).await;

    // Over the limit: not parsed, and the editor is told why.
    let over = "x = 1\n".repeat(MAX_DOCUMENT_BYTES / 6 + 1);
    let published = a.open(&fx.uri("generated_big.py"), &over).await;
    assert!(diags(&published).is_empty());
    let said = a.wait_for("window/logMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("limit"))).await;
    let message = said["message"].as_str().unwrap_or_default();
    assert!(message.contains("generated_big.py") && message.contains("over the 1.0 MiB limit"), "{said}");

    // Just under the limit, the worst text for the parser (unclosed parentheses) in two
    // sessions at once: a third session's hover still answers within a second.
    let heavy = "(".repeat(MAX_DOCUMENT_BYTES - 1);
    let sent = std::time::Instant::now();
    for (client, name) in [(&mut a, "heavy_a.py"), (&mut b, "heavy_b.py")] {
        let params =
            json!({"textDocument": {"uri": fx.uri(name), "languageId": "python", "version": 1, "text": heavy}});
        client.notify("textDocument/didOpen", params).await;
    }
    // Hover every 100 ms until both heavy documents are published: no hover waits a second.
    let mut slowest = Duration::ZERO;
    let mut published = 0;
    while published < 2 {
        let started = std::time::Instant::now();
        let answer = c.request("textDocument/hover", hover.clone()).await;
        slowest = slowest.max(started.elapsed());
        assert!(answer["result"]["contents"]["value"].as_str().is_some_and(|v| v.contains(&task.id)), "{answer}");
        assert!(sent.elapsed() < Duration::from_secs(60), "the heavy documents were never published");
        tokio::time::sleep(Duration::from_millis(100)).await;
        published = 0;
        for (client, name) in [(&mut a, "heavy_a.py"), (&mut b, "heavy_b.py")] {
            let uri = fx.uri(name);
            let done = client
                .seen
                .iter()
                .any(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri)
                || tokio::time::timeout(
                    Duration::from_millis(1),
                    client.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri),
                )
                .await
                .is_ok();
            if done {
                client.seen.push(json!({"method": "textDocument/publishDiagnostics", "params": {"uri": uri}}));
                published += 1;
            }
        }
    }
    eprintln!("heavy documents published after {:?}; slowest hover meanwhile {slowest:?}", sent.elapsed());
    assert!(slowest < Duration::from_secs(1), "a hover waited {slowest:?} behind other sessions' parsing");

    // A change that takes an open document over the limit closes it for us, said so.
    let params = json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": over}]});
    c.notify("textDocument/didChange", params).await;
    let said = c.wait_for("window/logMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("limit"))).await;
    assert!(said["message"].as_str().unwrap_or_default().contains(&fx.file), "{said}");
    let published = c.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri && p["version"].is_null()).await;
    assert!(diags(&published).is_empty());
    let answer = c.request("textDocument/hover", hover).await;
    assert!(answer["result"].is_null(), "no hover in a document we closed: {answer}");
}
