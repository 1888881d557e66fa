//! A repository's environment for validation and grading: the one stored for its HEAD, else one
//! recorded inside an existing environment image (another home built it), else a new build.
//!
//! In: the store, a repository path, image options, a progress sink. Out: an `Environment`
//! (saved in the store); a message event before each slow build (base image, environment image).
//! A repository's `.socratic/env.toml` replaces the rules' install steps (and names the base
//! image when none is configured); with a setup agent configured, a build the rules would
//! refuse is handed to it, and what worked is written to `.socratic/env.toml`.

use super::progress::Progress;
use crate::model::Environment;
use crate::sandbox::image::{self, BootstrapConfig, EnvConfig, Setup};
use crate::sandbox::recipe_file::{RecipeFile, RECIPE_PATH};
use crate::sandbox::setup_agent::{self, SetupAgentConfig};
use crate::sandbox::Engine;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// Which base image and CA bundle environments are built from.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// Pulled if absent; `None` = the locally bootstrapped one.
    pub base_image: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    /// Rebuild even if an environment exists for this commit.
    pub rebuild: bool,
    /// Asked for install commands when a build would be refused (`env build --agent-endpoint`).
    pub setup_agent: Option<SetupAgentConfig>,
}

/// The store key of a repository (its canonical path) and its HEAD commit.
pub fn repo_key(repo: &Path) -> anyhow::Result<(String, String)> {
    let canonical = repo.canonicalize().map_err(|e| anyhow::anyhow!("{}: {e}", repo.display()))?;
    let git = crate::diff::git::Repo::open(&canonical)
        .map_err(|e| anyhow::anyhow!("{} is not a git repository: {}", repo.display(), e.message))?;
    let head = git.head_commit()?;
    Ok((canonical.display().to_string(), head))
}

/// The base image to use: the configured one (pulled if absent) or the bootstrapped one.
pub async fn base_image(engine: &Engine, opts: &ImageOptions, progress: &Progress) -> anyhow::Result<String> {
    match &opts.base_image {
        Some(name) => {
            image::pull(engine, name).await?;
            Ok(name.clone())
        }
        None => {
            let cfg = BootstrapConfig::default();
            if !engine.image_exists(&image::base_image_name(&cfg)).await {
                progress.message("no base image yet: bootstrapping one with debootstrap (about a minute) ...");
            }
            Ok(image::bootstrap_base(engine, &cfg).await?)
        }
    }
}

/// The Docker engine, connected for the store's home: containers it starts are this home's.
pub async fn connect(store: &Store) -> anyhow::Result<Engine> {
    Ok(Engine::connect(&crate::sandbox::owner_of_home(store.home())).await?)
}

/// The environment for the repository's HEAD: stored (image still there), recorded in the
/// image another home built, or built now.
pub async fn ensure_env(
    store: &mut Store,
    repo: &Path,
    opts: &ImageOptions,
    progress: &Progress,
) -> anyhow::Result<Environment> {
    let (key, head) = repo_key(repo)?;
    let repo_name = Path::new(&key).file_name().and_then(|n| n.to_str()).unwrap_or("repo").to_string();
    let recipe = RecipeFile::read(Path::new(&key))?;
    let engine = connect(store).await?;
    engine.sweep().await?;
    if !opts.rebuild {
        if let Some(env) = store.environment(&key, &head)? {
            let current = image::env_image_name_for(&repo_name, &head, &env.base_image, recipe.as_ref());
            if env.image == current && engine.image_reusable(&env.image).await {
                return Ok(env);
            }
        }
    }
    let from_recipe = recipe.as_ref().and_then(|r| r.base_image.clone());
    let base_opts = ImageOptions { base_image: opts.base_image.clone().or(from_recipe), ..opts.clone() };
    let base = base_image(&engine, &base_opts, progress).await?;
    let name = image::env_image_name_for(&repo_name, &head, &base, recipe.as_ref());
    if !opts.rebuild && engine.image_reusable(&name).await {
        if let Some(mut env) = image::read_env_record(&engine, &name).await? {
            if env.head == head && env.image == name {
                env.repo = key;
                store.save_environment(&env)?;
                return Ok(env);
            }
        }
    }
    let host_bundle = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    let ca_bundle = opts.ca_bundle.clone().or_else(|| host_bundle.exists().then_some(host_bundle));
    let cfg = EnvConfig { base_image: base, ca_bundle, install_timeout_s: 900, test_timeout_s: 1800, flaky_reruns: 1 };
    progress.message(format!("building the environment image for {key} at {} ...", &head[..12.min(head.len())]));
    if recipe.is_some() {
        progress.message(format!("installing from {RECIPE_PATH} (instead of what the project declares)"));
    }
    let setup = Setup { recipe: recipe.as_ref(), agent: opts.setup_agent.as_ref() };
    let mut env = image::build_env_with(&engine, Path::new(&key), &head, &cfg, setup).await?;
    env.repo = key.clone();
    store.save_environment(&env)?;
    if matches!(env.recipe_source, crate::model::RecipeSource::Agent { .. }) {
        let written = setup_agent::agent_recipe(&env, recipe.as_ref())
            .write(Path::new(&key), &setup_agent::recipe_header(&env))
            .map_err(|e| anyhow::anyhow!("writing {key}/{RECIPE_PATH}: {e}"))?;
        progress.message(format!(
            "the setup agent made the suite pass; its recipe is in {} (commit it: later builds use it)",
            written.display()
        ));
    }
    Ok(env)
}
