//! Images: the base image (pulled from a registry, or bootstrapped locally with debootstrap
//! where no registry is reachable) and a repository's environment image, built automatically.
//!
//! In: a base image name or a bootstrap request; a repository path. Out: image names, and an
//! `Environment` (plain data, in `model`): the image, the install commands that worked, which tests pass on the clean
//! tree, and the coverage map (file → line → tests) taken with per-test dynamic contexts.

use super::junit;
use super::worker::{tar_one_file, REPO_DIR};
use super::{docker_err, Container, Engine, Limits, Result, SandboxError};
use crate::model::{Environment, TestStatus};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Packages the bootstrapped base image carries (a C compiler and Python headers too: many
/// projects build optional extensions).
pub const BASE_PACKAGES: &[&str] = &[
    "python3",
    "python3-dev",
    "python3-pytest",
    "python3-pip",
    "python3-coverage",
    "python3-pytest-cov",
    "git",
    "ca-certificates",
    "gcc",
    "libc6-dev",
];
/// Where a configured CA bundle is put inside images.
pub const CA_PATH: &str = "/etc/ssl/certs/socratic-ca-bundle.pem";
/// Fewer passing tests than this share on the clean tree: the repository is refused.
pub const MIN_PASS_RATE: f64 = 0.8;

/// How to get a base image.
#[derive(Debug, Clone)]
pub struct BootstrapConfig {
    pub suite: String,
    pub mirror: String,
    /// Folder for the root file system while it is built (removed after import).
    pub work_dir: PathBuf,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            suite: "bookworm".into(),
            mirror: "http://deb.debian.org/debian".into(),
            work_dir: std::env::temp_dir().join("socratic-rootfs"),
        }
    }
}

/// The image name for a bootstrap config: a content key, so it is built once per machine.
pub fn base_image_name(cfg: &BootstrapConfig) -> String {
    let key = crate::model::sha256_hex(format!("{}|{}|{}", cfg.suite, cfg.mirror, BASE_PACKAGES.join(",")).as_bytes());
    format!("socratic-base:{}-{}", cfg.suite, &key[..12])
}

/// Build the base image with debootstrap and import it, unless it exists. Needs root and the
/// `debootstrap` program; returns the image name.
pub async fn bootstrap_base(engine: &Engine, cfg: &BootstrapConfig) -> Result<String> {
    let name = base_image_name(cfg);
    if engine.image_exists(&name).await {
        return Ok(name);
    }
    let dir = &cfg.work_dir;
    let _ = std::fs::remove_dir_all(dir);
    let status = tokio::process::Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={}", BASE_PACKAGES.join(",")))
        .arg(&cfg.suite)
        .arg(dir)
        .arg(&cfg.mirror)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| {
            SandboxError::Other(format!("cannot run debootstrap ({e}); install it: apt-get install debootstrap"))
        })?;
    if !status.success() {
        return Err(SandboxError::Other(format!("debootstrap {} into {} failed ({status})", cfg.suite, dir.display())));
    }
    import_rootfs(engine, dir, &name).await?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(name)
}

/// `docker import` of a root file system folder, streamed as a tar archive.
async fn import_rootfs(engine: &Engine, dir: &Path, name: &str) -> Result<()> {
    let (repo, tag) = name.split_once(':').unwrap_or((name, "latest"));
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(16);
    let dir = dir.to_path_buf();
    let producer = std::thread::spawn(move || -> std::io::Result<()> {
        let writer = ChannelWriter { tx };
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        builder.append_dir_all(".", &dir)?;
        builder.into_inner()?;
        Ok(())
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let opts =
        bollard::query_parameters::CreateImageOptionsBuilder::default().from_src("-").repo(repo).tag(tag).build();
    let mut progress = engine.docker().create_image(Some(opts), Some(bollard::body_try_stream(stream)), None);
    while let Some(item) = progress.next().await {
        item.map_err(docker_err(format!("import {name}")))?;
    }
    producer
        .join()
        .map_err(|_| SandboxError::Other("tar producer panicked".into()))?
        .map_err(|e| SandboxError::Other(format!("tar of root file system: {e}")))?;
    Ok(())
}

/// A `Write` that sends chunks into a channel (the tar producer's side of the import stream).
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "import stream closed"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Pull an image from its registry (e.g. `python:3.12-slim`) unless present.
pub async fn pull(engine: &Engine, image: &str) -> Result<()> {
    if engine.image_exists(image).await {
        return Ok(());
    }
    let opts = bollard::query_parameters::CreateImageOptionsBuilder::default().from_image(image).build();
    let mut progress = engine.docker().create_image(Some(opts), None, None);
    while let Some(item) = progress.next().await {
        item.map_err(docker_err(format!("pull {image}")))?;
    }
    Ok(())
}

/// How to build an environment image.
#[derive(Debug, Clone)]
pub struct EnvConfig {
    pub base_image: String,
    /// Host CA bundle to install into the image and use for pip (TLS interception, proxies).
    pub ca_bundle: Option<PathBuf>,
    pub install_timeout_s: u64,
    pub test_timeout_s: u64,
}

/// Requirement files installed before the project itself, when present (runtime first, then
/// test requirements, in the layouts projects use).
const REQUIREMENT_FILES: &[&str] = &[
    "requirements.txt",
    "requirements-test.txt",
    "requirements_test.txt",
    "requirements-tests.txt",
    "test-requirements.txt",
    "test_requirements.txt",
    "requirements-dev.txt",
    "requirements/test.txt",
    "requirements/tests.txt",
    "requirements/testing.txt",
];

/// Install commands to try for a repository, given its files (relative paths), in order.
pub fn install_plan(files: &[String]) -> Vec<String> {
    let has = |name: &str| files.iter().any(|f| f == name);
    let pip = "python3 -m pip install --quiet --break-system-packages --disable-pip-version-check";
    let mut plan: Vec<String> = REQUIREMENT_FILES.iter().filter(|f| has(f)).map(|f| format!("{pip} -r {f}")).collect();
    if has("pyproject.toml") || has("setup.py") || has("setup.cfg") {
        plan.push(format!("{pip} -e '.[test]' || {pip} -e '.[tests]' || {pip} -e '.[testing]' || {pip} -e . || {pip} --no-build-isolation --no-deps -e ."));
    }
    plan
}

/// Bump when the way environments are built changes, so old images are not reused.
const ENV_RECIPE_VERSION: u32 = 2;

/// The environment image's name for a repository at a commit.
pub fn env_image_name(repo_name: &str, head: &str, base: &str) -> String {
    let key =
        crate::model::sha256_hex(format!("{head}|{base}|{ENV_RECIPE_VERSION}|{}", super::worker::RUNNER_PY).as_bytes());
    let clean: String = repo_name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    format!("socratic-env-{}:{}", clean.trim_matches('-'), &key[..12])
}

/// Build the environment for `repo` at `head` (network on while installing): copy the
/// repository, install it, run the suite once with per-test coverage, commit the container.
pub async fn build_env(engine: &Engine, repo: &Path, head: &str, cfg: &EnvConfig) -> Result<Environment> {
    let started = std::time::Instant::now();
    let repo_name = repo.file_name().and_then(|n| n.to_str()).unwrap_or("repo");
    let image = env_image_name(repo_name, head, &cfg.base_image);
    let mut env_vars = vec!["PYTHONDONTWRITEBYTECODE=1".to_string(), "PIP_ROOT_USER_ACTION=ignore".to_string()];
    if cfg.ca_bundle.is_some() {
        for var in ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"] {
            env_vars.push(format!("{var}={CA_PATH}"));
        }
    }
    let limits = Limits { memory_bytes: 4 << 30, pids: 1024, nano_cpus: 2_000_000_000, network: true };
    let container = engine.start_container(&cfg.base_image, &limits, &env_vars).await?;
    let result = prepare(&container, repo, cfg).await;
    let prepared = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = container.remove().await;
            return Err(e);
        }
    };
    let environment = Environment {
        repo: repo.display().to_string(),
        head: head.to_string(),
        image: image.clone(),
        base_image: cfg.base_image.clone(),
        install_commands: prepared.install_commands,
        clean: prepared.clean,
        durations: prepared.durations,
        python_path: prepared.python_path,
        install_notes: prepared.install_notes,
        coverage: prepared.coverage,
        build_ms: 0,
    };
    if environment.pass_rate() < MIN_PASS_RATE {
        let _ = container.remove().await;
        return Err(SandboxError::Other(refusal(&environment)));
    }
    let environment = Environment { build_ms: started.elapsed().as_millis() as u64, ..environment };
    let record =
        serde_json::to_vec(&environment).map_err(|e| SandboxError::Other(format!("environment record: {e}")))?;
    container.upload_tar("/", tar_one_file(ENV_RECORD_PATH, &record, 0o644)?).await?;
    let (name, tag) = image.split_once(':').unwrap_or((&image, "latest"));
    container.commit(name, tag).await?;
    container.remove().await?;
    Ok(environment)
}

/// Where an environment image keeps its own `Environment` record, so another home (a fresh
/// store) can reuse the image without rebuilding it.
pub const ENV_RECORD_PATH: &str = "/opt/socratic/environment.json";

/// The `Environment` recorded inside an existing environment image, if it has one.
pub async fn read_env_record(engine: &Engine, image: &str) -> Result<Option<Environment>> {
    let limits = Limits { network: false, ..Limits::default() };
    let container = engine.start_container(image, &limits, &[]).await?;
    let out = container.exec(&["cat", ENV_RECORD_PATH], 60).await;
    container.remove().await?;
    let out = out?;
    if out.exit_code != 0 {
        return Ok(None);
    }
    Ok(serde_json::from_str(&out.stdout).ok())
}

fn refusal(env: &Environment) -> String {
    let failing: Vec<&String> =
        env.clean.iter().filter(|(_, s)| **s != TestStatus::Passed).map(|(t, _)| t).take(10).collect();
    let notes = if env.install_notes.is_empty() {
        String::new()
    } else {
        format!("; install problems: {}", env.install_notes.join("; "))
    };
    format!(
        "refusing {}: only {} of {} tests pass on the clean tree ({:.0}% < {:.0}%); first failing: {}{notes}",
        env.repo,
        env.passing().len(),
        env.clean.len(),
        env.pass_rate() * 100.0,
        MIN_PASS_RATE * 100.0,
        failing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
    )
}

/// What preparing the build container found.
struct Prepared {
    install_commands: Vec<String>,
    install_notes: Vec<String>,
    python_path: Option<String>,
    clean: BTreeMap<String, TestStatus>,
    durations: BTreeMap<String, f64>,
    coverage: BTreeMap<String, BTreeMap<u32, Vec<String>>>,
}

/// Copy, install, and run the clean suite with coverage inside the build container.
async fn prepare(container: &Container, repo: &Path, cfg: &EnvConfig) -> Result<Prepared> {
    if let Some(ca) = &cfg.ca_bundle {
        let bytes = std::fs::read(ca).map_err(|e| SandboxError::Other(format!("CA bundle {}: {e}", ca.display())))?;
        container.upload_tar("/", tar_one_file(CA_PATH, &bytes, 0o644)?).await?;
    }
    container.exec(&["mkdir", "-p", REPO_DIR], 30).await?;
    container.upload_tar(REPO_DIR, tar_repo(repo)?).await?;
    sh(container, "git config --global --add safe.directory '*' && git config --global user.email socratic@localhost && git config --global user.name socratic && git checkout -q -- . && git clean -fdq", 60).await?;
    let files = top_level_files(repo);
    let mut installed = Vec::new();
    let mut notes = Vec::new();
    let mut python_path = None;
    for cmd in install_plan(&files) {
        let out = sh(container, &cmd, cfg.install_timeout_s).await?;
        if out.exit_code == 0 {
            installed.push(cmd);
            continue;
        }
        // Not fatal: the clean run's pass rate decides. Run from the source tree instead.
        notes.push(format!("failed: `{cmd}`: {}", tail(&out.stderr, 600)));
        if repo.join("src").is_dir() {
            python_path = Some(format!("{REPO_DIR}/src"));
        }
    }
    // Build products of the install (compiled extensions, egg-info) are untracked files that
    // the per-candidate `git clean` must keep: exclude them from git's view.
    sh(container, "git ls-files --others --exclude-standard | sed 's|^|/|' >> .git/info/exclude", 60).await?;
    let probe = sh(container, "python3 -c 'import pytest, coverage, pytest_cov'", 60).await?;
    if probe.exit_code != 0 {
        let cmd = "python3 -m pip install --quiet --break-system-packages pytest coverage pytest-cov";
        let out = sh(container, cmd, cfg.install_timeout_s).await?;
        if out.exit_code != 0 {
            return Err(SandboxError::Other(format!(
                "cannot install pytest in the image: {}",
                tail(&out.stderr, 1500)
            )));
        }
        installed.push(cmd.to_string());
    }
    let path_var = python_path.as_ref().map(|p| format!("PYTHONPATH={p} ")).unwrap_or_default();
    let run = format!(
        "{path_var}python3 -m pytest -q -p no:cacheprovider -o junit_family=xunit1 --junitxml=/tmp/clean.xml \
         --cov=. --cov-context=test --cov-report= >/tmp/clean.log 2>&1; \
         python3 -m coverage json --show-contexts -q -o /tmp/coverage.json >/dev/null 2>&1; \
         rm -f .coverage; git checkout -q -- . && git clean -fdq"
    );
    sh(container, &run, cfg.test_timeout_s).await?;
    let xml = container.exec(&["cat", "/tmp/clean.xml"], 60).await?;
    if xml.exit_code != 0 {
        let log = container.exec(&["cat", "/tmp/clean.log"], 60).await?;
        return Err(SandboxError::Other(format!("the test suite did not run: {}", tail(&log.stdout, 1500))));
    }
    let results = junit::parse(&xml.stdout).map_err(SandboxError::Other)?;
    let durations = results.iter().map(|(id, r)| (id.clone(), r.seconds)).collect();
    let clean = results.into_iter().map(|(id, r)| (id, r.status)).collect();
    let cov = container.exec(&["cat", "/tmp/coverage.json"], 120).await?;
    let coverage = if cov.exit_code == 0 { parse_coverage(&cov.stdout) } else { BTreeMap::new() };
    Ok(Prepared { install_commands: installed, install_notes: notes, python_path, clean, durations, coverage })
}

async fn sh(container: &Container, script: &str, secs: u64) -> Result<super::ExecOutput> {
    let script = format!("cd {REPO_DIR} && {script}");
    container.exec(&["sh", "-c", &script], secs).await
}

fn tail(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
}

/// Files at the top level and one folder down (`requirements/tests.txt`), relative.
fn top_level_files(repo: &Path) -> Vec<String> {
    walkdir::WalkDir::new(repo)
        .min_depth(1)
        .max_depth(2)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.path().strip_prefix(repo).ok().and_then(|p| p.to_str()).map(String::from))
        .collect()
}

/// The repository (working tree and `.git`) as a tar archive, without caches.
pub fn tar_repo(repo: &Path) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let skip = ["__pycache__", ".pytest_cache", ".venv", "node_modules", ".tox", ".mypy_cache"];
    for entry in
        walkdir::WalkDir::new(repo).min_depth(1).into_iter().filter_entry(|e| !skip.iter().any(|s| e.file_name() == *s))
    {
        let entry = entry.map_err(|e| SandboxError::Other(format!("reading {}: {e}", repo.display())))?;
        let rel = entry.path().strip_prefix(repo).unwrap_or(entry.path());
        builder
            .append_path_with_name(entry.path(), rel)
            .map_err(|e| SandboxError::Other(format!("archiving {}: {e}", entry.path().display())))?;
    }
    builder.into_inner().map_err(|e| SandboxError::Other(format!("archiving {}: {e}", repo.display())))
}

/// coverage.py's JSON report with `--show-contexts` → file → line → tests. pytest-cov names
/// contexts `<node id>|run` (also `|setup`, `|teardown`); the empty context is import time.
pub fn parse_coverage(json: &str) -> BTreeMap<String, BTreeMap<u32, Vec<String>>> {
    let mut out = BTreeMap::new();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else { return out };
    let Some(files) = doc.get("files").and_then(|f| f.as_object()) else { return out };
    for (file, data) in files {
        let mut lines: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        if let Some(contexts) = data.get("contexts").and_then(|c| c.as_object()) {
            for (line, ctxs) in contexts {
                let Ok(line) = line.parse::<u32>() else { continue };
                let mut tests: Vec<String> = ctxs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str())
                    .filter_map(|c| c.rsplit_once('|').map(|(t, _)| t.to_string()))
                    .filter(|t| !t.is_empty())
                    .collect();
                tests.sort();
                tests.dedup();
                lines.insert(line, tests);
            }
        }
        out.insert(file.trim_start_matches("./").to_string(), lines);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_plan_follows_the_files() {
        assert!(install_plan(&["README.md".into()]).is_empty());
        let plan = install_plan(&[
            "pyproject.toml".into(),
            "requirements/tests.txt".into(),
            "requirements/docs.txt".into(),
            "requirements.txt".into(),
        ]);
        assert_eq!(plan.len(), 3, "{plan:?}");
        assert!(plan[0].ends_with("-r requirements.txt"));
        assert!(plan[1].ends_with("-r requirements/tests.txt"));
        assert!(plan[2].contains("-e '.[test]'"));
    }

    #[test]
    fn coverage_contexts_become_tests() {
        let json = r#"{"files": {"pkg/a.py": {"contexts": {"3": ["", "tests/test_a.py::test_x|run", "tests/test_a.py::test_x|setup"], "5": ["tests/test_a.py::test_y[1]|run"]}}}}"#;
        let cov = parse_coverage(json);
        assert_eq!(cov["pkg/a.py"][&3], vec!["tests/test_a.py::test_x".to_string()]);
        assert_eq!(cov["pkg/a.py"][&5], vec!["tests/test_a.py::test_y[1]".to_string()]);
        assert!(parse_coverage("not json").is_empty());
    }

    #[test]
    fn image_names_are_valid_docker_references() {
        let n = env_image_name("My_Repo.v2", "abc", "base");
        assert!(n.starts_with("socratic-env-my-repo-v2:"), "{n}");
        assert!(base_image_name(&BootstrapConfig::default()).starts_with("socratic-base:bookworm-"));
    }
}
