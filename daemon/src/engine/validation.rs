//! Validation with every verdict stored as soon as it is decided (a crash loses none).
//!
//! In: the store, an environment (or the image options to find / build one per repository),
//! candidates, a config, a progress sink (a `validating` count, noted with the valid ones so
//! far). Out: the count of valid tasks, of invalid ones by the stage that rejected them, and of
//! candidates to run again (their worker container died twice under them; they stay
//! candidates); for the stored candidates of every repository, a `ValidateSummary` with times
//! and yield. Tests validation found flaky are added to the stored environment's
//! `Environment::flaky` (so later tasks, grading and exports leave them out).

use super::environment::{ensure_env, ImageOptions};
use super::progress::Progress;
use crate::model::{Environment, Task, VerdictOutcome};
use crate::store::{Store, TaskQuery};
use crate::validate::run::{validate_all, ValidateConfig};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a validation run decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    pub valid: usize,
    pub invalid_by_stage: BTreeMap<String, usize>,
    pub retry: usize,
    /// Tests found flaky by this validation (now in the stored environment).
    pub flaky_found: usize,
}

/// Validate `tasks` in warm workers (or strict containers), recording each verdict at once.
pub async fn validate_and_record(
    store: &mut Store,
    env: &Environment,
    tasks: Vec<Task>,
    cfg: &ValidateConfig,
    progress: &Progress,
) -> anyhow::Result<Decided> {
    let engine = super::environment::connect(store).await?;
    let mut decided = Decided::default();
    let mut store_error = None;
    let mut counter = progress.start("validating", tasks.len() as u64);
    let stats = validate_all(&engine, env, tasks, cfg, |task, verdict| {
        match verdict.outcome {
            VerdictOutcome::Valid => decided.valid += 1,
            VerdictOutcome::Rejected(stage) => *decided.invalid_by_stage.entry(stage.name().into()).or_default() += 1,
            VerdictOutcome::Retry => decided.retry += 1,
        }
        counter.advance(Some(format!("{} valid", decided.valid)));
        if let Err(e) = store.record_verdict(&task, &verdict) {
            store_error.get_or_insert(e);
        }
    })
    .await?;
    counter.finish();
    decided.flaky_found = record_flaky(store, env, &stats.flaky)?;
    if decided.flaky_found > 0 {
        progress.message(format!(
            "{} test(s) failed on the clean tree during validation: known-flaky from now on (`env show`)",
            decided.flaky_found
        ));
    }
    match store_error {
        Some(e) => Err(e.into()),
        None => Ok(decided),
    }
}

/// Add tests found flaky to the stored environment (as it is stored now, else `env`); how many
/// were new.
fn record_flaky(store: &mut Store, env: &Environment, found: &BTreeMap<String, String>) -> anyhow::Result<usize> {
    if found.is_empty() {
        return Ok(0);
    }
    let mut stored = store.environment(&env.repo, &env.head)?.unwrap_or_else(|| env.clone());
    let before = stored.flaky.len();
    for (test, seen) in found {
        stored.flaky.entry(test.clone()).or_insert_with(|| seen.clone());
    }
    let added = stored.flaky.len() - before;
    if added > 0 {
        store.save_environment(&stored)?;
    }
    Ok(added)
}

/// Which stored candidates to validate, and how.
#[derive(Debug, Clone, Default)]
pub struct ValidateRequest {
    /// Only candidates of this repository (default: every repository with candidates).
    pub repo: Option<PathBuf>,
    /// At most this many candidates.
    pub limit: Option<usize>,
    pub config: ValidateConfig,
    pub image: ImageOptions,
}

/// What validating the stored candidates decided.
#[derive(Debug, Default, Serialize)]
pub struct ValidateSummary {
    pub candidates: usize,
    pub valid: usize,
    pub invalid_by_stage: BTreeMap<String, usize>,
    /// Candidates whose worker died under them: still candidates, run again next time.
    pub retry: usize,
    pub wall_ms: u64,
    pub ms_per_candidate: f64,
    pub yield_rate: f64,
}

/// The stored candidates to validate, grouped by repository (at most `limit` in all).
/// With a repository given, its candidates are those of its identity (generated in any clone of
/// it), validated at the path given.
pub(crate) fn candidates_by_repo(
    store: &mut Store,
    req: &ValidateRequest,
) -> anyhow::Result<BTreeMap<String, Vec<Task>>> {
    let only = match &req.repo {
        Some(r) => {
            let path = r.canonicalize().map_err(|e| anyhow::anyhow!("{}: {e}", r.display()))?;
            let identity = super::repository::record_identity(store, &path)?;
            Some((path.display().to_string(), identity))
        }
        None => None,
    };
    let mut by_repo: BTreeMap<String, Vec<Task>> = BTreeMap::new();
    let candidates =
        TaskQuery { repo_id: only.as_ref().map(|(_, id)| id.clone()), stages: vec!["candidate"], ..Default::default() };
    for t in store.tasks_where(&candidates)? {
        let at = only.as_ref().map_or_else(|| t.repo.clone(), |(path, _)| path.clone());
        by_repo.entry(at).or_default().push(t);
    }
    let mut remaining = req.limit.unwrap_or(usize::MAX);
    for tasks in by_repo.values_mut() {
        tasks.truncate(remaining);
        remaining -= tasks.len();
    }
    by_repo.retain(|_, tasks| !tasks.is_empty());
    Ok(by_repo)
}

/// Validate the stored candidates (grouped by repository, each in its environment), storing
/// each verdict as it comes.
pub async fn validate_candidates(
    store: &mut Store,
    req: &ValidateRequest,
    progress: &Progress,
) -> anyhow::Result<ValidateSummary> {
    let mut summary = ValidateSummary::default();
    let started = std::time::Instant::now();
    for (repo, tasks) in candidates_by_repo(store, req)? {
        let env = ensure_env(store, Path::new(&repo), &req.image, progress).await?;
        summary.candidates += tasks.len();
        let decided = validate_and_record(store, &env, tasks, &req.config, progress).await?;
        summary.valid += decided.valid;
        summary.retry += decided.retry;
        for (stage, n) in decided.invalid_by_stage {
            *summary.invalid_by_stage.entry(stage).or_default() += n;
        }
    }
    summary.wall_ms = started.elapsed().as_millis() as u64;
    if summary.candidates > 0 {
        summary.ms_per_candidate = summary.wall_ms as f64 / summary.candidates as f64;
        summary.yield_rate = summary.valid as f64 / summary.candidates as f64;
    }
    Ok(summary)
}
