//! Work cut into shards for other machines, and the result files those machines write back.
//!
//! In (head): the store, a kind of work (`validate`: the stored candidates of a repository with
//! its stored environment; `env-build`: a repository at its HEAD; `score`: every stored task's
//! text and the reference texts, with the model options), a shard count. Out: one
//! self-describing `ShardInput` per shard (format, kind, shard I of N, repository and commit,
//! everything a node needs; no store). In (node): a `ShardInput`, a home for Docker ownership,
//! optionally where the repository is checked out there. Out: a `ShardResult` (the same header,
//! the node's name, the candidate ids, a verdict and updated task per candidate, the built
//! environment, or gradient features with their cache keys), decided by the same code as a
//! single-machine run (`validate::run::validate_all`, `environment::ensure_env`,
//! `score::Scorer`). In (head again): result files. Out: the verdicts recorded in the
//! store, idempotently: a verdict already stored counts once, a decided task is never undone,
//! a verdict for a task the store does not hold is an error naming it (checked for every file
//! before anything is written); features are cached once, for `tasks score` to find.

use super::environment::{connect, ensure_env, repo_key, ImageOptions};
use super::progress::Progress;
use super::validation::{candidates_by_repo, ValidateRequest};
use crate::model::{Environment, EvalReport, Task, TaskStage, Verdict, VerdictOutcome};
use crate::store::Store;
use crate::validate::run::{validate_all, ValidateConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The version of the shard files this build writes and reads.
pub const SHARD_FORMAT: u32 = 1;

/// What a shard does.
/// Externally tagged (`{"validate": {...}}`): serde reads it without buffering, so the
/// environment's maps keyed by line numbers survive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Work {
    /// Validate these candidates in this environment (its image must be on the node).
    Validate { environment: Box<Environment>, tasks: Vec<Task>, timeout_s: f64 },
    /// Build (or find) the environment image of the repository on the node.
    EnvBuild { base_image: Option<String> },
    /// Gradient features of these texts with this model (a folder on the node; a GPU when
    /// `device` names one): what `tasks score` computes, to be cached in the head's store.
    Score { model: ModelSpec, texts: Vec<ScoreText> },
    /// Grade these Solver predictions in this environment (its image must be on the node), as
    /// `solve` and `serve` grade: FAIL_TO_PASS and the whole PASS_TO_PASS.
    Grade { environment: Box<Environment>, predictions: Vec<Prediction> },
}

/// One line of a SWE-bench predictions file, ready to grade on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// As the predictions file names it (an exported instance id or a task id).
    pub instance_id: String,
    /// `model_name_or_path`.
    pub model: String,
    /// The Solver's patch, against the task's bugged tree (empty: no patch).
    pub model_patch: String,
    /// The task with FAIL_TO_PASS from its verdict and the whole suite as PASS_TO_PASS.
    pub task: Task,
    /// The patch graded (base commit → bugged tree with the model patch), made on the head.
    pub combined: Option<String>,
    /// Why the model patch cannot be graded (it does not parse or apply): graded unresolved,
    /// patch does not apply, without running anything.
    pub unusable: Option<String>,
}

/// A prediction's grading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradedPrediction {
    pub instance_id: String,
    pub model: String,
    pub model_patch: String,
    /// Instance id = the task id.
    pub report: EvalReport,
    pub duration_ms: u64,
}

/// The scoring model as `tasks score` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The model folder on the nodes.
    pub model: String,
    pub device: String,
    pub params: String,
    pub dim: usize,
    pub seed: u64,
    pub max_len: usize,
}

/// A text to score (`score::TaskText`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreText {
    pub prompt: String,
    pub target: String,
}

/// A computed feature with its cache key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureOut {
    pub model_hash: String,
    pub task_hash: String,
    pub subset: String,
    pub dim: usize,
    pub seed: u64,
    pub loss: f64,
    pub vector: Vec<f32>,
}

impl FeatureOut {
    fn row(&self) -> crate::store::FeatureRow<'_> {
        crate::store::FeatureRow {
            model_hash: &self.model_hash,
            task_hash: &self.task_hash,
            subset: &self.subset,
            dim: self.dim,
            seed: self.seed,
        }
    }
}

impl Work {
    pub fn kind(&self) -> &'static str {
        match self {
            Work::Validate { .. } => "validate",
            Work::EnvBuild { .. } => "env-build",
            Work::Score { .. } => "score",
            Work::Grade { .. } => "grade",
        }
    }
}

/// One shard of work, as a file a node reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardInput {
    pub format: u32,
    /// `validate` or `env-build` (what `work` holds; written for readers of the file).
    pub kind: String,
    /// 0-based index of this shard.
    pub shard: usize,
    pub shards: usize,
    /// The repository's path on the head (also where nodes look for it unless told otherwise).
    pub repo: String,
    /// The commit the work is for; a node's checkout must be at it.
    pub head: String,
    pub work: Work,
}

/// A candidate's verdict and the task as validation left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub task: Task,
    pub verdict: Verdict,
}

/// What a shard produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Validate { verdicts: Vec<Decided> },
    EnvBuild { environment: Box<Environment> },
    Score { features: Vec<FeatureOut> },
    Grade { graded: Vec<GradedPrediction> },
}

/// One shard's results, as a file the head imports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardResult {
    pub format: u32,
    pub kind: String,
    pub shard: usize,
    pub shards: usize,
    pub repo: String,
    pub head: String,
    /// The machine that ran it.
    pub node: String,
    /// The candidate ids the shard was given (validate), so a missing verdict shows.
    pub candidates: Vec<String>,
    pub wall_ms: u64,
    pub outcome: Outcome,
}

impl Outcome {
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Validate { .. } => "validate",
            Outcome::EnvBuild { .. } => "env-build",
            Outcome::Score { .. } => "score",
            Outcome::Grade { .. } => "grade",
        }
    }
}

/// Deal `items` round-robin into `shards` groups (empty groups dropped; order kept in each).
pub fn split<T>(items: Vec<T>, shards: usize) -> Vec<Vec<T>> {
    let n = shards.max(1);
    let mut out: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        out[i % n].push(item);
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The validation shards of the stored candidates of `repo` (at most `limit`), each carrying
/// the repository's stored environment. An error names the repository when it has none.
pub fn plan_validate(
    store: &mut Store,
    repo: &Path,
    shards: usize,
    limit: Option<usize>,
    timeout_s: f64,
) -> anyhow::Result<Vec<ShardInput>> {
    let (key, head) = repo_key(repo)?;
    let environment = store.environment(&key, &head)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no environment for {key} at {head}: build it first (`socratic env build --repo {}` here, or \
             `socratic cluster submit ... env-build`)",
            repo.display()
        )
    })?;
    // The candidates `tasks validate --repo` would take: those of the repository's identity.
    let request = ValidateRequest { repo: Some(repo.to_path_buf()), limit, ..Default::default() };
    let tasks = candidates_by_repo(store, &request)?.into_values().flatten().collect();
    let groups = split(tasks, shards);
    let total = groups.len();
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(shard, tasks)| ShardInput {
            format: SHARD_FORMAT,
            kind: "validate".into(),
            shard,
            shards: total,
            repo: key.clone(),
            head: head.clone(),
            work: Work::Validate { environment: Box::new(environment.clone()), tasks, timeout_s },
        })
        .collect())
}

/// `shards` env-build shards of `repo` (one per node that should hold the image).
pub fn plan_env_build(repo: &Path, shards: usize, base_image: Option<String>) -> anyhow::Result<Vec<ShardInput>> {
    let (key, head) = repo_key(repo)?;
    let total = shards.max(1);
    Ok((0..total)
        .map(|shard| ShardInput {
            format: SHARD_FORMAT,
            kind: "env-build".into(),
            shard,
            shards: total,
            repo: key.clone(),
            head: head.clone(),
            work: Work::EnvBuild { base_image: base_image.clone() },
        })
        .collect())
}

/// Score shards: the texts `tasks score` computes features of (every stored task, plus the
/// reference texts given), without duplicates, dealt into `shards`.
pub fn plan_score(
    store: &Store,
    model: &ModelSpec,
    references: Vec<crate::score::TaskText>,
    shards: usize,
) -> anyhow::Result<Vec<ShardInput>> {
    let mut seen = std::collections::BTreeSet::new();
    let texts: Vec<ScoreText> = references
        .into_iter()
        .chain(store.tasks()?.iter().map(crate::score::TaskText::from_task))
        .filter(|t| seen.insert(t.hash()))
        .map(|t| ScoreText { prompt: t.prompt, target: t.target })
        .collect();
    let groups = split(texts, shards);
    let total = groups.len();
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(shard, texts)| ShardInput {
            format: SHARD_FORMAT,
            kind: "score".into(),
            shard,
            shards: total,
            repo: String::new(),
            head: String::new(),
            work: Work::Score { model: model.clone(), texts },
        })
        .collect())
}

/// Features of the texts with the model (on this node's device).
fn score_texts(model: &ModelSpec, texts: &[ScoreText]) -> anyhow::Result<Vec<FeatureOut>> {
    let device: crate::score::DeviceKind =
        model.device.parse().map_err(|e| anyhow::anyhow!("--device {}: {e}", model.device))?;
    let config = crate::score::FeatureConfig {
        params: model.params.clone(),
        dim: model.dim,
        seed: model.seed,
        max_len: model.max_len,
    };
    let scorer = crate::score::Scorer::load_adapted(Path::new(&model.model), None, device, config)?;
    let mut out = Vec::with_capacity(texts.len());
    for t in texts {
        let text = crate::score::TaskText { prompt: t.prompt.clone(), target: t.target.clone() };
        let key = scorer.key(&text);
        let f = scorer.feature(&text)?;
        out.push(FeatureOut {
            model_hash: key.model_hash,
            task_hash: key.task_hash,
            subset: key.subset,
            dim: key.dim,
            seed: key.seed,
            loss: f.loss,
            vector: f.vector,
        });
    }
    Ok(out)
}

/// Read a shard input file; an error names the file.
pub fn read_input(path: &Path) -> anyhow::Result<ShardInput> {
    let input: ShardInput = read_json(path)?;
    check_format(path, input.format, &input.kind, input.work.kind())?;
    Ok(input)
}

/// Read a shard result file; an error names the file.
pub fn read_result(path: &Path) -> anyhow::Result<ShardResult> {
    let result: ShardResult = read_json(path)?;
    check_format(path, result.format, &result.kind, result.outcome.kind())?;
    Ok(result)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{}: not a socratic shard file: {e}", path.display()))
}

fn check_format(path: &Path, format: u32, kind: &str, holds: &str) -> anyhow::Result<()> {
    if format != SHARD_FORMAT {
        anyhow::bail!("{}: shard format {format}, this socratic reads format {SHARD_FORMAT}", path.display());
    }
    if kind != holds {
        anyhow::bail!("{}: says kind {kind} but holds {holds} work", path.display());
    }
    Ok(())
}

/// Write JSON through a temporary file and a rename (a reader never sees half a file).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value)?).map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// This machine's name (for result files).
pub fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Where a node finds the repository: the path given, else the head's path; its HEAD must be
/// the shard's commit.
fn local_repo(input: &ShardInput, repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = repo.map_or_else(|| PathBuf::from(&input.repo), Path::to_path_buf);
    let (key, head) = repo_key(&path).map_err(|e| {
        anyhow::anyhow!("shard {}/{}: no checkout of {} on this node: {e}", input.shard + 1, input.shards, input.repo)
    })?;
    if head != input.head {
        anyhow::bail!(
            "shard {}/{}: {key} is at {head}, the shard is for {}: check out that commit",
            input.shard + 1,
            input.shards,
            input.head
        );
    }
    Ok(PathBuf::from(key))
}

/// This node's engine, its dead runs' containers swept, once the shard's environment image is
/// known to be here.
async fn node_engine(store: &Store, input: &ShardInput, env: &Environment) -> anyhow::Result<crate::sandbox::Engine> {
    let engine = connect(store).await?;
    engine.sweep().await?;
    if !engine.image_exists(&env.image).await {
        anyhow::bail!(
            "shard {}/{}: the environment image {} is not on {}: run an env-build shard there \
             (`socratic cluster submit ... env-build`) or `socratic env build --repo`",
            input.shard + 1,
            input.shards,
            env.image,
            node_name()
        );
    }
    Ok(engine)
}

/// Test-only: the environment variable naming a hold folder (see [`Hold`]).
pub const HOLD_VAR: &str = "SOCRATIC_SHARD_HOLD";

/// Test-only hook for tests that kill a node while a shard is provably mid-run; inert unless
/// `SOCRATIC_SHARD_HOLD=<folder>` is set (nothing sets it outside tests). A shard run writes
/// `<folder>/start-<shard>-<pid>` when it starts; after its first verdict it writes
/// `<folder>/held-<shard>-<pid>` and waits until `<folder>/release` exists (at once when it
/// already does).
struct Hold {
    folder: Option<(PathBuf, usize)>,
}

impl Hold {
    fn from_env(shard: usize) -> anyhow::Result<Hold> {
        let Some(folder) = std::env::var_os(HOLD_VAR).map(PathBuf::from) else { return Ok(Hold { folder: None }) };
        touch(&folder.join(format!("start-{shard}-{}", std::process::id())))?;
        Ok(Hold { folder: Some((folder, shard)) })
    }

    /// Block (polling the folder) until the release file exists.
    fn mid_run(&self) {
        let Some((folder, shard)) = &self.folder else { return };
        if folder.join("release").exists() {
            return;
        }
        if let Err(e) = touch(&folder.join(format!("held-{shard}-{}", std::process::id()))) {
            tracing::warn!("{HOLD_VAR}: {e}");
            return;
        }
        while !folder.join("release").exists() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

fn touch(path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, b"").map_err(|e| anyhow::anyhow!("{HOLD_VAR}: {}: {e}", path.display()))
}

/// Run one shard on this node with `workers` warm containers. `home` holds this node's store
/// (used only for Docker ownership and env-build's environment record).
pub async fn run_shard(
    home: &Path,
    input: &ShardInput,
    repo: Option<&Path>,
    workers: usize,
) -> anyhow::Result<ShardResult> {
    let started = std::time::Instant::now();
    let hold = Hold::from_env(input.shard)?;
    let mut store = Store::open(home)?;
    let (candidates, outcome) = match &input.work {
        Work::Score { model, texts } => (vec![], Outcome::Score { features: score_texts(model, texts)? }),
        Work::Validate { environment, tasks, timeout_s } => {
            let local = local_repo(input, repo)?;
            let engine = node_engine(&store, input, environment).await?;
            let mut env = (**environment).clone();
            env.repo = local.display().to_string();
            let cfg = ValidateConfig { workers, timeout_s: *timeout_s, ..Default::default() };
            let mut verdicts = Vec::new();
            validate_all(&engine, &env, tasks.clone(), &cfg, |task, verdict| {
                verdicts.push(Decided { task, verdict });
                if verdicts.len() == 1 {
                    hold.mid_run();
                }
            })
            .await?;
            (tasks.iter().map(|t| t.id.clone()).collect(), Outcome::Validate { verdicts })
        }
        Work::Grade { environment, predictions } => {
            let engine = node_engine(&store, input, environment).await?;
            let graded =
                super::shard_grade::grade_predictions(&engine, environment, predictions, || hold.mid_run()).await?;
            let keys = predictions.iter().map(|p| super::shard_grade::key_of(&p.instance_id, &p.model)).collect();
            (keys, Outcome::Grade { graded })
        }
        Work::EnvBuild { base_image } => {
            let local = local_repo(input, repo)?;
            let opts = ImageOptions { base_image: base_image.clone(), ..Default::default() };
            let environment = ensure_env(&mut store, &local, &opts, &Progress::none()).await?;
            (vec![], Outcome::EnvBuild { environment: Box::new(environment) })
        }
    };
    Ok(ShardResult {
        format: SHARD_FORMAT,
        kind: outcome.kind().into(),
        shard: input.shard,
        shards: input.shards,
        repo: input.repo.clone(),
        head: input.head.clone(),
        node: node_name(),
        candidates,
        wall_ms: started.elapsed().as_millis() as u64,
        outcome,
    })
}

/// What to do with an imported verdict given what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Record it (nothing decided is stored yet).
    Record,
    /// The store already holds this verdict: count it once.
    Same,
    /// The store holds another decided verdict (or the task moved on): keep the stored one.
    KeepStored,
}

/// The same decision: outcome and test lists (times and wording may differ between runs).
fn same_decision(a: &Verdict, b: &Verdict) -> bool {
    (a.outcome, &a.fail_to_pass, &a.pass_to_pass) == (b.outcome, &b.fail_to_pass, &b.pass_to_pass)
}

/// Decide an imported verdict against the stored task and verdict (pure).
pub fn merge(stored_task: &Task, stored: Option<&Verdict>, imported: &Verdict) -> Merge {
    match stored {
        Some(s) if same_decision(s, imported) => Merge::Same,
        Some(s) if s.outcome != VerdictOutcome::Retry => Merge::KeepStored,
        _ if stored_task.stage != TaskStage::Candidate => Merge::KeepStored,
        Some(_) | None => Merge::Record,
    }
}

/// The stored task with the pipeline fields validation set on the imported copy.
fn updated(stored: &Task, imported: &Task) -> Task {
    let mut t = stored.clone();
    t.fail_to_pass = imported.fail_to_pass.clone();
    t.pass_to_pass = imported.pass_to_pass.clone();
    t.image = imported.image.clone();
    t.stage = imported.stage.clone();
    t.problem_statement = imported.problem_statement.clone();
    t
}

/// What `import_results` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub files: usize,
    /// Verdicts written now.
    pub recorded: usize,
    /// Verdicts the store already held (a file imported twice, a shard run twice).
    pub already: usize,
    /// Imported verdicts that differ from a decided one stored: the stored one is kept.
    pub kept_stored: Vec<String>,
    /// Of those recorded, `retry` verdicts (the task stays a candidate).
    pub retry: usize,
    /// Environments recorded from env-build results.
    pub environments: usize,
    /// Features cached from score results (those already cached are counted in `already`).
    pub features: usize,
    /// Predictions graded and recorded now (grade results; those already stored are counted in
    /// `already`), and how many of those were resolved.
    pub graded: usize,
    pub resolved: usize,
}

/// Check every file against the store, then record what is new. Nothing is written when a
/// file names a task the store does not hold, or gives a verdict for a task it was not given.
pub fn import_results(store: &mut Store, files: &[(PathBuf, ShardResult)]) -> anyhow::Result<ImportSummary> {
    let mut plan = Vec::new();
    for (path, result) in files {
        let Outcome::Validate { verdicts } = &result.outcome else { continue };
        for d in verdicts {
            if d.verdict.task_id != d.task.id || !result.candidates.contains(&d.task.id) {
                anyhow::bail!(
                    "{}: a verdict for {} that shard {}/{} was not given",
                    path.display(),
                    d.verdict.task_id,
                    result.shard + 1,
                    result.shards
                );
            }
            let stored = store.tasks_by_id(std::slice::from_ref(&d.task.id))?.pop().ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: task {} is not in this store (shard {}/{} of {} at {}): import into the home the work \
                     was planned from",
                    path.display(),
                    d.task.id,
                    result.shard + 1,
                    result.shards,
                    result.repo,
                    result.head
                )
            })?;
            plan.push((stored, d));
        }
    }
    let mut graded = Vec::new();
    for (path, result) in files {
        let Outcome::Grade { graded: g } = &result.outcome else { continue };
        for p in g {
            if !result.candidates.contains(&super::shard_grade::key_of(&p.instance_id, &p.model)) {
                anyhow::bail!(
                    "{}: a grade of {} by {} that shard {}/{} was not given",
                    path.display(),
                    p.instance_id,
                    p.model,
                    result.shard + 1,
                    result.shards
                );
            }
            graded.push((path.as_path(), p));
        }
    }
    let mut summary = ImportSummary { files: files.len(), ..Default::default() };
    let g = super::shard_grade::import_graded(store, &graded)?;
    (summary.graded, summary.resolved, summary.already) = (g.recorded, g.resolved, g.already);
    for (stored_task, d) in plan {
        let stored = store.verdict(&stored_task.id)?;
        match merge(&stored_task, stored.as_ref(), &d.verdict) {
            Merge::Same => summary.already += 1,
            Merge::KeepStored => summary.kept_stored.push(stored_task.id.clone()),
            Merge::Record => {
                store.record_verdict(&updated(&stored_task, &d.task), &d.verdict)?;
                summary.recorded += 1;
                summary.retry += usize::from(d.verdict.outcome == VerdictOutcome::Retry);
            }
        }
    }
    for (_, result) in files {
        if let Outcome::Score { features } = &result.outcome {
            for f in features {
                if store.feature(&f.row())?.is_some() {
                    summary.already += 1;
                } else {
                    store.save_feature(&f.row(), f.loss, &f.vector)?;
                    summary.features += 1;
                }
            }
        }
        if let Outcome::EnvBuild { environment } = &result.outcome {
            if store.environment(&result.repo, &result.head)?.is_none() {
                let mut env = (**environment).clone();
                env.repo = result.repo.clone();
                store.save_environment(&env)?;
                summary.environments += 1;
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RejectStage;

    fn verdict(outcome: VerdictOutcome, f2p: &[&str]) -> Verdict {
        Verdict {
            task_id: "t".into(),
            outcome,
            reason: "r".into(),
            fail_to_pass: f2p.iter().map(|s| s.to_string()).collect(),
            pass_to_pass: vec![],
            duration_ms: 5,
        }
    }

    fn task(stage: TaskStage) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": "t", "repo": "/r", "base_commit": "c", "operator": "op", "skill": null, "bug_patch": "",
            "site": {"file": "a.py", "start_byte": 0, "end_byte": 1, "start_line": 0, "start_col": 0,
                     "end_line": 0, "end_col": 1, "node_kind": "x", "scope": "f", "query": "q", "capture": "c"},
            "enclosing": "f", "problem_statement": "", "fail_to_pass": [], "pass_to_pass": [], "image": null,
            "stage": {"stage": "candidate"}, "seed": 0, "round": null
        }))
        .expect("a task");
        t.stage = stage;
        t
    }

    #[test]
    fn split_deals_round_robin_and_drops_empty_shards() {
        assert_eq!(split(vec![1, 2, 3, 4, 5], 2), vec![vec![1, 3, 5], vec![2, 4]]);
        assert_eq!(split(vec![1], 3), vec![vec![1]]);
        assert_eq!(split(vec![1, 2], 0), vec![vec![1, 2]]);
        assert!(split(Vec::<u8>::new(), 2).is_empty());
    }

    #[test]
    fn a_verdict_already_stored_counts_once() {
        let v = verdict(VerdictOutcome::Valid, &["t1"]);
        let mut again = v.clone();
        again.duration_ms = 99;
        again.reason = "other words".into();
        assert_eq!(merge(&task(TaskStage::Valid), Some(&v), &again), Merge::Same);
    }

    #[test]
    fn a_decided_verdict_is_never_replaced() {
        let stored = verdict(VerdictOutcome::Valid, &["t1"]);
        let other = verdict(VerdictOutcome::Rejected(RejectStage::Flaky), &["t1"]);
        assert_eq!(merge(&task(TaskStage::Valid), Some(&stored), &other), Merge::KeepStored);
        let retry = verdict(VerdictOutcome::Retry, &[]);
        assert_eq!(merge(&task(TaskStage::Valid), Some(&stored), &retry), Merge::KeepStored);
        // A scored task without a verdict row (scored elsewhere) is not moved back either.
        assert_eq!(merge(&task(TaskStage::Scored), None, &stored), Merge::KeepStored);
    }

    #[test]
    fn a_candidate_or_a_retry_takes_the_imported_verdict() {
        let v = verdict(VerdictOutcome::Valid, &["t1"]);
        assert_eq!(merge(&task(TaskStage::Candidate), None, &v), Merge::Record);
        let retry = verdict(VerdictOutcome::Retry, &[]);
        assert_eq!(merge(&task(TaskStage::Candidate), Some(&retry), &v), Merge::Record);
        assert_eq!(merge(&task(TaskStage::Candidate), Some(&retry), &retry), Merge::Same);
    }

    #[test]
    fn shard_files_round_trip_and_name_their_kind() {
        let input = ShardInput {
            format: SHARD_FORMAT,
            kind: "env-build".into(),
            shard: 1,
            shards: 2,
            repo: "/r".into(),
            head: "c".into(),
            work: Work::EnvBuild { base_image: None },
        };
        let text = serde_json::to_value(&input).unwrap();
        assert_eq!(text["kind"], "env-build");
        assert!(text["work"]["env-build"].is_object(), "{text}");
        let back = serde_json::to_value(serde_json::from_value::<ShardInput>(text.clone()).unwrap()).unwrap();
        assert_eq!(back, text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.json");
        write_json(&path, &input).unwrap();
        assert_eq!(serde_json::to_value(read_input(&path).unwrap()).unwrap(), text);
        std::fs::write(&path, "{\"format\": 9}").unwrap();
        let err = read_input(&path).unwrap_err().to_string();
        assert!(err.contains("in.json"), "{err}");
    }
}
