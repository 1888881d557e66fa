//! Harbor export against a real Docker engine, the way Harbor runs a task: the example
//! repository's environment image is built and its generated tasks validated in containers;
//! `socratic export --format harbor` writes their folders; then, per task, `environment/` is
//! built with `docker build`, `tests/` and `solution/` are mounted at `/tests` and `/solution`,
//! and `bash /tests/test.sh` must write reward 0 on the bugged tree and 1 after
//! `bash /solution/solve.sh` — with a clean `git status` and a one-commit history before.
//! Both kinds of folder: the portable one (rebuilt from a Python base image and the recorded
//! install commands; built here with `BASE_IMAGE` set to the local base image, since no registry
//! is reachable, and the host's CA bundle beside the Dockerfile) and the prebuilt one
//! (`--image-registry REG --no-push`: the image tagged, not pushed).
//!
//! Needs a running engine and the base image (`.ci/run` provides both); without an engine this
//! test fails: it never skips.

use socratic::sandbox::Engine;
use std::process::Command;

mod common;

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker CLI")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harbor_tasks_score_zero_bugged_and_one_after_the_reference_solution() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let common::ValidatedExample { home, env, valid, .. } =
        common::validated_example_home(dir.path(), &engine, 8, 11).await;

    let out = dir.path().join("harbor");
    let export = |out: &std::path::Path, extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_socratic"))
            .arg("--home")
            .arg(&home)
            .args(["export", "--format", "harbor", out.to_str().unwrap(), "--valid"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    };
    export(&out, &[]);
    let mut folders: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    folders.sort();
    assert_eq!(folders.len(), valid);
    let portable = &folders[0];
    let dockerfile = std::fs::read_to_string(portable.join("environment/Dockerfile")).unwrap();
    assert!(!dockerfile.contains("socratic-env"), "{dockerfile}");
    let ca = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
    if ca.exists() {
        std::fs::copy(ca, portable.join("environment/ca-bundle.pem")).unwrap();
    }
    let tag =
        format!("socratic-harbor-test:{}", portable.file_name().unwrap().to_string_lossy().rsplit('.').next().unwrap());
    let build_arg = format!("BASE_IMAGE={}", env.base_image);
    let built =
        docker(&["build", "-q", "--build-arg", &build_arg, "-t", &tag, portable.join("environment").to_str().unwrap()]);
    assert!(built.status.success(), "docker build {}: {}", portable.display(), String::from_utf8_lossy(&built.stderr));
    check_rewards(portable, &tag);
    let _ = docker(&["rmi", "-f", &tag]);

    // Prebuilt: tagged for the registry, not pushed; the Dockerfile starts from it.
    let prebuilt_out = dir.path().join("harbor-prebuilt");
    export(&prebuilt_out, &["--image-registry", "localhost:5999/socratic", "--no-push"]);
    let folder = prebuilt_out.join(portable.file_name().unwrap());
    let dockerfile = std::fs::read_to_string(folder.join("environment/Dockerfile")).unwrap();
    let from = dockerfile.lines().find_map(|l| l.strip_prefix("FROM ")).unwrap().to_string();
    assert!(from.starts_with("localhost:5999/socratic/socratic-harbor-tallyho:t-"), "{dockerfile}");
    assert!(docker(&["image", "inspect", &from]).status.success(), "{from} is tagged locally");
    let built = docker(&["build", "-q", "-t", &tag, folder.join("environment").to_str().unwrap()]);
    assert!(built.status.success(), "docker build {}: {}", folder.display(), String::from_utf8_lossy(&built.stderr));
    check_rewards(&folder, &tag);
    let _ = docker(&["rmi", "-f", &tag]);
    for folder in &folders {
        let name = format!(
            "localhost:5999/socratic/socratic-harbor-tallyho:{}",
            folder.file_name().unwrap().to_string_lossy().rsplit('.').next().unwrap()
        );
        let _ = docker(&["rmi", "-f", &name]);
    }
    engine.remove_image(&env.image).await.unwrap();
}

/// In a container of `image` with the folder's `tests/` and `solution/` mounted: a clean tree
/// with one commit, reward 0 on the bug, 1 after the reference solution.
fn check_rewards(folder: &std::path::Path, image: &str) {
    let mount = |sub: &str, at: &str| format!("{}:{at}:ro", folder.join(sub).display());
    let script = "git status --porcelain | wc -l; git log --oneline | wc -l; \
                  bash /tests/test.sh >/tmp/t1.log 2>&1; cat /logs/verifier/reward.txt; \
                  bash /solution/solve.sh >/tmp/s.log 2>&1 || cat /tmp/s.log; \
                  bash /tests/test.sh >/tmp/t2.log 2>&1; cat /logs/verifier/reward.txt; \
                  tail -3 /tmp/t2.log >&2";
    let ran = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount("tests", "/tests"),
        "-v",
        &mount("solution", "/solution"),
        image,
        "bash",
        "-c",
        script,
    ]);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        ["0", "1", "0", "1"],
        "{}: (dirty files, commits, reward bugged, reward solved); stderr: {}",
        folder.display(),
        String::from_utf8_lossy(&ran.stderr)
    );
}
