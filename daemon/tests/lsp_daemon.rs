//! The daemon as a process: it imports trace files appearing in a watched folder, marks a task
//! stale when its site disappears from a file changed on disk, and shuts down cleanly on
//! SIGTERM (socket removed, exit code 0).

use socratic::model::TaskStatus;
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

    // a file changed on disk: a moved site stays, a deleted site goes stale
    let victim = tasks.iter().max_by_key(|t| t.site.start_byte).expect("task");
    let path = repo.path().join(&victim.site.file);
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("# moved\n{text}")).expect("write");
    std::thread::sleep(Duration::from_millis(800));
    assert_ne!(
        Store::open(home.path()).expect("store").task(&victim.id).expect("task").expect("stored").status,
        TaskStatus::Stale
    );
    let cut = format!("{}{}", &text[..victim.site.start_byte], &text[victim.site.end_byte..]);
    std::fs::write(&path, cut).expect("write");
    wait_until("the task to go stale", || {
        Store::open(home.path()).expect("store").task(&victim.id).expect("task").expect("stored").status
            == TaskStatus::Stale
    });

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
