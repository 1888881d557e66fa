//! The sandbox: Docker through bollard, and the only code that talks to the engine.
//!
//! In: image names, commands, tar archives, patches. Out: containers (guards that remove
//! themselves), exec results, committed images, and per-test results from the warm runner.
//!
//! Ownership: an `Engine` is connected for one socratic home (`owner_of_home`). Every container
//! it creates carries `socratic.owner=<that home's id>` and the creating process (pid and start
//! time); `sweep` removes only containers of this home whose process is gone, so containers
//! other tools start (even from our images) are never touched. Images are committed with those
//! labels blanked, so nothing started from an image looks like ours. A guard dropped without
//! `remove()` removes its container on a thread of its own, independent of the async runtime
//! that dropped it; `wait_for_removals` lets a process wait for them before it exits.
//! Containers the repository's code runs in (validation workers, the environment build's
//! collection and clean suite, Solvers' containers) are *sealed*: the network off, an
//! unprivileged user (`SANDBOX_USER`, the owner of the repository in environment images), no
//! capabilities, `no-new-privileges`, memory / pids / CPU limits, no host mounts, and a
//! read-only root file system; what may be written is a tmpfs at `/tmp` (also the user's home
//! and caches) and the repository, a volume Docker fills with the image's copy at creation and
//! removes with the container. Only installing runs with the network on (as root), in a
//! container no test runs in (`image::build_env`). Files are put into sealed containers by
//! `Container::write_file` (an exec writing its stdin, as the container's user), not by
//! archive uploads, which cannot reach a tmpfs. Derivations (`Limits::derivation`: our own
//! scripts that make an export's image) run as root, network off, with only the capabilities
//! to write the sandbox user's files, on a writable root file system the commit keeps.

pub mod derived;
pub mod image;
pub mod junit;
pub mod recipe;
pub mod recipe_file;
pub mod setup_agent;
pub mod worker;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

/// Label put on every container we create.
pub const OWNER_LABEL: &str = "socratic.owner";
/// Label holding the creating process id.
pub const PID_LABEL: &str = "socratic.pid";
/// Label holding the creating process's start time (clock ticks since boot), so a reused pid
/// does not keep a leftover alive.
pub const STARTED_LABEL: &str = "socratic.started";
/// Label holding the creating process's pid namespace: a pid means something only there.
pub const PIDNS_LABEL: &str = "socratic.pidns";
const OUR_LABELS: [&str; 4] = [OWNER_LABEL, PID_LABEL, STARTED_LABEL, PIDNS_LABEL];
/// The uid and gid the repository's code runs as in sealed containers (network off).
pub const SANDBOX_UID: u32 = 10001;
/// `SANDBOX_UID` as Docker's `user` setting.
pub const SANDBOX_USER: &str = "10001:10001";
/// The tmpfs of a sealed container: its only writable place besides the repository.
const SEALED_TMPFS: (&str, &str) = ("/tmp", "rw,exec,nosuid,nodev,size=1g,mode=1777");

/// This process's pid namespace (`pid:[inode]`), if it can be read.
fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid").ok().map(|p| p.display().to_string())
}

/// The owner id of a socratic home: a hash of its canonical path. Containers carry it, and a
/// home sweeps only its own.
pub fn owner_of_home(home: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let path = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    format!("home-{}", &hex::encode(digest)[..16])
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22), if it runs.
fn process_start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

/// Whether the process a container's labels name may still be the one that created it. A
/// creator in another pid namespace cannot be checked from here: it counts as alive (its own
/// sweeps judge it). Without a recorded start time a pid proves nothing: not alive.
fn creator_alive(labels: &HashMap<String, String>) -> bool {
    // Blank values (what a container started from one of our images inherits) count as absent.
    let label = |name: &str| labels.get(name).filter(|v| !v.is_empty());
    if label(PIDNS_LABEL).is_some_and(|ns| Some(ns) != pid_namespace().as_ref()) {
        return true;
    }
    let Some(pid) = label(PID_LABEL).and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    match (process_start_time(pid), label(STARTED_LABEL)) {
        (Some(now), Some(recorded)) => &now == recorded,
        _ => false,
    }
}

/// Sandbox errors name the operation; bollard's errors are wrapped, not leaked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("no Docker engine answers at {endpoint}: {message}. Start one (`dockerd &`, or `systemctl start docker`) or point DOCKER_HOST at a running engine")]
    NoEngine { endpoint: String, message: String },
    #[error("docker {op}: {source}")]
    Docker { op: String, source: bollard::errors::Error },
    #[error("docker {op}: timed out after {secs} s")]
    Timeout { op: String, secs: u64 },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, SandboxError>;

fn docker_err(op: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> SandboxError {
    let op = op.into();
    move |source| SandboxError::Docker { op, source }
}

/// Run a future with a time limit, naming the operation on timeout.
pub async fn with_timeout<T>(op: &str, secs: u64, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .map_err(|_| SandboxError::Timeout { op: op.to_string(), secs })?
}

/// A connection to a Docker engine (local socket, or `DOCKER_HOST`).
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    owner: String,
}

/// Resource limits for a container.
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: i64,
    pub pids: i64,
    /// CPUs in units of 1e-9 (Docker's NanoCpus).
    pub nano_cpus: i64,
    /// On: installing (root, Docker's default capabilities). Off: sealed (see the module doc).
    pub network: bool,
    /// Network off, for our own scripts that derive an image (exports), never for the
    /// repository's tests: root with only the capabilities to write the sandbox user's files
    /// (`CHOWN`, `DAC_OVERRIDE`, `FOWNER`) and a writable root file system holding the
    /// repository (no volume), so the commit keeps what the script did.
    pub derivation: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 2 << 30, pids: 512, nano_cpus: 1_000_000_000, network: false, derivation: false }
    }
}

/// The host settings of a container with `limits`: sealed when the network is off.
fn host_config(limits: &Limits) -> HostConfig {
    let sealed = !limits.network && !limits.derivation;
    let read_only = sealed;
    let repo_volume = bollard::models::Mount {
        target: Some(worker::REPO_DIR.to_string()),
        typ: Some(bollard::models::MountType::VOLUME),
        ..Default::default()
    };
    HostConfig {
        memory: Some(limits.memory_bytes),
        pids_limit: Some(limits.pids),
        nano_cpus: Some(limits.nano_cpus),
        network_mode: Some(if limits.network { "bridge".into() } else { "none".into() }),
        security_opt: Some(vec!["no-new-privileges".into()]),
        // Where the repository's code runs (network off), no capabilities: it cannot chown,
        // bypass file permissions, load modules or raw-socket. Installing keeps them.
        cap_drop: (!limits.network).then(|| vec!["ALL".into()]),
        cap_add: limits.derivation.then(|| vec!["CHOWN".into(), "DAC_OVERRIDE".into(), "FOWNER".into()]),
        readonly_rootfs: Some(read_only),
        tmpfs: read_only.then(|| HashMap::from([(SEALED_TMPFS.0.to_string(), SEALED_TMPFS.1.to_string())])),
        // An anonymous volume over the repository: Docker copies the image's tree (owned by
        // `SANDBOX_UID`) into it when the container is created; removed with the container.
        mounts: read_only.then(|| vec![repo_volume]),
        ..Default::default()
    }
}

/// What an exec printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Engine {
    /// Connect and ping; a clear error with the fix when no engine answers. `owner` is the id
    /// of the home the containers belong to (`owner_of_home`).
    pub async fn connect(owner: &str) -> Result<Engine> {
        let owner = owner.to_string();
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let docker = Docker::connect_with_defaults()
            .map_err(|e| SandboxError::NoEngine { endpoint: endpoint.clone(), message: e.to_string() })?;
        match tokio::time::timeout(Duration::from_secs(5), docker.ping()).await {
            Ok(Ok(_)) => Ok(Engine { docker, owner }),
            Ok(Err(e)) => Err(SandboxError::NoEngine { endpoint, message: e.to_string() }),
            Err(_) => Err(SandboxError::NoEngine { endpoint, message: "no answer in 5 s".into() }),
        }
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The owner id this engine labels its containers with.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether an image with this name exists locally.
    pub async fn image_exists(&self, name: &str) -> bool {
        self.docker.inspect_image(name).await.is_ok()
    }

    /// Whether an image exists and carries no ownership of ours. Images committed before
    /// ownership labels were blanked make every container started from them look like a
    /// leftover of ours: they are rebuilt rather than reused.
    pub async fn image_reusable(&self, name: &str) -> bool {
        let Ok(inspect) = self.docker.inspect_image(name).await else { return false };
        let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
        OUR_LABELS.iter().all(|l| labels.get(*l).is_none_or(|v| v.is_empty()))
    }

    /// Remove an image (forced); absent images are not an error.
    pub async fn remove_image(&self, name: &str) -> Result<()> {
        let opts = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).build();
        match self.docker.remove_image(name, Some(opts), None).await {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(SandboxError::Docker { op: format!("remove image {name}"), source: e }),
        }
    }

    /// Create and start a container that idles (`sleep infinity`), with our labels and limits.
    pub async fn start_container(&self, image: &str, limits: &Limits, env: &[String]) -> Result<Container> {
        let pid = std::process::id();
        let mut labels = HashMap::new();
        labels.insert(OWNER_LABEL.to_string(), self.owner.clone());
        labels.insert(PID_LABEL.to_string(), pid.to_string());
        if let Some(started) = process_start_time(pid) {
            labels.insert(STARTED_LABEL.to_string(), started);
        }
        if let Some(ns) = pid_namespace() {
            labels.insert(PIDNS_LABEL.to_string(), ns);
        }
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            user: (!limits.network && !limits.derivation).then(|| SANDBOX_USER.to_string()),
            labels: Some(labels),
            env: Some(env.to_vec()),
            network_disabled: Some(!limits.network),
            host_config: Some(host_config(limits)),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(CreateContainerOptionsBuilder::default().build()), body)
            .await
            .map_err(docker_err(format!("create container from {image}")))?;
        let container = Container { engine: self.clone(), id: created.id, removed: false };
        self.docker.start_container(&container.id, None).await.map_err(docker_err("start container"))?;
        Ok(container)
    }

    /// Remove containers this home's socratic processes left behind when they ended.
    pub async fn sweep(&self) -> Result<usize> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![format!("{OWNER_LABEL}={}", self.owner)]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
            .await
            .map_err(docker_err("list containers"))?;
        let mut removed = 0;
        for c in list {
            let ours = c.labels.as_ref().and_then(|l| l.get(OWNER_LABEL)) == Some(&self.owner);
            let alive = c.labels.as_ref().is_some_and(creator_alive);
            if let (true, false, Some(id)) = (ours, alive, c.id) {
                let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
                if self.docker.remove_container(&id, Some(opts)).await.is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// A running container; removed by `remove().await`, or on drop as a fallback.
pub struct Container {
    engine: Engine,
    pub id: String,
    removed: bool,
}

impl Container {
    /// Run a command to completion and collect its output.
    pub async fn exec(&self, cmd: &[&str], secs: u64) -> Result<ExecOutput> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let docker = &self.engine.docker;
        let op = format!("exec {}", cmd.first().unwrap_or(&""));
        with_timeout(&op, secs, async {
            let exec = docker
                .create_exec(
                    &self.id,
                    CreateExecOptions {
                        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map_err(docker_err(op.clone()))?;
            let mut out = ExecOutput::default();
            if let StartExecResults::Attached { mut output, .. } =
                docker.start_exec(&exec.id, None).await.map_err(docker_err(op.clone()))?
            {
                while let Some(chunk) = output.next().await {
                    match chunk.map_err(docker_err(op.clone()))? {
                        bollard::container::LogOutput::StdOut { message } => {
                            out.stdout.push_str(&String::from_utf8_lossy(&message))
                        }
                        bollard::container::LogOutput::StdErr { message } => {
                            out.stderr.push_str(&String::from_utf8_lossy(&message))
                        }
                        _ => {}
                    }
                }
            }
            let inspect = docker.inspect_exec(&exec.id).await.map_err(docker_err(op.clone()))?;
            out.exit_code = inspect.exit_code.unwrap_or(-1);
            Ok(out)
        })
        .await
    }

    /// Write `contents` to the file `path` inside the container (its folder created), as the
    /// container's user: an exec that copies its stdin, so it reaches a tmpfs or a volume and
    /// works on a read-only root file system.
    pub async fn write_file(&self, path: &str, contents: &[u8], secs: u64) -> Result<()> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        use tokio::io::AsyncWriteExt;
        let docker = &self.engine.docker;
        let op = format!("write {path}");
        let script = r#"mkdir -p "$(dirname "$1")" && cat > "$1""#;
        with_timeout(&op, secs, async {
            let exec = docker
                .create_exec(
                    &self.id,
                    CreateExecOptions::<String> {
                        cmd: Some(vec!["sh".into(), "-c".into(), script.into(), "sh".into(), path.into()]),
                        attach_stdin: Some(true),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map_err(docker_err(op.clone()))?;
            let StartExecResults::Attached { mut output, mut input } =
                docker.start_exec(&exec.id, None).await.map_err(docker_err(op.clone()))?
            else {
                return Err(SandboxError::Other(format!("{op}: the exec started detached")));
            };
            let io_err = |e: std::io::Error| SandboxError::Other(format!("{op}: {e}"));
            input.write_all(contents).await.map_err(io_err)?;
            input.shutdown().await.map_err(io_err)?;
            let mut said = String::new();
            while let Some(chunk) = output.next().await {
                said.push_str(&chunk.map_err(docker_err(op.clone()))?.to_string());
            }
            let inspect = docker.inspect_exec(&exec.id).await.map_err(docker_err(op.clone()))?;
            match inspect.exit_code {
                Some(0) => Ok(()),
                code => Err(SandboxError::Other(format!("{op}: exited {code:?}: {}", said.trim()))),
            }
        })
        .await
    }

    /// Unpack a tar archive at `dest` inside the container (root's way in: not for a tmpfs or a
    /// read-only root file system; see `write_file`).
    pub async fn upload_tar(&self, dest: &str, tar: Vec<u8>) -> Result<()> {
        let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::default().path(dest).build();
        self.engine
            .docker
            .upload_to_container(&self.id, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(docker_err(format!("upload to {dest}")))
    }

    /// Commit the container's file system as `repo:tag`. Our ownership labels are blanked in
    /// the image (Docker merges the container's labels into a commit and cannot drop a key), so
    /// containers others start from it are not ours and no sweep touches them.
    pub async fn commit(&self, repo: &str, tag: &str) -> Result<()> {
        let opts = bollard::query_parameters::CommitContainerOptionsBuilder::default()
            .container(&self.id)
            .repo(repo)
            .tag(tag)
            .pause(true)
            .build();
        let config = bollard::models::ContainerConfig {
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            // Docker would keep a sealed container's user in the image: images start as root,
            // and sealed containers set their user themselves.
            user: Some("0".into()),
            labels: Some(OUR_LABELS.iter().map(|l| (l.to_string(), String::new())).collect()),
            ..Default::default()
        };
        self.engine.docker.commit_container(opts, config).await.map_err(docker_err("commit"))?;
        Ok(())
    }

    /// Remove the container (forced) and its anonymous volume.
    pub async fn remove(mut self) -> Result<()> {
        self.removed = true;
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        self.engine.docker.remove_container(&self.id, Some(opts)).await.map_err(docker_err("remove container"))
    }
}

impl Drop for Container {
    /// The fallback for guards dropped on error paths: remove the container on a thread with a
    /// runtime of its own, so the removal survives the runtime (or the whole async task tree)
    /// that dropped the guard.
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        removals::spawn(self.id.clone());
    }
}

/// Container removals handed off by dropped guards, and a way to wait for them.
mod removals {
    use std::sync::{Condvar, Mutex};
    use std::time::{Duration, Instant};

    static PENDING: Mutex<usize> = Mutex::new(0);
    static DONE: Condvar = Condvar::new();

    /// Remove container `id` on a new thread (a fresh connection and a current-thread runtime).
    pub(super) fn spawn(id: String) {
        *PENDING.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let spawned = std::thread::Builder::new().name("socratic-container-removal".into()).spawn(move || {
            remove_blocking(&id);
            finish();
        });
        if spawned.is_err() {
            finish();
        }
    }

    fn remove_blocking(id: &str) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async {
            let Ok(docker) = bollard::Docker::connect_with_defaults() else { return };
            let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).v(true).build();
            let removal = docker.remove_container(id, Some(opts));
            let _ = tokio::time::timeout(Duration::from_secs(60), removal).await;
        });
    }

    fn finish() {
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        *pending = pending.saturating_sub(1);
        DONE.notify_all();
    }

    /// Wait (at most `limit`) until every handed-off removal has finished; true when none is left.
    pub fn wait(limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        while *pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            pending = DONE.wait_timeout(pending, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }
}

/// Wait (at most `limit`) for the removals of containers whose guards were dropped; a process
/// calls this before it exits so none is left behind.
pub fn wait_for_removals(limit: Duration) -> bool {
    removals::wait(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, String)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn a_creator_is_alive_only_as_the_same_process_in_our_pid_namespace() {
        let me = std::process::id();
        let started = process_start_time(me).expect("our own start time");
        let ns = pid_namespace().expect("our pid namespace");
        assert!(creator_alive(&labels(&[(PID_LABEL, me.to_string()), (STARTED_LABEL, started.clone())])));
        // The same pid, started at another time: a reused pid, not the creator.
        assert!(!creator_alive(&labels(&[(PID_LABEL, me.to_string()), (STARTED_LABEL, "1".into())])));
        // pid 1 runs, but a pid without a start time proves nothing.
        assert!(!creator_alive(&labels(&[(PID_LABEL, "1".into())])));
        assert!(!creator_alive(&labels(&[(PID_LABEL, "999999999".into()), (STARTED_LABEL, started.clone())])));
        // A creator in another pid namespace is not judged from here.
        let elsewhere =
            labels(&[(PID_LABEL, "999999999".into()), (STARTED_LABEL, started), (PIDNS_LABEL, "pid:[1]".into())]);
        assert!(creator_alive(&elsewhere));
        // Blank labels inherited from an image say nothing: a dead pid is dead.
        let inherited =
            labels(&[(PID_LABEL, "999999999".into()), (STARTED_LABEL, String::new()), (PIDNS_LABEL, String::new())]);
        assert!(!creator_alive(&inherited));
        assert_ne!(ns, "pid:[1]");
    }

    #[test]
    fn a_home_owner_id_is_stable_and_differs_between_homes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert_eq!(owner_of_home(a.path()), owner_of_home(&a.path().join(".")));
        assert_ne!(owner_of_home(a.path()), owner_of_home(b.path()));
        assert!(owner_of_home(a.path()).starts_with("home-"));
    }
}
