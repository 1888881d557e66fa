//! Validation fanned out on a real Ray cluster on this machine, the node running a shard killed
//! while that shard is provably mid-run: `integrations/ray/tests/cluster_kill.py` starts a head
//! (dashboard + Jobs API, where the job's driver runs) and two worker raylets holding
//! `socratic_docker`, runs `socratic cluster submit --wait validate --shards 2` (the
//! `socratic_ray` driver uploaded as the job's `py_modules`) with the test-only
//! `SOCRATIC_SHARD_HOLD` on the workers: the first shard to decide a candidate waits there, its
//! node is removed and every process of it killed, then the hold is released. No sleep and no
//! assumption that two shards run at once. Every candidate must get exactly one verdict, equal to
//! a single-machine `tasks validate`'s, the killed shard must have been run again by Ray, and no
//! shard process or container of the nodes' home may be left. Then `cluster submit --wait grade`
//! grades the gold fixes of up to two valid tasks on the surviving node: each stored as a
//! resolved Solver trace in the head's store.
//!
//! Needs a running engine, the base image and a Python with `ray[default]` named by
//! `SOCRATIC_RAY_PYTHON` (else `python3`); `.ci/run` provides all three. Never skips.

mod common;
mod shards;

use shards::{decisions, prepare};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

fn ray_python() -> String {
    let python = std::env::var("SOCRATIC_RAY_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import ray.cluster_utils, ray.dashboard.modules.job"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "Ray is needed: `python3 -m venv VENV && VENV/bin/pip install 'ray[default]'`, then \
         SOCRATIC_RAY_PYTHON=VENV/bin/python ({python}: {})",
        probe.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_else(|e| e.to_string())
    );
    python
}

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Run the cluster script in its own process group; past `limit` the whole group is killed.
fn run_script(mut cmd: Command, limit: Duration) -> std::process::ExitStatus {
    let mut child = cmd.process_group(0).spawn().expect("start the cluster script");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            // SAFETY: killpg on the group this test created.
            unsafe { libc::killpg(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
            panic!("the Ray cluster script ran past {limit:?}; its process group was killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A predictions file of the gold fixes of up to two tasks valid in `home`; its path and length.
fn gold_predictions(home: &std::path::Path, path: &std::path::Path) -> (std::path::PathBuf, usize) {
    let store = socratic::store::Store::open(home).unwrap();
    let lines: Vec<String> = store
        .tasks()
        .unwrap()
        .into_iter()
        .filter(|t| t.stage.is_valid())
        .take(2)
        .map(|t| {
            let fix = socratic::diff::reverse(&t.bug_patch).unwrap();
            serde_json::json!({"instance_id": t.id, "model_name_or_path": "gold", "model_patch": fix}).to_string()
        })
        .collect();
    assert!(!lines.is_empty(), "a valid task to grade");
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    (path.to_path_buf(), lines.len())
}

#[test]
fn validation_on_ray_survives_a_killed_worker_with_one_verdict_per_candidate() {
    let python = ray_python();
    let dir = tempfile::tempdir().unwrap();
    let p = prepare(dir.path(), 12);
    let node_home = dir.path().join("node-home");
    std::fs::create_dir_all(&node_home).unwrap();
    let report = dir.path().join("report.json");
    let predictions = gold_predictions(&p.single, &dir.path().join("predictions.jsonl"));
    let hold = dir.path().join("hold");
    std::fs::create_dir_all(&hold).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations/ray/tests/cluster_kill.py");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .args(["--socratic", env!("CARGO_BIN_EXE_socratic")])
        .arg("--home")
        .arg(&p.home)
        .arg("--repo")
        .arg(&p.repo)
        .arg("--node-home")
        .arg(&node_home)
        .arg("--hold")
        .arg(&hold)
        .arg("--then-grade")
        .arg(&predictions.0)
        .arg("--report")
        .arg(&report)
        .args(["--dashboard-port", &free_port().to_string()])
        .env("RAY_TMPDIR", dir.path())
        .stdin(std::process::Stdio::null());
    let status = run_script(cmd, Duration::from_secs(270));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the script's report")).expect("JSON report");
    let output = report["submit_output"].as_str().unwrap_or("");
    assert!(status.success(), "cluster script: {status}; {report}");
    assert_eq!(report["submit_rc"], 0, "cluster submit --wait:\n{output}");
    assert!(report["killed"].is_string(), "a worker node was killed: {report}");
    let killed = report["killed_shard"].as_u64().expect("the killed shard").to_string();
    let held = report["held"][&killed].as_array().map_or(0, Vec::len);
    assert!(held >= 1, "the killed shard was held mid-run (after its first verdict): {report}");
    let runs = report["starts"][&killed].as_array().map_or(0, Vec::len);
    assert!(runs >= 2, "Ray ran the killed shard again ({runs} run(s) of shard {killed}): {report}\n{output}");
    eprintln!("Ray cluster test: seconds {}, shard runs {}", report["seconds"], report["started_at"]);
    assert_eq!(report["left_running"].as_array().unwrap().len(), 0, "no shard process left: {report}");

    let got = decisions(&p.home);
    assert_eq!(got.len(), p.candidates.len(), "one verdict per candidate:\n{output}");
    assert_eq!(
        got,
        decisions(&p.single),
        "the verdicts of a single-machine run: {:#?}\n{output}",
        shards::differences(&p.home, &p.single)
    );

    // Then a grade job on the surviving node: the gold fixes of (up to) two valid tasks.
    let grade_output = report["grade_output"].as_str().unwrap_or("");
    assert_eq!(report["grade_rc"], 0, "cluster submit --wait grade:\n{grade_output}");
    let store = socratic::store::Store::open(&p.home).unwrap();
    let graded: Vec<_> =
        store.traces().unwrap().into_iter().filter(|t| t.trace.origin.starts_with("grade:gold:")).collect();
    assert_eq!(graded.len(), predictions.1, "one trace per prediction:\n{grade_output}");
    assert!(
        graded.iter().all(|t| t.trace.label.outcome == socratic::model::Outcome::Resolved),
        "every gold fix resolved:\n{grade_output}"
    );

    let owner = socratic::sandbox::owner_of_home(&node_home);
    let left = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=socratic.owner={owner}")])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "containers of the nodes' home left: {}", String::from_utf8_lossy(&left.stdout));
}
