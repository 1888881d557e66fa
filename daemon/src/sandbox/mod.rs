//! The sandbox: Docker through bollard, and the only code that talks to the engine.
//!
//! In: image names, commands, tar archives, patches. Out: containers (guards that remove
//! themselves), exec results, committed images, and per-test results from the warm runner.
//!
//! Every container carries the label `socratic.owner` and the creating process id; `sweep`
//! removes leftovers of processes that are gone. Validation containers run with the network
//! off, memory / pids / CPU limits, and no host mounts.

pub mod image;
pub mod junit;
pub mod recipe;
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
}

/// Resource limits for a container.
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: i64,
    pub pids: i64,
    /// CPUs in units of 1e-9 (Docker's NanoCpus).
    pub nano_cpus: i64,
    pub network: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 2 << 30, pids: 512, nano_cpus: 1_000_000_000, network: false }
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
    /// Connect and ping; a clear error with the fix when no engine answers.
    pub async fn connect() -> Result<Engine> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let docker = Docker::connect_with_defaults()
            .map_err(|e| SandboxError::NoEngine { endpoint: endpoint.clone(), message: e.to_string() })?;
        match tokio::time::timeout(Duration::from_secs(5), docker.ping()).await {
            Ok(Ok(_)) => Ok(Engine { docker }),
            Ok(Err(e)) => Err(SandboxError::NoEngine { endpoint, message: e.to_string() }),
            Err(_) => Err(SandboxError::NoEngine { endpoint, message: "no answer in 5 s".into() }),
        }
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Whether an image with this name exists locally.
    pub async fn image_exists(&self, name: &str) -> bool {
        self.docker.inspect_image(name).await.is_ok()
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
        let mut labels = HashMap::new();
        labels.insert(OWNER_LABEL.to_string(), "socratic".to_string());
        labels.insert(PID_LABEL.to_string(), std::process::id().to_string());
        let host_config = HostConfig {
            memory: Some(limits.memory_bytes),
            pids_limit: Some(limits.pids),
            nano_cpus: Some(limits.nano_cpus),
            network_mode: Some(if limits.network { "bridge".into() } else { "none".into() }),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            labels: Some(labels),
            env: Some(env.to_vec()),
            network_disabled: Some(!limits.network),
            host_config: Some(host_config),
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

    /// Remove containers left by socratic processes that no longer run.
    pub async fn sweep(&self) -> Result<usize> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![OWNER_LABEL.to_string()]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
            .await
            .map_err(docker_err("list containers"))?;
        let mut removed = 0;
        for c in list {
            let pid = c.labels.as_ref().and_then(|l| l.get(PID_LABEL)).and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
            if let (false, Some(id)) = (alive, c.id) {
                let opts = RemoveContainerOptionsBuilder::default().force(true).build();
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

    /// Unpack a tar archive at `dest` inside the container.
    pub async fn upload_tar(&self, dest: &str, tar: Vec<u8>) -> Result<()> {
        let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::default().path(dest).build();
        self.engine
            .docker
            .upload_to_container(&self.id, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(docker_err(format!("upload to {dest}")))
    }

    /// Commit the container's file system as `repo:tag`.
    pub async fn commit(&self, repo: &str, tag: &str) -> Result<()> {
        let opts = bollard::query_parameters::CommitContainerOptionsBuilder::default()
            .container(&self.id)
            .repo(repo)
            .tag(tag)
            .pause(true)
            .build();
        let config = bollard::models::ContainerConfig {
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            ..Default::default()
        };
        self.engine.docker.commit_container(opts, config).await.map_err(docker_err("commit"))?;
        Ok(())
    }

    /// Remove the container (forced).
    pub async fn remove(mut self) -> Result<()> {
        self.removed = true;
        let opts = RemoveContainerOptionsBuilder::default().force(true).build();
        self.engine.docker.remove_container(&self.id, Some(opts)).await.map_err(docker_err("remove container"))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let docker = self.engine.docker.clone();
        let id = self.id.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let opts = RemoveContainerOptionsBuilder::default().force(true).build();
                let _ = docker.remove_container(&id, Some(opts)).await;
            });
        }
    }
}
