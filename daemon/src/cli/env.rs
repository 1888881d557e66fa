//! `socratic env bootstrap|build|show`: base and environment images.

use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::sandbox::image::{self, BootstrapConfig, EnvConfig, Environment};
use crate::sandbox::Engine;
use crate::store::Store;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Build the local base image with debootstrap (for machines with no registry); prints its name.
    Bootstrap(BootstrapArgs),
    /// Build (or reuse) a repository's environment image: install, run the suite, map coverage.
    Build(BuildArgs),
    /// Show the environment stored for a repository's HEAD.
    Show { #[arg(long)] repo: PathBuf, #[arg(long)] json: bool },
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
    #[arg(long, default_value = "http://deb.debian.org/debian")]
    pub mirror: String,
}

#[derive(Debug, Args, Clone)]
pub struct ImageArgs {
    /// Base image to build environments from (pulled if absent). Default: the bootstrapped one.
    #[arg(long, env = "SOCRATIC_BASE_IMAGE")]
    pub base_image: Option<String>,
    /// Extra CA bundle for pip inside the image (TLS-intercepting proxies). Default: the host's.
    #[arg(long, env = "SOCRATIC_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Rebuild even if an environment exists for this commit.
    #[arg(long)]
    pub rebuild: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[arg(long)]
    pub repo: PathBuf,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

/// A tokio runtime for the commands that talk to Docker.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

pub fn run(home: &Path, cmd: EnvCmd) -> anyhow::Result<i32> {
    let rt = runtime()?;
    match cmd {
        EnvCmd::Bootstrap(a) => rt.block_on(async {
            let engine = Engine::connect().await?;
            let cfg = BootstrapConfig { suite: a.suite, mirror: a.mirror, ..Default::default() };
            eprintln!("bootstrapping {} (debootstrap; about a minute) ...", image::base_image_name(&cfg));
            let name = image::bootstrap_base(&engine, &cfg).await?;
            println!("{name}");
            Ok(EXIT_OK)
        }),
        EnvCmd::Build(a) => {
            let mut store = Store::open(home)?;
            let env = rt.block_on(ensure_env(&mut store, &a.repo, &a.image))?;
            if a.json {
                print_json(&env_summary(&env))?;
            } else {
                println!("{}", env_line(&env));
            }
            Ok(EXIT_OK)
        }
        EnvCmd::Show { repo, json } => {
            let store = Store::open(home)?;
            let (key, head) = repo_key(&repo)?;
            match store.environment(&key, &head)? {
                Some(env) if json => print_json(&env).map(|_| EXIT_OK),
                Some(env) => {
                    println!("{}", env_line(&env));
                    Ok(EXIT_OK)
                }
                None => {
                    eprintln!("error: no environment for {key} at {head}; run `socratic env build --repo {}`", repo.display());
                    Ok(EXIT_FAILED)
                }
            }
        }
    }
}

/// The store key of a repository (its canonical path) and its HEAD commit.
pub fn repo_key(repo: &Path) -> anyhow::Result<(String, String)> {
    let canonical = repo.canonicalize().map_err(|e| anyhow::anyhow!("{}: {e}", repo.display()))?;
    let git = git2::Repository::open(&canonical).map_err(|e| anyhow::anyhow!("{} is not a git repository: {}", repo.display(), e.message()))?;
    let head = git
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| anyhow::anyhow!("{}: no HEAD commit: {}", repo.display(), e.message()))?;
    Ok((canonical.display().to_string(), head.id().to_string()))
}

/// The base image to use: the configured one (pulled if absent) or the bootstrapped one.
async fn base_image(engine: &Engine, args: &ImageArgs) -> anyhow::Result<String> {
    match &args.base_image {
        Some(name) => {
            image::pull(engine, name).await?;
            Ok(name.clone())
        }
        None => {
            let cfg = BootstrapConfig::default();
            if !engine.image_exists(&image::base_image_name(&cfg)).await {
                eprintln!("no base image yet: bootstrapping one with debootstrap (about a minute) ...");
            }
            Ok(image::bootstrap_base(engine, &cfg).await?)
        }
    }
}

/// The stored environment for the repository's HEAD if its image still exists, else a new one.
pub async fn ensure_env(store: &mut Store, repo: &Path, args: &ImageArgs) -> anyhow::Result<Environment> {
    let (key, head) = repo_key(repo)?;
    let engine = Engine::connect().await?;
    engine.sweep().await?;
    if !args.rebuild {
        if let Some(env) = store.environment(&key, &head)? {
            let current = image::env_image_name(Path::new(&key).file_name().and_then(|n| n.to_str()).unwrap_or("repo"), &head, &env.base_image);
            if env.image == current && engine.image_exists(&env.image).await {
                return Ok(env);
            }
        }
    }
    let base = base_image(&engine, args).await?;
    let host_bundle = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    let ca_bundle = args.ca_bundle.clone().or_else(|| host_bundle.exists().then_some(host_bundle));
    let cfg = EnvConfig { base_image: base, ca_bundle, install_timeout_s: 900, test_timeout_s: 1800 };
    eprintln!("building the environment image for {key} at {} ...", &head[..12.min(head.len())]);
    let mut env = image::build_env(&engine, Path::new(&key), &head, &cfg).await?;
    env.repo = key;
    store.save_environment(&env)?;
    Ok(env)
}

fn env_line(env: &Environment) -> String {
    format!(
        "{}: {} of {} tests pass on the clean tree; coverage of {} files; built in {:.1} s",
        env.image,
        env.passing().len(),
        env.clean.len(),
        env.coverage.len(),
        env.build_ms as f64 / 1000.0
    )
}

fn env_summary(env: &Environment) -> serde_json::Value {
    serde_json::json!({
        "image": env.image, "repo": env.repo, "head": env.head, "base_image": env.base_image,
        "install_commands": env.install_commands, "tests": env.clean.len(), "passing": env.passing().len(),
        "covered_files": env.coverage.len(), "build_ms": env.build_ms,
    })
}
