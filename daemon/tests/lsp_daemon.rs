//! The daemon as a process: it imports trace files appearing in a watched folder, marks a task's
//! anchor stale when its site disappears from a file changed on disk (an accepted task stays
//! accepted and in the curriculum) and fresh again when `git checkout` brings it back, and
//! shuts down cleanly on SIGTERM (socket removed, exit code 0).

use socratic::model::{AnchorState, Decision, TaskStage};
use socratic::store::Store;
use socratic::tasks::{generate, GenerateConfig};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{commit_all, copy_dir};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn daemon_watches_traces_and_files_and_stops_on_sigterm() {
    let repo = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let runtime = tempfile::tempdir().expect("tempdir");
    let traces = tempfile::tempdir().expect("tempdir");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/example_repo"), repo.path());
    commit_all(repo.path());
    let (tasks, _) = generate(repo.path(), &GenerateConfig { budget: 40, ..Default::default() }).expect("generate");
    Store::open(home.path()).expect("store").insert_tasks(&tasks).expect("insert");

    let bin = env!("CARGO_BIN_EXE_socratic");
    let mut daemon = Command::new(bin)
        .arg("--home")
        .arg(home.path())
        .arg("daemon")
        .arg("--watch-traces")
        .arg(traces.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .spawn()
        .expect("start the daemon");
    let status = || {
        Command::new(bin)
            .arg("--home")
            .arg(home.path())
            .args(["daemon", "status"])
            .env("XDG_RUNTIME_DIR", runtime.path())
            .output()
            .expect("status")
    };
    wait_until("the daemon to answer", || status().status.success());
    let socket =
        String::from_utf8_lossy(&status().stdout).split("socket=").nth(1).expect("socket path").trim().to_string();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).expect("socket").permissions());
    assert_eq!(mode & 0o777, 0o600);

    // a trace file dropped into the watched folder is imported
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces/mini-swe-agent/toolcall_toy.traj.json");
    std::fs::copy(&fixture, traces.path().join("new.traj.json")).expect("copy trace");
    wait_until("the trace to be imported", || {
        Store::open(home.path()).expect("store").traces().expect("traces").len() == 1
    });

    // the victim is a valid task the user accepted into the curriculum of a finished round
    let victim = tasks.iter().max_by_key(|t| t.site.start_byte).expect("task");
    let stored = |id: &str| Store::open(home.path()).expect("store").task(id).expect("task").expect("stored");
    {
        let mut store = Store::open(home.path()).expect("store");
        store.update_task(&socratic::model::Task { stage: TaskStage::Scored, ..victim.clone() }).expect("stage");
        store.set_decision(&victim.id, Decision::Accepted).expect("accept");
        store.save_round(&common::finished_round(1, &[])).expect("round");
    }
    let in_curriculum = || {
        let store = Store::open(home.path()).expect("store");
        let round = store.round(1).expect("round").expect("stored");
        socratic::engine::curriculum::load(&store, &round).expect("curriculum").iter().any(|e| e.task.id == victim.id)
    };
    assert!(in_curriculum());

    // a file changed on disk: a moved site stays, a deleted site goes stale
    let path = repo.path().join(&victim.site.file);
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("# moved\n{text}")).expect("write");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(stored(&victim.id).anchor, AnchorState::Fresh);
    let cut = format!("{}{}", &text[..victim.site.start_byte], &text[victim.site.end_byte..]);
    std::fs::write(&path, cut).expect("write");
    wait_until("the task to go stale", || stored(&victim.id).anchor == AnchorState::Stale);
    let after_edit = stored(&victim.id);
    assert_eq!((after_edit.decision, after_edit.stage), (Decision::Accepted, TaskStage::Scored));
    assert!(in_curriculum(), "an edit that cuts an accepted task's site keeps it in the curriculum");

    // `git checkout` of the file brings the site back: fresh again, still accepted
    let checkout = Command::new("git")
        .arg("-C")
        .arg(repo.path())
        .args(["checkout", "--", &victim.site.file])
        .output()
        .expect("git checkout");
    assert!(checkout.status.success(), "{}", String::from_utf8_lossy(&checkout.stderr));
    wait_until("the anchor to be fresh again", || stored(&victim.id).anchor == AnchorState::Fresh);
    assert_eq!(stored(&victim.id).decision, Decision::Accepted);
    assert!(in_curriculum(), "a checkout keeps an accepted task in the curriculum");

    // SIGTERM: clean exit, socket gone
    let killed = Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status().expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = daemon.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the daemon did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(!Path::new(&socket).exists(), "socket left behind");
}

fn mode(path: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).expect("metadata").permissions()) & 0o777
}

/// Stop a daemon with SIGTERM and wait for it.
fn stop(mut daemon: std::process::Child) {
    let killed = Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status().expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    while daemon.try_wait().expect("wait").is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "the daemon did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_home_the_store_the_lock_and_the_socket_are_owner_only() {
    let parent = tempfile::tempdir().expect("tempdir");
    // a parent others may read: what the daemon creates inside must still be private
    std::fs::set_permissions(parent.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let bin = env!("CARGO_BIN_EXE_socratic");
    for runtime in [None, Some(parent.path().join("runtime"))] {
        let home = parent.path().join(if runtime.is_some() { "home-xdg" } else { "home" });
        let mut cmd = Command::new(bin);
        cmd.arg("--home").arg(&home).arg("daemon").env_remove("XDG_RUNTIME_DIR");
        if let Some(runtime) = &runtime {
            std::fs::create_dir(runtime).expect("runtime dir");
            cmd.env("XDG_RUNTIME_DIR", runtime);
        }
        let daemon = cmd.spawn().expect("start the daemon");
        let socket = match &runtime {
            Some(runtime) => {
                let dir = runtime.join("socratic");
                wait_until("the socket", || std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false));
                assert_eq!(mode(&dir), 0o700, "the socket's folder");
                std::fs::read_dir(&dir).expect("dir").next().expect("socket").expect("entry").path()
            }
            None => home.join("daemon.sock"),
        };
        wait_until("the socket", || socket.exists());
        assert_eq!(mode(&home), 0o700, "the home");
        assert_eq!(mode(&socket), 0o600, "the socket");
        assert_eq!(mode(&home.join("daemon.lock")), 0o600, "the lock");
        wait_until("the store", || home.join("socratic.db").exists());
        assert_eq!(mode(&home.join("socratic.db")), 0o600, "the store");
        stop(daemon);
    }
}

/// `socratic lsp` as an editor runs it: frames in on stdin, messages out of stdout.
struct Proxy {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    /// Messages from stdout; the channel closes when stdout does.
    out: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl Proxy {
    fn start(home: &Path, runtime: &Path) -> Proxy {
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_socratic"))
            .arg("--home")
            .arg(home)
            .arg("lsp")
            .env("XDG_RUNTIME_DIR", runtime)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socratic lsp");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, out) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let header = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len: usize = header
                        .trim()
                        .strip_prefix("Content-Length:")
                        .and_then(|v| v.trim().parse().ok())
                        .expect("content length");
                    if buf.len() < end + 4 + len {
                        break;
                    }
                    let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
                    let _ = tx.send(serde_json::from_slice(&body).expect("json"));
                }
                match stdout.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
        Proxy { child, stdin, out }
    }

    fn send(&mut self, msg: serde_json::Value) {
        use std::io::Write;
        let body = msg.to_string();
        self.stdin.write_all(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).expect("write");
        self.stdin.flush().expect("flush");
    }

    /// The answer to request `id`.
    fn answer(&mut self, id: i64) -> serde_json::Value {
        loop {
            let msg = self.out.recv_timeout(Duration::from_secs(20)).expect("an answer within 20 s");
            if msg["id"] == id && msg.get("method").is_none() {
                return msg;
            }
        }
    }

    /// Wait until stdout closes and the process exits; its exit code.
    fn end(mut self) -> Option<i32> {
        loop {
            match self.out.recv_timeout(Duration::from_secs(10)) {
                Ok(_) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("stdout still open 10 s after the daemon died: {e}"),
            }
        }
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(start.elapsed() < Duration::from_secs(10), "socratic lsp did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The pid of the daemon of `home`.
fn daemon_pid(home: &Path, runtime: &Path) -> u32 {
    let out = common::socratic_with_runtime(home, runtime, &["daemon", "status"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"))
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().expect("kill").success());
}

/// Whether a process exists, zombie or not (a zombie is one its parent did not reap).
fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn the_lsp_proxy_answers_ends_and_reaps_when_its_daemon_dies() {
    let home = tempfile::tempdir().expect("tempdir");
    let runtime = tempfile::tempdir().expect("tempdir");
    let root = tempfile::tempdir().expect("tempdir");
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": null, "rootUri": format!("file://{}", root.path().display()), "capabilities": {}}});

    // SIGTERM: the proxy closes its stdout, exits 1 and reaps the daemon it started
    let mut proxy = Proxy::start(home.path(), runtime.path());
    proxy.send(initialize.clone());
    assert!(proxy.answer(1).get("result").is_some());
    let pid = daemon_pid(home.path(), runtime.path());
    assert_eq!(mode(&home.path().join("daemon.log")), 0o600, "the log of the daemon it started");
    signal(pid, "TERM");
    assert_eq!(proxy.end(), Some(1));
    wait_until("the daemon to be reaped", || !exists(pid));

    // a request in flight when the daemon dies is answered with an error
    let mut proxy = Proxy::start(home.path(), runtime.path());
    proxy.send(initialize);
    assert!(proxy.answer(1).get("result").is_some());
    let pid = daemon_pid(home.path(), runtime.path());
    signal(pid, "STOP");
    proxy.send(serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover",
        "params": {"textDocument": {"uri": format!("file://{}/a.py", root.path().display())},
                   "position": {"line": 0, "character": 0}}}));
    std::thread::sleep(Duration::from_millis(300));
    signal(pid, "KILL");
    let answer = proxy.answer(2);
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    assert_eq!(proxy.end(), Some(1));
    wait_until("the daemon to be reaped", || !exists(pid));
}

#[test]
fn a_shell_with_another_runtime_dir_finds_the_daemon_through_its_home() {
    let home = tempfile::tempdir().expect("tempdir");
    let started_in = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_socratic");
    let daemon = Command::new(bin)
        .arg("--home")
        .arg(home.path())
        .arg("daemon")
        .env("XDG_RUNTIME_DIR", started_in.path())
        .spawn()
        .expect("start the daemon");
    let status = |runtime: Option<&Path>| {
        let mut cmd = Command::new(bin);
        cmd.arg("--home").arg(home.path()).args(["daemon", "status"]).env_remove("XDG_RUNTIME_DIR");
        if let Some(runtime) = runtime {
            cmd.env("XDG_RUNTIME_DIR", runtime);
        }
        cmd.output().expect("status")
    };
    wait_until("the daemon to answer", || status(Some(started_in.path())).status.success());
    let record = home.path().join("daemon.socket-path");
    let record_mode = record.exists().then(|| mode(&record));
    let answers: Vec<_> =
        [Some(elsewhere.path()), None].into_iter().map(|runtime| (runtime, status(runtime))).collect();
    stop(daemon); // before any assertion, so a failure leaves no daemon behind
    assert_eq!(record_mode, Some(0o600), "the recorded socket path");
    for (runtime, out) in answers {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "status with XDG_RUNTIME_DIR={runtime:?}: {stdout}");
        assert!(stdout.starts_with("running"), "{stdout}");
        assert!(stdout.contains(&started_in.path().display().to_string()), "the socket it runs on: {stdout}");
    }
    assert!(!record.exists(), "removed on a clean exit");
    assert_eq!(status(Some(elsewhere.path())).status.code(), Some(1), "not running any more");
}
