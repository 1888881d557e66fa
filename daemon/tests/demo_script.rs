//! `demo.sh`, README's first command, on a machine missing the Docker engine and debootstrap:
//! it says it will install them through apt-get and start the engine, then runs the demo with
//! the arguments given (a dry run: the commands are printed, none is run).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// A folder of links to the real tools the script may use, leaving out docker, dockerd and
/// debootstrap.
fn bin_without_docker(dir: &Path) {
    for tool in ["bash", "env", "id", "dirname", "seq", "sleep", "tail", "cargo", "git", "apt-get", "sudo", "sh"] {
        let found = Command::new("bash").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        if !path.is_empty() {
            symlink(&path, dir.join(tool)).unwrap();
        }
    }
}

#[test]
fn the_first_readme_command_installs_starts_and_runs_what_the_demo_needs() {
    let bin = tempfile::tempdir().unwrap();
    bin_without_docker(bin.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo.sh");
    let out = Command::new(bin.path().join("bash"))
        .arg(&script)
        .arg("--no-validate")
        .env("PATH", bin.path())
        .env("DEMO_DRY_RUN", "1")
        .env_remove("SOCRATIC_HOME")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("installing what the demo needs: docker.io debootstrap"), "{said}");
    assert!(said.contains("apt-get install -y -qq docker.io debootstrap"), "{said}");
    assert!(said.contains("starting dockerd"), "{said}");
    assert!(said.contains("+ cargo run --release --locked -- --home .socratic-home demo --no-validate"), "{said}");
    // Install before start before run.
    let at = |s: &str| said.find(s).unwrap();
    assert!(at("apt-get install") < at("starting dockerd") && at("starting dockerd") < at("+ cargo run"), "{said}");
}
