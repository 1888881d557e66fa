//! Containers we own, on a real Docker engine with the example repository: a container that a
//! user starts with plain `docker run` from an environment image, and one of another home, both
//! survive `env build` and `round` (whose sweeps remove only this home's leftovers); environment
//! images carry no ownership of ours; a container guard dropped on an error path is removed even
//! though the runtime that dropped it is gone.

use serde_json::Value;
use socratic::sandbox::{owner_of_home, Engine, Limits, OWNER_LABEL, PID_LABEL};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::{socratic, stdout_json};

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("the docker CLI runs (see .ci/run)")
}

/// `docker run -d` with extra arguments; the new container's id.
fn docker_run(extra: &[&str], image: &str) -> String {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[image, "sleep", "infinity"]);
    let out = docker(&args);
    assert!(out.status.success(), "docker run: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn exists(container: &str) -> bool {
    docker(&["container", "inspect", container]).status.success()
}

fn ok_json(home: &Path, args: &[&str]) -> Value {
    let out = socratic(home, args);
    assert!(out.status.success(), "socratic {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    stdout_json(&out)
}

#[test]
fn containers_started_by_others_survive_our_sweeps_and_dropped_guards_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = dir.path().join("tallyho");
    socratic::examples::write_example_repo(&repo).unwrap();
    let repo_s = repo.to_str().unwrap();
    let env = ok_json(&home, &["env", "build", "--repo", repo_s, "--json"]);
    let image = env["image"].as_str().unwrap_or_else(|| panic!("env build --json names its image: {env}")).to_string();

    // The image carries no ownership of ours.
    let labels = docker(&["image", "inspect", "--format", "{{json .Config.Labels}}", &image]);
    let labels: Value = serde_json::from_slice(&labels.stdout).unwrap_or(Value::Null);
    for label in [OWNER_LABEL, PID_LABEL] {
        let value = labels.get(label).and_then(Value::as_str).unwrap_or("");
        assert!(value.is_empty(), "image {image} carries {label}={value}");
    }

    let plain = docker_run(&[], &image);
    let other_home =
        docker_run(&["--label", &format!("{OWNER_LABEL}=home-not-this-one"), "--label", "socratic.pid=999999"], &image);
    let ours_left_behind = docker_run(
        &["--label", &format!("{OWNER_LABEL}={}", owner_of_home(&home)), "--label", "socratic.pid=999999"],
        &image,
    );

    ok_json(&home, &["env", "build", "--repo", repo_s, "--json"]);
    let round =
        ok_json(&home, &["round", "--repo", repo_s, "--budget", "4", "--keep", "2", "--workers", "1", "--json"]);
    assert_eq!(round["step"], "done", "{round}");

    let (plain_ok, other_ok, ours_gone) = (exists(&plain), exists(&other_home), !exists(&ours_left_behind));
    for id in [&plain, &other_home, &ours_left_behind] {
        docker(&["rm", "-f", id]);
    }
    assert!(plain_ok, "a container started with plain `docker run` from {image} was removed");
    assert!(other_ok, "a container of another home was removed");
    assert!(ours_gone, "this home's leftover container (its process gone) was not swept");

    // A guard dropped on an error path, then its runtime dropped at once: still removed.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dropped: String = runtime.block_on(async {
        let engine = Engine::connect("tests-dropped-guard").await.expect("a Docker engine must be running");
        let container = engine.start_container(&image, &Limits::default(), &[]).await.unwrap();
        let id = container.id.clone();
        let failed: Result<(), String> = Err("validation failed".into());
        if failed.is_err() {
            drop(container);
        }
        id
    });
    drop(runtime);
    assert!(socratic::sandbox::wait_for_removals(Duration::from_secs(60)), "removals did not finish");
    let left = exists(&dropped);
    if left {
        docker(&["rm", "-f", &dropped]);
    }
    assert!(!left, "the container of a guard dropped with its runtime was left behind");
}
