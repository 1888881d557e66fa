//! `socratic env bootstrap|build|show`: base and environment images.

use super::{print_json, EXIT_FAILED, EXIT_OK};
pub use crate::engine::environment::repo_key;
use crate::engine::environment::{ensure_env, ImageOptions};
use crate::model::Environment;
use crate::sandbox::image::{self, BootstrapConfig};
use crate::sandbox::setup_agent::SetupAgentConfig;
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
    Show {
        #[arg(long)]
        repo: PathBuf,
        #[arg(long)]
        json: bool,
    },
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
    #[command(flatten)]
    pub agent: AgentArgs,
    #[arg(long)]
    pub json: bool,
}

/// The optional setup agent of `env build`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// OpenAI-compatible endpoint (base URL or full /chat/completions URL) of a model asked for
    /// install commands when the build would be refused; they run in the build container and
    /// what worked is written to the repository's .socratic/env.toml.
    #[arg(long, value_name = "URL", requires = "model")]
    pub agent_endpoint: Option<String>,
    /// The model name sent to --agent-endpoint.
    #[arg(long, value_name = "NAME", requires = "agent_endpoint")]
    pub model: Option<String>,
    /// Model turns (one command each) at most.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub agent_turns: u32,
    /// The environment variable holding the endpoint's API key (sent as a Bearer token).
    #[arg(long, value_name = "VAR", requires = "agent_endpoint")]
    pub api_key_env: Option<String>,
    /// Seconds one of the agent's commands may run.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub agent_command_timeout: u64,
}

impl AgentArgs {
    /// The setup agent's configuration, if an endpoint was given (the key read from its
    /// variable now: an unset one is an error naming it).
    pub fn config(&self) -> anyhow::Result<Option<SetupAgentConfig>> {
        let (Some(endpoint), Some(model)) = (&self.agent_endpoint, &self.model) else { return Ok(None) };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            anyhow::bail!("--agent-endpoint {endpoint}: expected an http:// or https:// URL");
        }
        let api_key = crate::chat::api_key_from_env(self.api_key_env.as_deref())?;
        Ok(Some(SetupAgentConfig {
            endpoint: endpoint.clone(),
            model: model.clone(),
            api_key,
            turns: self.agent_turns,
            command_timeout_s: self.agent_command_timeout.max(1),
            ..Default::default()
        }))
    }
}

/// A tokio runtime for the commands that talk to Docker.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

pub fn run(home: &Path, cmd: EnvCmd) -> anyhow::Result<i32> {
    let rt = runtime()?;
    match cmd {
        EnvCmd::Bootstrap(a) => rt.block_on(async {
            let engine = Engine::connect(&crate::sandbox::owner_of_home(home)).await?;
            let cfg = BootstrapConfig { suite: a.suite, mirror: a.mirror, ..Default::default() };
            eprintln!("bootstrapping {} (debootstrap; about a minute) ...", image::base_image_name(&cfg));
            let name = image::bootstrap_base(&engine, &cfg).await?;
            println!("{name}");
            Ok(EXIT_OK)
        }),
        EnvCmd::Build(a) => {
            let mut store = Store::open(home)?;
            let progress = super::progress::terminal(!a.json);
            let opts = ImageOptions { setup_agent: a.agent.config()?, ..a.image.options() };
            let env = rt.block_on(ensure_env(&mut store, &a.repo, &opts, &progress))?;
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
                    print!("{}", env_text(&env));
                    Ok(EXIT_OK)
                }
                None => {
                    eprintln!(
                        "error: no environment for {key} at {head}; run `socratic env build --repo {}`",
                        repo.display()
                    );
                    Ok(EXIT_FAILED)
                }
            }
        }
    }
}

impl ImageArgs {
    pub fn options(&self) -> ImageOptions {
        ImageOptions {
            base_image: self.base_image.clone(),
            ca_bundle: self.ca_bundle.clone(),
            rebuild: self.rebuild,
            setup_agent: None,
        }
    }
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

/// `env show`: the summary line, then what was installed, what failed, what the repair loop
/// added and which test files could not be collected.
fn env_text(env: &Environment) -> String {
    use std::fmt::Write;
    let mut s = format!("{}\ninstall recipe: {}\n", env_line(env), env.recipe_source.describe());
    let mut section = |title: &str, items: Vec<String>| {
        if !items.is_empty() {
            let _ = writeln!(s, "{title}:");
            for item in items {
                let _ = writeln!(s, "  {item}");
            }
        }
    };
    section("installed", env.install_commands.clone());
    section("install problems", env.install_notes.clone());
    section("added for missing modules", env.repairs.clone());
    section("packages measured", env.packages.iter().map(|(path, name)| format!("{path} ({name})")).collect());
    section("coverage", env.coverage_note.iter().cloned().collect());
    section(
        "known-flaky tests (left out of PASS_TO_PASS)",
        env.flaky.iter().map(|(test, seen)| format!("{test}: {seen}")).collect(),
    );
    section(
        "test files not collected",
        env.collection_errors.iter().map(|(file, why)| format!("{file}: {why}")).collect(),
    );
    s
}

fn env_summary(env: &Environment) -> serde_json::Value {
    serde_json::json!({
        "image": env.image, "repo": env.repo, "head": env.head, "base_image": env.base_image,
        "install_commands": env.install_commands, "install_notes": env.install_notes, "repairs": env.repairs,
        "packages": env.packages, "collection_errors": env.collection_errors, "flaky": env.flaky,
        "recipe_source": env.recipe_source,
        "tests": env.clean.len(), "passing": env.passing().len(),
        "covered_files": env.coverage.len(), "build_ms": env.build_ms, "coverage_note": env.coverage_note,
    })
}
