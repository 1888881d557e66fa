//! Images: the base image (pulled from a registry, or bootstrapped locally with debootstrap
//! where no registry is reachable) and a repository's environment image, built automatically.
//!
//! In: a base image name or a bootstrap request; a repository path (and optionally its
//! `.socratic/env.toml` recipe and a setup agent, `Setup`). Out: image names, and an
//! `Environment` (plain data, in `model`): the image, the install commands that worked, which tests pass on the clean
//! tree, and the coverage map (file → line → tests) taken with per-test dynamic contexts.

use super::junit;
use super::recipe;
use super::recipe_file::RecipeFile;
use super::setup_agent::SetupAgentConfig;
use super::worker::{tar_one_file, REPO_DIR};
use super::{docker_err, Container, Engine, Limits, Result, SandboxError, SANDBOX_UID};
use crate::model::{Environment, RecipeSource, TestStatus};
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
    /// Runs of the clean suite after the first (without coverage, in the same container, the
    /// tree reset between runs): a test whose outcome differs between runs is known-flaky.
    pub flaky_reruns: u32,
}

/// Bump when the way environments are built changes, so old images are not reused.
const ENV_RECIPE_VERSION: u32 = 5;

/// The environment image's name for a repository at a commit.
pub fn env_image_name(repo_name: &str, head: &str, base: &str) -> String {
    env_image_name_for(repo_name, head, base, None)
}

/// The environment image's name for a repository at a commit built from a recipe file (its
/// content is part of the name; without one, the same as [`env_image_name`]).
pub fn env_image_name_for(repo_name: &str, head: &str, base: &str, recipe: Option<&RecipeFile>) -> String {
    let mut key = format!("{head}|{base}|{ENV_RECIPE_VERSION}|{}", super::worker::RUNNER_PY);
    if let Some(r) = recipe {
        key.push_str(&format!("|{}", r.key()));
    }
    let key = crate::model::sha256_hex(key.as_bytes());
    let clean: String = repo_name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    format!("socratic-env-{}:{}", clean.trim_matches('-'), &key[..12])
}

/// Build the environment for `repo` at `head`: copy the repository into an install container
/// (network on) and install it there; collect and run the clean suite with per-test coverage
/// in throwaway containers started from snapshots of it (network off, no capabilities); commit
/// the install container, which never ran a test, as the environment image.
pub async fn build_env(engine: &Engine, repo: &Path, head: &str, cfg: &EnvConfig) -> Result<Environment> {
    build_env_with(engine, repo, head, cfg, Setup::default()).await
}

/// What a build installs from besides the rules, and who is asked when it would be refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct Setup<'a> {
    /// The repository's `.socratic/env.toml`: its steps replace the rules' install plan, its
    /// variables are set for installs and test runs.
    pub recipe: Option<&'a RecipeFile>,
    /// The setup agent (`setup_agent.rs`), asked for install commands when the build would be
    /// refused.
    pub agent: Option<&'a SetupAgentConfig>,
}

/// [`build_env`] with a recipe file and / or the setup agent.
pub async fn build_env_with(
    engine: &Engine,
    repo: &Path,
    head: &str,
    cfg: &EnvConfig,
    setup: Setup<'_>,
) -> Result<Environment> {
    let started = std::time::Instant::now();
    let repo_name = repo.file_name().and_then(|n| n.to_str()).unwrap_or("repo");
    let image = env_image_name_for(repo_name, head, &cfg.base_image, setup.recipe);
    let mut env_vars = vec!["PYTHONDONTWRITEBYTECODE=1".to_string(), "PIP_ROOT_USER_ACTION=ignore".to_string()];
    if cfg.ca_bundle.is_some() {
        for var in ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"] {
            env_vars.push(format!("{var}={CA_PATH}"));
        }
    }
    env_vars.extend(setup.recipe.map(RecipeFile::env_vars).unwrap_or_default());
    let limits = Limits { network: true, ..SUITE_LIMITS };
    let install = engine.start_container(&cfg.base_image, &limits, &env_vars).await?;
    let mut build = Build::new(engine, install, &image, env_vars);
    let result = prepare_or_ask(&mut build, repo, head, &image, cfg, setup).await;
    let environment = match result {
        Ok(v) => v,
        Err(e) => {
            build.discard().await;
            return Err(e);
        }
    };
    let environment = Environment { build_ms: started.elapsed().as_millis() as u64, ..environment };
    let record =
        serde_json::to_vec(&environment).map_err(|e| SandboxError::Other(format!("environment record: {e}")))?;
    build.finish(&environment.image, &record).await?;
    Ok(environment)
}

/// Install (from the recipe file, else the rules) and measure the clean suite; when the build
/// would be refused and a setup agent is given, let it try.
async fn prepare_or_ask(
    build: &mut Build<'_>,
    repo: &Path,
    head: &str,
    image: &str,
    cfg: &EnvConfig,
    setup: Setup<'_>,
) -> Result<Environment> {
    let installed = install(build, repo, cfg, setup.recipe).await?;
    let measured = measure(build, repo, cfg, &installed).await;
    let source = if setup.recipe.is_some() { RecipeSource::File } else { RecipeSource::Rules };
    match (judge_build(repo, head, image, cfg, measured)?, setup.agent) {
        (Ok(env), _) => Ok(Environment { recipe_source: source, ..env }),
        (Err(problem), None) => Err(SandboxError::Other(problem)),
        (Err(problem), Some(agent)) => {
            let ask = super::setup_agent::Ask {
                repo,
                head,
                image,
                cfg,
                installed: &installed,
                recipe: setup.recipe,
                problem,
            };
            super::setup_agent::help(build, agent, ask).await
        }
    }
}

/// The environment a measured build makes, or why it is refused (`Ok(Err(why))`: fewer than
/// 80% of the tests that ran pass, no coverage, or the suite did not run at all).
pub(super) fn judge_build(
    repo: &Path,
    head: &str,
    image: &str,
    cfg: &EnvConfig,
    measured: Result<Prepared>,
) -> Result<std::result::Result<Environment, String>> {
    let prepared = match measured {
        Ok(p) => p,
        Err(SandboxError::Other(why)) => return Ok(Err(format!("refusing {}: {why}", repo.display()))),
        Err(e) => return Err(e),
    };
    let environment = Environment {
        repo: repo.display().to_string(),
        head: head.to_string(),
        image: image.to_string(),
        base_image: cfg.base_image.clone(),
        install_commands: prepared.install_commands,
        clean: prepared.clean,
        durations: prepared.durations,
        python_path: prepared.python_path,
        install_notes: prepared.install_notes,
        coverage: prepared.coverage,
        build_ms: 0,
        collection_errors: prepared.collection_errors,
        repairs: prepared.repairs,
        packages: prepared.packages,
        pytest_args: prepared.pytest_args,
        flaky: prepared.flaky,
        recipe_source: RecipeSource::Rules,
        coverage_note: prepared.coverage_note,
    };
    Ok(if environment.pass_rate() < MIN_PASS_RATE {
        Err(refusal(&environment, &prepared.log_tail))
    } else if !covers_a_line(&environment.coverage) {
        Err(empty_coverage(&environment, &prepared.coverage_log))
    } else {
        Ok(environment)
    })
}

/// An environment build in progress: the install container, where only installs run (network
/// on), and the snapshots of it that the repository's code runs in.
pub(super) struct Build<'a> {
    engine: &'a Engine,
    install: Option<Container>,
    /// Image name the snapshots are committed under (`<env image name>-build-<container id>`).
    snapshot_repo: String,
    snapshots: Vec<String>,
    /// Whether the install container changed since the last snapshot.
    changed: bool,
    env_vars: Vec<String>,
}

/// Limits of the containers the repository's tests run in while building: the build's memory,
/// pids and CPUs, the network off (the install container has the same, the network on).
const SUITE_LIMITS: Limits =
    Limits { memory_bytes: 4 << 30, pids: 1024, nano_cpus: 2_000_000_000, network: false, derivation: false };

impl<'a> Build<'a> {
    fn new(engine: &'a Engine, install: Container, image: &str, env_vars: Vec<String>) -> Build<'a> {
        let name = image.split_once(':').map_or(image, |(n, _)| n);
        let suffix = install.id[..12.min(install.id.len())].to_string();
        Build {
            engine,
            install: Some(install),
            snapshot_repo: format!("{name}-build-{suffix}"),
            snapshots: Vec::new(),
            changed: true,
            env_vars,
        }
    }

    fn install(&self) -> &Container {
        self.install.as_ref().expect("the install container lives until finish or discard")
    }

    /// Run a shell step in the install container (network on). It may change the image.
    pub(super) async fn install_sh(&mut self, script: &str, secs: u64) -> Result<super::ExecOutput> {
        self.changed = true;
        sh(self.install(), script, secs).await
    }

    /// Give the repository (and what installs added to it) to the sandbox user, who runs tests.
    async fn hand_over(&self) -> Result<()> {
        let out = sh(self.install(), &format!("chown -R {SANDBOX_UID}:{SANDBOX_UID} {REPO_DIR}"), 300).await?;
        if out.exit_code != 0 {
            return Err(SandboxError::Other(format!("chown of the repository failed: {}", tail(&out.stderr, 400))));
        }
        Ok(())
    }

    /// A throwaway sealed container (network off, unprivileged, read-only root) from a snapshot
    /// of the install container as it is now; the caller removes it.
    async fn sandboxed(&mut self) -> Result<Container> {
        if self.changed || self.snapshots.is_empty() {
            self.hand_over().await?;
            let tag = format!("{}", self.snapshots.len());
            self.install().commit(&self.snapshot_repo, &tag).await?;
            self.snapshots.push(format!("{}:{tag}", self.snapshot_repo));
            self.changed = false;
        }
        let snapshot = self.snapshots.last().expect("a snapshot was just taken");
        self.engine.start_container(snapshot, &SUITE_LIMITS, &self.env_vars).await
    }

    /// Add the environment record to the install container, commit it as `image`, and clean up.
    async fn finish(mut self, image: &str, record: &[u8]) -> Result<()> {
        let handed = self.hand_over().await;
        let install = self.install.take().expect("finish is called once");
        let result = async {
            handed?;
            install.upload_tar("/", tar_one_file(ENV_RECORD_PATH, record, 0o644)?).await?;
            let (name, tag) = image.split_once(':').unwrap_or((image, "latest"));
            install.commit(name, tag).await
        }
        .await;
        let removed = install.remove().await;
        self.remove_snapshots().await;
        result.and(removed)
    }

    /// Remove the install container and the snapshots (on a failed build).
    async fn discard(mut self) {
        if let Some(install) = self.install.take() {
            let _ = install.remove().await;
        }
        self.remove_snapshots().await;
    }

    async fn remove_snapshots(&mut self) {
        for snapshot in std::mem::take(&mut self.snapshots) {
            let _ = self.engine.remove_image(&snapshot).await;
        }
    }
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

/// Why a repository is refused: how many of the tests that ran pass, the first failing ones,
/// the test files that could not be collected (each with its first error line), install steps
/// that failed, and the end of pytest's output when no test ran at all.
fn refusal(env: &Environment, log_tail: &str) -> String {
    let failing: Vec<&String> =
        env.clean.iter().filter(|(_, s)| **s != TestStatus::Passed).map(|(t, _)| t).take(10).collect();
    let mut msg = if env.clean.is_empty() {
        format!("refusing {}: no test ran on the clean tree", env.repo)
    } else {
        format!(
            "refusing {}: only {} of the {} tests that ran pass on the clean tree ({:.0}% < {:.0}%); first failing: {}",
            env.repo,
            env.passing().len(),
            env.clean.len(),
            env.pass_rate() * 100.0,
            MIN_PASS_RATE * 100.0,
            failing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        )
    };
    if !env.collection_errors.is_empty() {
        let list: Vec<String> = env.collection_errors.iter().take(5).map(|(f, e)| format!("{f}: {e}")).collect();
        msg.push_str(&format!(
            "; {} test file(s) could not be collected: {}",
            env.collection_errors.len(),
            list.join("; ")
        ));
    }
    if !env.install_notes.is_empty() {
        msg.push_str(&format!("; install problems: {}", env.install_notes.join("; ")));
    }
    if env.clean.is_empty() && env.collection_errors.is_empty() && !log_tail.trim().is_empty() {
        msg.push_str(&format!("; pytest said: {}", log_tail.trim()));
    }
    msg
}

/// True when the coverage map holds at least one executed line.
fn covers_a_line(coverage: &BTreeMap<String, BTreeMap<u32, Vec<String>>>) -> bool {
    coverage.values().any(|lines| !lines.is_empty())
}

fn empty_coverage(env: &Environment, coverage_log: &str) -> String {
    let measured = if env.packages.is_empty() {
        "the repository".to_string()
    } else {
        env.packages.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    let log = coverage_log.trim();
    format!(
        "refusing {}: {} of {} tests pass, but coverage recorded no executed line of {measured}, so no candidate \
         could be placed or validated{}",
        env.repo,
        env.passing().len(),
        env.clean.len(),
        if log.is_empty() { String::new() } else { format!("; coverage said: {log}") }
    )
}

/// What preparing the build container found.
pub(super) struct Prepared {
    install_commands: Vec<String>,
    install_notes: Vec<String>,
    python_path: Option<String>,
    clean: BTreeMap<String, TestStatus>,
    durations: BTreeMap<String, f64>,
    coverage: BTreeMap<String, BTreeMap<u32, Vec<String>>>,
    collection_errors: BTreeMap<String, String>,
    repairs: Vec<String>,
    packages: BTreeMap<String, String>,
    pytest_args: Vec<String>,
    flaky: BTreeMap<String, String>,
    log_tail: String,
    coverage_log: String,
    coverage_note: Option<String>,
}

/// Rounds of the repair loop (collect, install what is missing) at most.
const REPAIR_ROUNDS: usize = 3;
/// Where the build writes the coverage configuration it measures with (the project's own, with
/// its plugins and `fail_under`, is not used).
const COVERAGE_RC: &str = "/tmp/socratic-coveragerc";

/// Suites that collect more tests than this run without per-test coverage contexts: each
/// context switch writes coverage data (about ten times the suite's own time at tens of
/// thousands of tests), and the map file → line → tests grows with tests × lines.
pub const MAX_CONTEXT_TESTS: usize = 10_000;
/// Seconds the clean run with per-test contexts may take; past it the suite runs again without
/// them (executed lines only). A build's clean run takes at most this plus one run with
/// file-level coverage (`EnvConfig::test_timeout_s`).
pub const CONTEXT_BUDGET_S: u64 = 600;

/// How the clean run measures coverage.
#[derive(Debug, Clone, PartialEq)]
enum Contexts {
    /// Per-test contexts, falling back to executed lines only after this many seconds.
    Budget(u64),
    /// Executed lines only, for this reason.
    Skip(String),
}

/// The clean run's shell script: pytest under coverage of `covs` (JUnit XML to
/// /tmp/clean.xml, output to /tmp/clean.log), with per-test contexts when `contexts` allows and
/// within its budget; then coverage's JSON report to /tmp/coverage.json. It writes
/// /tmp/coverage.mode: `contexts`, `budget` (the contexts run was cut off and the suite ran
/// again without them) or `skip`.
fn clean_run_script(covs: &str, path_var: &str, extra: &str, contexts: &Contexts) -> String {
    let pytest = |context: &str| {
        format!(
            "{path_var}python3 -m pytest -q -p no:cacheprovider --continue-on-collection-errors -o junit_family=xunit1 \
             --junitxml=/tmp/clean.xml {covs} --cov-config={COVERAGE_RC} {context}--cov-report= {extra} >/tmp/clean.log 2>&1"
        )
    };
    let fresh = "rm -f .coverage .coverage.* /tmp/clean.xml";
    let measure = match contexts {
        Contexts::Budget(secs) => format!(
            "{fresh}; timeout -k 10 {secs} sh -c '{}'; rc=$?; \
             if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo budget > /tmp/coverage.mode; {fresh}; {}; \
             else echo contexts > /tmp/coverage.mode; fi",
            pytest("--cov-context=test ").replace('\'', "'\\''"),
            pytest("")
        ),
        Contexts::Skip(_) => format!("{fresh}; echo skip > /tmp/coverage.mode; {}", pytest("")),
    };
    format!(
        "printf '[run]\\nbranch = False\\n' > {COVERAGE_RC}; {measure}; \
         python3 -m coverage json -i --rcfile={COVERAGE_RC} --show-contexts -o /tmp/coverage.json >/tmp/coverage.log 2>&1"
    )
}

/// What the install container holds after the install steps.
pub(super) struct Installed {
    /// The commands that worked, in order.
    pub(super) commands: Vec<String>,
    /// The steps that failed, each with why.
    pub(super) notes: Vec<String>,
    pub(super) python_path: Option<String>,
    pub(super) declared: recipe::Declared,
    /// Words the recipe file adds to every pytest run.
    pub(super) pytest_args: Vec<String>,
}

/// Collect (repairing what is missing) and run the clean suite with coverage in throwaway
/// containers from snapshots of the install container; run again to find flaky tests.
pub(super) async fn measure(
    build: &mut Build<'_>,
    repo: &Path,
    cfg: &EnvConfig,
    installed: &Installed,
) -> Result<Prepared> {
    let declared = &installed.declared;
    let python_path = installed.python_path.clone();
    let mut pytest_args: Vec<String> = if declared.pytest_plugins.iter().any(|p| p.starts_with("pytest-xdist")) {
        vec!["-n".into(), "0".into()]
    } else {
        vec![]
    };
    pytest_args.extend(installed.pytest_args.iter().cloned());
    let path_var = python_path.as_ref().map(|p| format!("PYTHONPATH={p} ")).unwrap_or_default();
    let extra = pytest_args.join(" ");
    let local = local_names(repo);
    let (repairs, collected) = repair(build, &format!("{path_var}python3 -m pytest {extra}"), &local, cfg).await?;
    // Build products of the install (compiled extensions, egg-info) are untracked files that
    // the per-candidate `git clean` must keep: exclude them from git's view. No test has run in
    // the install container, so every untracked file there is a build product.
    build.install_sh("git ls-files --others --exclude-standard | sed 's|^|/|' >> .git/info/exclude", 60).await?;
    let covs: Vec<String> = if declared.packages.is_empty() {
        vec!["--cov=.".to_string()]
    } else {
        declared.packages.iter().map(|p| format!("--cov={}", cov_target(p))).collect()
    };
    let contexts = match collected {
        Some(n) if n > MAX_CONTEXT_TESTS => Contexts::Skip(format!(
            "{n} tests collected (over {MAX_CONTEXT_TESTS}): per-test coverage contexts not taken; executed lines \
             only, candidates validated on their module's tests"
        )),
        _ => Contexts::Budget(CONTEXT_BUDGET_S),
    };
    let run = clean_run_script(&covs.join(" "), &path_var, &extra, &contexts);
    let suite = build.sandboxed().await?;
    let ran = clean_run(&suite, &run, &contexts, cfg).await;
    let rerun = format!(
        "git checkout -q -- . && git clean -fdq && rm -f /tmp/rerun.xml; \
         {path_var}python3 -m pytest -q -p no:cacheprovider --continue-on-collection-errors -o junit_family=xunit1 \
         --junitxml=/tmp/rerun.xml --no-cov {extra} >/dev/null 2>&1; cat /tmp/rerun.xml"
    );
    let mut reruns = Vec::new();
    if ran.is_ok() {
        for _ in 0..cfg.flaky_reruns {
            match rerun_statuses(&suite, &rerun, cfg).await {
                Ok(Some(statuses)) => reruns.push(statuses),
                Ok(None) => {}
                Err(e) => {
                    let _ = suite.remove().await;
                    return Err(e);
                }
            }
        }
    }
    suite.remove().await?;
    let ran = ran?;
    let flaky = flaky_tests(&ran.clean, &reruns);
    Ok(Prepared {
        install_commands: installed.commands.clone(),
        install_notes: installed.notes.clone(),
        python_path,
        clean: ran.clean,
        durations: ran.durations,
        coverage: ran.coverage,
        collection_errors: ran.collection_errors,
        repairs,
        packages: declared.packages.iter().map(|p| (p.path.clone(), p.import_name.clone())).collect(),
        pytest_args,
        flaky,
        log_tail: ran.log_tail,
        coverage_log: ran.coverage_log,
        coverage_note: ran.coverage_note,
    })
}

/// Copy the repository into the install container and install what it declares — or what its
/// recipe file says — (and pytest with coverage 5 or later). Returns the install commands that
/// worked, the notes of those that failed, the `PYTHONPATH` to run from the source tree when
/// the project did not install, and what the project declares.
async fn install(build: &mut Build<'_>, repo: &Path, cfg: &EnvConfig, file: Option<&RecipeFile>) -> Result<Installed> {
    if let Some(ca) = &cfg.ca_bundle {
        let bytes = std::fs::read(ca).map_err(|e| SandboxError::Other(format!("CA bundle {}: {e}", ca.display())))?;
        build.install().upload_tar("/", tar_one_file(CA_PATH, &bytes, 0o644)?).await?;
    }
    build.install().exec(&["mkdir", "-p", REPO_DIR], 30).await?;
    build.install().upload_tar(REPO_DIR, tar_repo(repo)?).await?;
    // The repository belongs to the sandbox user inside the image, whoever owned it on the host
    // (`Build::hand_over` again before every snapshot and the commit): tests run as that user.
    // It has an entry in /etc/passwd (home /tmp, the sealed containers' tmpfs); git settings
    // are system-wide so root (installing) and the sandbox user see the same.
    let user = format!(
        "grep -q '^socratic:' /etc/passwd || echo 'socratic:x:{SANDBOX_UID}:{SANDBOX_UID}:socratic sandbox:/tmp:/bin/sh' >> /etc/passwd; \
         grep -q '^socratic:' /etc/group || echo 'socratic:x:{SANDBOX_UID}:' >> /etc/group"
    );
    build.install_sh(&format!("{user}; git config --system --add safe.directory '*' && git config --system user.email socratic@localhost && git config --system user.name socratic && git checkout -q -- . && git clean -fdq"), 120).await?;
    let declared = recipe::declared(&recipe::read_project(repo), &recipe::package_markers(repo));
    let mut installed = Vec::new();
    let mut notes = Vec::new();
    let mut python_path = None;
    let steps = file.map_or_else(|| recipe::install_plan(&declared), RecipeFile::steps);
    for step in steps {
        match run_step(build, &step, cfg.install_timeout_s).await? {
            Ok(cmd) => installed.push(cmd),
            Err(note) => {
                // Not fatal: the clean run's pass rate decides. Run from the source tree instead.
                if step.what == "the project" && repo.join("src").is_dir() {
                    python_path = Some(format!("{REPO_DIR}/src"));
                }
                notes.push(note);
            }
        }
    }
    // Per-test contexts need coverage 5 or later (a project may pin an older one).
    let probe =
        "python3 -c 'import pytest, coverage, pytest_cov; assert int(coverage.__version__.split(\".\")[0]) >= 5'";
    let probe = sh(build.install(), probe, 60).await?;
    if probe.exit_code != 0 {
        let cmd = format!("{} pytest 'coverage>=5' pytest-cov", recipe::PIP);
        let out = build.install_sh(&cmd, cfg.install_timeout_s).await?;
        if out.exit_code != 0 {
            return Err(SandboxError::Other(format!(
                "cannot install pytest in the image: {}",
                tail(&out.stderr, 1500)
            )));
        }
        installed.push(cmd);
    }
    let pytest_args = file.map(|f| f.pytest_args.clone()).unwrap_or_default();
    Ok(Installed { commands: installed, notes, python_path, declared, pytest_args })
}

/// What the clean suite said, read back from its throwaway container.
struct CleanRun {
    clean: BTreeMap<String, TestStatus>,
    durations: BTreeMap<String, f64>,
    coverage: BTreeMap<String, BTreeMap<u32, Vec<String>>>,
    collection_errors: BTreeMap<String, String>,
    log_tail: String,
    coverage_log: String,
    coverage_note: Option<String>,
}

/// Run the clean suite (`run`, which writes /tmp/clean.{log,xml} and /tmp/coverage.{json,log})
/// in `suite` and read its results.
async fn clean_run(suite: &Container, run: &str, contexts: &Contexts, cfg: &EnvConfig) -> Result<CleanRun> {
    let budget = match contexts {
        Contexts::Budget(secs) => *secs,
        Contexts::Skip(_) => 0,
    };
    sh(suite, run, cfg.test_timeout_s + budget).await?;
    let mode = suite.exec(&["cat", "/tmp/coverage.mode"], 60).await?.stdout;
    let coverage_note = match (mode.trim(), contexts) {
        ("skip", Contexts::Skip(why)) => Some(why.clone()),
        ("budget", _) => Some(format!(
            "the clean run with per-test coverage contexts took over {budget} s: executed lines only, candidates \
             validated on their module's tests"
        )),
        _ => None,
    };
    let log = suite.exec(&["cat", "/tmp/clean.log"], 60).await?.stdout;
    let xml = suite.exec(&["cat", "/tmp/clean.xml"], 60).await?;
    if xml.exit_code != 0 {
        return Err(SandboxError::Other(format!("the test suite did not run: {}", tail(&log, 1500))));
    }
    let results = junit::parse(&xml.stdout).map_err(SandboxError::Other)?;
    let (collection_errors, results) = split_collection_errors(results, &log);
    let durations = results.iter().map(|(id, r)| (id.clone(), r.seconds)).collect();
    let clean = results.into_iter().map(|(id, r)| (id, r.status)).collect();
    let cov = suite.exec(&["cat", "/tmp/coverage.json"], 120).await?;
    let coverage = if cov.exit_code == 0 { parse_coverage(&cov.stdout) } else { BTreeMap::new() };
    let coverage_log = tail(&suite.exec(&["cat", "/tmp/coverage.log"], 60).await?.stdout, 600);
    Ok(CleanRun {
        clean,
        durations,
        coverage,
        collection_errors,
        log_tail: tail(&log, 800),
        coverage_log,
        coverage_note,
    })
}

/// One more run of the clean suite (`rerun` prints its JUnit XML): each test's status, or
/// `None` when it produced no report (a crashed run says nothing about single tests).
async fn rerun_statuses(
    suite: &Container,
    rerun: &str,
    cfg: &EnvConfig,
) -> Result<Option<BTreeMap<String, TestStatus>>> {
    let out = sh(suite, rerun, cfg.test_timeout_s).await?;
    Ok(junit::parse(&out.stdout).ok().map(|results| results.into_iter().map(|(id, r)| (id, r.status)).collect()))
}

/// Tests of the clean run whose status differs in some rerun (missing from a rerun counts as
/// differing) → every status seen, in order of first sight (`passed, failed`).
fn flaky_tests(
    clean: &BTreeMap<String, TestStatus>,
    reruns: &[BTreeMap<String, TestStatus>],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (id, first) in clean {
        let word = |s: &TestStatus| match s {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Skipped => "skipped",
            TestStatus::Error => "error",
            TestStatus::XFail => "xfail",
        };
        let mut seen = vec![word(first)];
        for run in reruns {
            let status = run.get(id).map_or("missing", word);
            if !seen.contains(&status) {
                seen.push(status);
            }
        }
        if seen.len() > 1 {
            out.insert(id.clone(), seen.join(", "));
        }
    }
    out
}

/// `--cov` target for a package: its folder, or the import name of a single-module one.
fn cov_target(p: &recipe::Package) -> String {
    if p.path.ends_with(".py") {
        p.import_name.clone()
    } else {
        p.path.clone()
    }
}

/// Run one install step: the first alternative that exits 0 without pip saying an asked-for
/// extra does not exist. `Ok(Ok(command))`, or `Ok(Err(note))` naming the step and why.
async fn run_step(
    build: &mut Build<'_>,
    step: &recipe::Step,
    secs: u64,
) -> Result<std::result::Result<String, String>> {
    let mut last = String::new();
    for cmd in &step.alternatives {
        let out = build.install_sh(&format!("{cmd} 2>&1"), secs).await?;
        if out.exit_code == 0 && !recipe::missed_extra(&out.stdout) {
            return Ok(Ok(cmd.clone()));
        }
        last = if out.exit_code == 0 {
            format!("`{cmd}`: {}", first_line_with(&out.stdout, "does not provide the extra"))
        } else {
            format!("`{cmd}`: {}", tail(&out.stdout, 400).trim())
        };
    }
    Ok(Err(format!("{} failed: {last}", step.what)))
}

fn first_line_with(text: &str, needle: &str) -> String {
    text.lines().find(|l| l.contains(needle)).unwrap_or("").trim().to_string()
}

/// The repair loop: collect the suite (in a throwaway container, network off), install the
/// distributions of the modules (and plugins) it could not import (in the install container),
/// at most a few rounds. Returns what was tried, for the record, and how many tests the last
/// collection found (when pytest said).
async fn repair(
    build: &mut Build<'_>,
    pytest: &str,
    local: &[String],
    cfg: &EnvConfig,
) -> Result<(Vec<String>, Option<usize>)> {
    let mut tried: Vec<String> = Vec::new();
    let mut record = Vec::new();
    let mut collected = None;
    for _ in 0..REPAIR_ROUNDS {
        // `--no-cov`: a project's addopts may turn coverage on with its own configuration
        // (branch data, `--cov-append`); a data file left behind would spoil the clean run's.
        let collect = format!(
            "{pytest} --collect-only -q -p no:cacheprovider --continue-on-collection-errors --no-cov 2>&1 | tail -c 200000"
        );
        let sandbox = build.sandboxed().await?;
        let out = sh(&sandbox, &collect, cfg.test_timeout_s).await;
        sandbox.remove().await?;
        let out = out?;
        collected = collected_count(&out.stdout);
        let missing: Vec<String> =
            recipe::missing_distributions(&out.stdout, local).into_iter().filter(|d| !tried.contains(d)).collect();
        if missing.is_empty() {
            break;
        }
        for dist in missing {
            let res = build
                .install_sh(&format!("{} {} 2>&1", recipe::PIP, shlex_quote(&dist)), cfg.install_timeout_s)
                .await?;
            record.push(if res.exit_code == 0 {
                format!("{dist}: installed")
            } else {
                format!("{dist}: pip failed: {}", tail(&res.stdout, 200).trim())
            });
            tried.push(dist);
        }
    }
    Ok((record, collected))
}

/// The number of tests in pytest's `--collect-only -q` summary (`26854 tests collected in 3.1s`,
/// `12 tests collected, 2 errors in 0.4s`, `1 test collected`).
fn collected_count(output: &str) -> Option<usize> {
    output.lines().rev().find_map(|line| {
        let line = line.trim().trim_matches('=').trim();
        let (n, rest) = line.split_once(' ')?;
        let said = rest.starts_with("tests collected") || rest.starts_with("test collected");
        if said {
            n.parse().ok()
        } else {
            None
        }
    })
}

fn shlex_quote(s: &str) -> String {
    shlex::try_quote(s).map(|q| q.into_owned()).unwrap_or_else(|_| "''".into())
}

/// Names importable from the repository itself (top-level and `src/` folders and modules): a
/// missing module by one of these names is the project's, not a distribution to install.
fn local_names(repo: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for base in [repo.to_path_buf(), repo.join("src")] {
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            if let Some(name) = entry.file_name().to_str() {
                out.push(name.strip_suffix(".py").unwrap_or(name).to_string());
            }
        }
    }
    out
}

/// Collection failures out of the clean results, keyed by the test file with the first line
/// of their error (pytest's short summary: `ERROR tests/test_x.py - ModuleNotFoundError: ...`).
fn split_collection_errors(
    results: BTreeMap<String, crate::model::TestResult>,
    log: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, crate::model::TestResult>) {
    // The ERRORS section: `____ ERROR collecting tests/test_x.py ____`, then the traceback,
    // whose first `E   ` line is the error (older pytest's summary lines carry no reason).
    let mut first_error: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        if let Some(i) = line.find("ERROR collecting ") {
            current = line[i + "ERROR collecting ".len()..].split_whitespace().next().map(String::from);
        } else if let (Some(file), Some(e)) = (&current, line.strip_prefix("E ")) {
            first_error.entry(file.clone()).or_insert_with(|| e.trim().to_string());
        }
    }
    let mut errors = BTreeMap::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("ERROR ") else { continue };
        let (path, why) = rest.split_once(" - ").unwrap_or((rest, ""));
        if path.contains("::") || path.contains(' ') {
            continue;
        }
        let why = match (why.trim(), first_error.get(path)) {
            ("", Some(e)) => e.clone(),
            ("", None) => "could not be collected".to_string(),
            (why, _) => why.to_string(),
        };
        errors.insert(path.to_string(), why);
    }
    let (failed, ran): (BTreeMap<_, _>, BTreeMap<_, _>) = results
        .into_iter()
        .partition(|(_, r)| r.status == TestStatus::Error && r.message.contains("collection failure"));
    let dotted = |s: &str| s.trim_end_matches(".py").replace('/', ".");
    for id in failed.keys() {
        if !errors.keys().any(|k| dotted(k) == dotted(id)) {
            errors.insert(id.clone(), "could not be collected".into());
        }
    }
    (errors, ran)
}

async fn sh(container: &Container, script: &str, secs: u64) -> Result<super::ExecOutput> {
    let script = format!("cd {REPO_DIR} && {script}");
    container.exec(&["sh", "-c", &script], secs).await
}

fn tail(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
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
    fn coverage_contexts_become_tests() {
        let json = r#"{"files": {"pkg/a.py": {"contexts": {"3": ["", "tests/test_a.py::test_x|run", "tests/test_a.py::test_x|setup"], "5": ["tests/test_a.py::test_y[1]|run"]}}}}"#;
        let cov = parse_coverage(json);
        assert_eq!(cov["pkg/a.py"][&3], vec!["tests/test_a.py::test_x".to_string()]);
        assert_eq!(cov["pkg/a.py"][&5], vec!["tests/test_a.py::test_y[1]".to_string()]);
        assert!(parse_coverage("not json").is_empty());
    }

    fn result(status: TestStatus, message: &str) -> crate::model::TestResult {
        crate::model::TestResult { status, message: message.into(), seconds: 0.0 }
    }

    #[test]
    fn collection_errors_are_not_tests_and_the_refusal_names_them() {
        let results: BTreeMap<String, crate::model::TestResult> = [
            ("tests/test_a.py::test_ok".to_string(), result(TestStatus::Passed, "")),
            ("tests/test_a.py::test_bad".to_string(), result(TestStatus::Failed, "assert 1 == 2")),
            ("tests.test_b".to_string(), result(TestStatus::Error, "collection failure")),
        ]
        .into();
        let log = "....F\n____ ERROR collecting tests/test_c.py ____\nImportError while importing test module\n\
                   E   ModuleNotFoundError: No module named 'yaml'\nE   more\n\
                   ERROR tests/test_b.py - ModuleNotFoundError: No module named 'pretend'\n\
                   ERROR tests/test_c.py\n\
                   ERROR tests/test_a.py::test_x - fixture 'db' not found\n1 failed, 1 passed, 1 error\n";
        let (errors, ran) = split_collection_errors(results, log);
        assert_eq!(ran.len(), 2);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors["tests/test_b.py"], "ModuleNotFoundError: No module named 'pretend'");
        assert_eq!(errors["tests/test_c.py"], "ModuleNotFoundError: No module named 'yaml'");
        let errors: BTreeMap<String, String> = errors.into_iter().filter(|(k, _)| k.ends_with("_b.py")).collect();
        let env = Environment {
            repo: "/r".into(),
            head: "h".into(),
            image: "i".into(),
            base_image: "b".into(),
            install_commands: vec![],
            clean: ran.into_iter().map(|(t, r)| (t, r.status)).collect(),
            durations: BTreeMap::new(),
            python_path: None,
            install_notes: vec![],
            coverage: BTreeMap::new(),
            build_ms: 0,
            collection_errors: errors,
            repairs: vec![],
            packages: BTreeMap::new(),
            pytest_args: vec![],
            flaky: BTreeMap::new(),
            recipe_source: Default::default(),
            coverage_note: None,
        };
        let msg = refusal(&env, "");
        assert!(msg.contains("only 1 of the 2 tests that ran pass"), "{msg}");
        assert!(msg.contains("1 test file(s) could not be collected: tests/test_b.py: ModuleNotFoundError"), "{msg}");
        let none = Environment { clean: BTreeMap::new(), collection_errors: BTreeMap::new(), ..env };
        let msg = refusal(&none, "ERROR: usage: pytest [options]\npytest: error: unrecognized arguments: --foo");
        assert!(msg.contains("no test ran") && msg.contains("unrecognized arguments: --foo"), "{msg}");
        assert!(!covers_a_line(&none.coverage));
        assert!(empty_coverage(&none, "No data to report.").contains("coverage recorded no executed line"));
    }

    #[test]
    fn a_test_is_flaky_when_a_rerun_saw_another_outcome() {
        use TestStatus::*;
        let map = |pairs: &[(&str, TestStatus)]| -> BTreeMap<String, TestStatus> {
            pairs.iter().map(|(t, s)| (t.to_string(), *s)).collect()
        };
        let clean = map(&[("a", Passed), ("b", Passed), ("c", Failed), ("d", Passed)]);
        let reruns = [
            map(&[("a", Passed), ("b", Failed), ("c", Failed), ("d", Passed)]),
            map(&[("a", Passed), ("b", Passed), ("c", Passed)]),
        ];
        let flaky = flaky_tests(&clean, &reruns);
        assert_eq!(flaky.keys().collect::<Vec<_>>(), ["b", "c", "d"]);
        assert_eq!(flaky["b"], "passed, failed");
        assert_eq!(flaky["d"], "passed, missing");
        assert!(flaky_tests(&clean, &[]).is_empty());
        assert!(flaky_tests(&clean, &[clean.clone(), clean.clone()]).is_empty());
    }

    #[test]
    fn the_collected_count_comes_from_pytests_summary() {
        assert_eq!(collected_count("a.py::t\n\n26854 tests collected in 3.12s\n"), Some(26854));
        assert_eq!(collected_count("12 tests collected, 2 errors in 0.40s"), Some(12));
        assert_eq!(collected_count("==== 1 test collected in 0.01s ===="), Some(1));
        assert_eq!(collected_count("no tests ran in 0.01s"), None);
    }

    #[test]
    fn the_clean_run_takes_contexts_within_a_budget_or_says_why_not() {
        let budget = clean_run_script("--cov=pkg", "PYTHONPATH=/repo/src ", "-n 0", &Contexts::Budget(600));
        // The contexts run is cut off after the budget, then the suite runs without contexts.
        assert!(budget.contains("timeout -k 10 600 sh -c 'PYTHONPATH=/repo/src python3 -m pytest"), "{budget}");
        assert_eq!(budget.matches("--cov-context=test").count(), 1, "{budget}");
        assert_eq!(budget.matches("--cov=pkg").count(), 2, "{budget}");
        assert!(budget.contains("echo budget > /tmp/coverage.mode"), "{budget}");
        let skip = clean_run_script("--cov=pkg", "", "", &Contexts::Skip("too many".into()));
        assert!(!skip.contains("--cov-context") && !skip.contains("timeout"), "{skip}");
        assert!(skip.contains("echo skip > /tmp/coverage.mode") && skip.ends_with("2>&1"), "{skip}");
        // A quote in an argument survives the inner shell.
        let quoted = clean_run_script("--cov='my pkg'", "", "", &Contexts::Budget(5));
        assert!(quoted.contains("--cov='\\''my pkg'\\''"), "{quoted}");
    }

    #[test]
    fn image_names_are_valid_docker_references() {
        let n = env_image_name("My_Repo.v2", "abc", "base");
        assert!(n.starts_with("socratic-env-my-repo-v2:"), "{n}");
        assert!(base_image_name(&BootstrapConfig::default()).starts_with("socratic-base:bookworm-"));
    }
}
