//! Validation with every verdict stored as soon as it is decided (a crash loses none).
//!
//! In: the store, an environment, candidates, a config, a progress sink (a `validating` count,
//! noted with the valid ones so far). Out: the count of valid tasks and of invalid ones by the
//! stage that rejected them.

use super::progress::Progress;
use crate::model::Environment;
use crate::model::Task;
use crate::store::Store;
use crate::validate::run::{validate_all, ValidateConfig};
use std::collections::BTreeMap;

/// What a validation run decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    pub valid: usize,
    pub invalid_by_stage: BTreeMap<String, usize>,
}

/// Validate `tasks` in warm workers (or strict containers), recording each verdict at once.
pub async fn validate_and_record(
    store: &mut Store,
    env: &Environment,
    tasks: Vec<Task>,
    cfg: &ValidateConfig,
    progress: &Progress,
) -> anyhow::Result<Decided> {
    let engine = crate::sandbox::Engine::connect().await?;
    let mut decided = Decided::default();
    let mut store_error = None;
    let mut counter = progress.start("validating", tasks.len() as u64);
    validate_all(&engine, env, tasks, cfg, |task, verdict| {
        if verdict.valid {
            decided.valid += 1;
        } else {
            *decided.invalid_by_stage.entry(verdict.rejected_at.clone().unwrap_or_default()).or_default() += 1;
        }
        counter.advance(Some(format!("{} valid", decided.valid)));
        if let Err(e) = store.record_verdict(&task, &verdict) {
            store_error.get_or_insert(e);
        }
    })
    .await?;
    counter.finish();
    match store_error {
        Some(e) => Err(e.into()),
        None => Ok(decided),
    }
}
