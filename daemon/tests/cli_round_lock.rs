//! Two `socratic round` commands on one home: while `<home>/round.lock` is held the second says
//! who holds it and exits 1 without touching the store, or with `--wait` waits for it.

use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::socratic_cmd;

/// Hold the round lock of `home` as a running round would.
fn hold_round_lock(home: &std::path::Path) -> std::fs::File {
    use std::io::Write;
    let path = home.join("round.lock");
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&path).expect("open");
    fs2::FileExt::try_lock_exclusive(&file).expect("lock");
    write!(file, "pid=4242 round=7 step=validate").expect("write");
    file
}

#[test]
fn a_second_round_names_the_holder_and_exits_1() {
    let home = tempfile::tempdir().expect("tempdir");
    let repo = tempfile::tempdir().expect("tempdir");
    let held = hold_round_lock(home.path());
    let out =
        socratic_cmd(home.path(), &["round", "--repo", repo.path().to_str().expect("utf-8")]).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a round is already running on this home (pid=4242 round=7 step=validate)"), "{stderr}");
    assert!(!home.path().join("socratic.db").exists(), "the refused command opened the store");
    drop(held);
}

#[test]
fn a_waiting_round_starts_when_the_lock_is_released() {
    let home = tempfile::tempdir().expect("tempdir");
    let missing = home.path().join("no-such-repo");
    let held = hold_round_lock(home.path());
    let mut child = socratic_cmd(home.path(), &["round", "--wait", "--repo", missing.to_str().expect("utf-8")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    std::thread::sleep(Duration::from_millis(700));
    assert!(child.try_wait().expect("wait").is_none(), "--wait returned while the lock was held");
    drop(held);
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "--wait did not go on after the release");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // it got the lock and went on to the round, which fails on the missing repository
    assert!(!stderr.contains("already running"), "{stderr}");
    assert!(home.path().join("socratic.db").exists(), "{stderr}");
}
