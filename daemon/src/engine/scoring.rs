//! Store-backed scoring: reference sets (a SWE-bench-format JSONL of trusted fixes, or
//! `failures` = the Solver's stored failures whose instance has a gold fix), gradient features
//! cached in the store, and rewards for a list of tasks.
//!
//! In: the store, a loaded `Scorer`, tasks. Out: `Score`s (saved) and cache hit counts.

use crate::model::{sha256_hex, NoReward, Outcome, Score, Task};
use crate::score::{self, Scorer, TaskText};
use crate::store::{FeatureRow, Store};
use std::collections::BTreeSet;
use std::path::Path;

/// The feature from the store's cache, or computed and cached; `true` when it was cached.
pub fn cached_feature(store: &mut Store, scorer: &Scorer, text: &TaskText) -> anyhow::Result<(f64, Vec<f32>, bool)> {
    let key = scorer.key(text);
    let row = FeatureRow {
        model_hash: &key.model_hash,
        task_hash: &key.task_hash,
        subset: &key.subset,
        dim: key.dim,
        seed: key.seed,
    };
    if let Some((loss, v)) = store.feature(&row)? {
        return Ok((loss, v, true));
    }
    let f = scorer.feature(text)?;
    store.save_feature(&row, f.loss, &f.vector)?;
    Ok((f.loss, f.vector, false))
}

/// The reference set's name and texts.
pub fn reference_texts(store: &Store, reference: &str) -> anyhow::Result<(String, Vec<TaskText>)> {
    if reference == "failures" {
        return failure_texts(store);
    }
    let path = Path::new(reference);
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{reference}: {e} (pass a JSONL file or `failures`)"))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{reference}:{}: not JSON: {e}", n + 1))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|s| !s.trim().is_empty());
        let Some(patch) = field("patch") else {
            anyhow::bail!("{reference}:{}: no `patch` (the gold fix)", n + 1);
        };
        out.push(TaskText::from_fix(field("problem_statement").unwrap_or(""), patch));
    }
    let name = path.file_name().map_or_else(|| reference.to_string(), |f| f.to_string_lossy().into_owned());
    Ok((format!("file:{name}@{}", &sha256_hex(&bytes)[..16]), out))
}

/// The Solver's failures (unresolved or no patch) whose instance has a gold fix, one per instance.
pub fn failure_texts(store: &Store) -> anyhow::Result<(String, Vec<TaskText>)> {
    let mut ids = BTreeSet::new();
    for st in store.traces()? {
        if matches!(st.effective_label.outcome, Outcome::Unresolved | Outcome::NoPatch) {
            if let Some(id) = st.trace.task.instance_id {
                ids.insert(id);
            }
        }
    }
    let mut used = Vec::new();
    let mut out = Vec::new();
    for id in ids {
        let Some(inst) = store.instance(&id)? else { continue };
        let fix = match (&inst.gold_patch, &inst.bug_patch) {
            (Some(p), _) if !p.trim().is_empty() => p.clone(),
            (_, Some(b)) if !b.trim().is_empty() => crate::diff::reverse(b).unwrap_or_default(),
            _ => continue,
        };
        out.push(TaskText::from_fix(inst.problem_statement.as_deref().unwrap_or(""), &fix));
        used.push(id);
    }
    Ok((format!("failures@{}", &sha256_hex(used.join("\n").as_bytes())[..16]), out))
}

/// The mean reference direction of a reference set; `None` when the set is empty or cancels
/// out. `on_feature` sees, per reference, whether its feature came from the cache.
pub fn reference_direction(
    store: &mut Store,
    scorer: &Scorer,
    reference: &[TaskText],
    mut on_feature: impl FnMut(bool),
) -> anyhow::Result<Option<Vec<f32>>> {
    let mut features = Vec::with_capacity(reference.len());
    for text in reference {
        let (_, v, cached) = cached_feature(store, scorer, text)?;
        on_feature(cached);
        features.push(v);
    }
    Ok(score::mean_direction(&features))
}

/// The reference set's name when it is empty (or its gradients cancel out).
pub const NO_REFERENCE: &str = "none";

/// Why rewards under this scorer and reference set are not a signal, if they are not.
pub fn why_no_reward(scorer: &Scorer, reference_set: &str) -> Option<NoReward> {
    if reference_set == NO_REFERENCE {
        Some(NoReward::NoReference)
    } else if scorer.random_weights() {
        Some(NoReward::RandomModel)
    } else {
        None
    }
}

/// One task's score, the NLL of its fix, and whether its feature came from the cache.
#[derive(Debug, Clone)]
pub struct ScoredTask {
    pub score: Score,
    pub loss: f64,
    pub cached: bool,
}

/// Score `tasks` against `direction` (validity from their stored verdicts) and save each score;
/// a valid task becomes `scored`.
pub fn score_tasks(
    store: &mut Store,
    scorer: &Scorer,
    direction: &[f32],
    reference_set: &str,
    tasks: &[Task],
    mut on_scored: impl FnMut(&Score),
) -> anyhow::Result<Vec<ScoredTask>> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (loss, v, cached) = cached_feature(store, scorer, &TaskText::from_task(task))?;
        let validity = match store.verdict(&task.id)? {
            Some(v) if v.is_valid() => 1.0,
            _ => 0.0,
        };
        let cosine = score::cosine(&v, direction);
        let no_reward = why_no_reward(scorer, reference_set);
        let s = Score {
            task_id: task.id.clone(),
            validity,
            cosine,
            reward: no_reward.is_none().then_some(validity * cosine),
            no_reward,
            reference_set: reference_set.to_string(),
            model_hash: scorer.model_hash().to_string(),
        };
        store.save_score(&s)?;
        if task.stage == crate::model::TaskStage::Valid && validity > 0.0 {
            store.update_task(&Task { stage: crate::model::TaskStage::Scored, ..task.clone() })?;
        }
        on_scored(&s);
        out.push(ScoredTask { score: s, loss, cached });
    }
    Ok(out)
}
