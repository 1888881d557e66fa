//! The LM Solver as the experiment's [`Learner`]: LoRA training on candle (`crate::train`) and
//! attempts graded by execution.
//!
//! In: a causal LM folder, a device, base `TrainOptions` (the length and seed are set per run).
//! Out: adapters (PEFT folders) trained on tasks' examples (the task's statement, the bugged
//! function, the failing tests; target = the fix), and per-task outcomes.

use super::run::{Attempted, Learner, Trained};
use crate::diff::git::Repo;
use crate::model::Task;
use crate::score::DeviceKind;
use crate::store::Store;
use crate::train::{data, peft, Length, TrainOptions, Trainer};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The LM Solver: a model folder, a device and the training settings every run shares.
#[derive(Debug, Clone)]
pub struct LmLearner {
    pub model: PathBuf,
    pub device: DeviceKind,
    /// Base settings: rank, learning rate, batch, maximum length (length and seed per run).
    pub options: TrainOptions,
}

impl LmLearner {
    pub fn new(model: PathBuf, device: DeviceKind) -> LmLearner {
        let options = TrainOptions { batch: 4, max_len: 512, lr: 1e-3, checkpoint_every: 0, ..TrainOptions::default() };
        LmLearner { model, device, options }
    }
}

/// The chat examples of `tasks`: the fix (reverse of the bug patch) as the answer.
pub fn examples(tasks: &[Task]) -> anyhow::Result<Vec<data::ChatExample>> {
    let mut repos: HashMap<&str, Option<Repo>> = HashMap::new();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        let fix = crate::diff::reverse(&t.bug_patch)
            .map_err(|e| anyhow::anyhow!("task {}: its bug patch cannot be reversed into a fix: {e}", t.id))?;
        let repo = repos.entry(t.repo.as_str()).or_insert_with(|| Repo::open(Path::new(&t.repo)).ok());
        let function = repo.as_ref().and_then(|r| data::bugged_function(r, t));
        out.push(data::task_example(t, &fix, function.as_deref()));
    }
    Ok(out)
}

impl Learner for LmLearner {
    fn train(
        &self,
        init: Option<&Path>,
        tasks: &[Task],
        steps: usize,
        seed: u64,
        out: &Path,
    ) -> anyhow::Result<Trained> {
        let options = TrainOptions { length: Length::Steps(steps), seed, checkpoint_every: 0, ..self.options.clone() };
        let mut trainer = Trainer::load(&self.model, self.device, options)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.model.display()))?;
        if let Some(init) = init {
            let device = self.device.open().map_err(|e| anyhow::anyhow!("{e}"))?;
            let loaded = peft::load(init, &trainer.config, &device)?;
            trainer.set_factors(&loaded.params)?;
        }
        let data = trainer.tokenize(&examples(tasks)?)?;
        let result = trainer.run(&data, None, false, &crate::engine::progress::Progress::none())?;
        let base = self.model.canonicalize().unwrap_or_else(|_| self.model.clone()).display().to_string();
        let adapter_hash = peft::save(out, &trainer.lora, &base)?;
        Ok(Trained {
            adapter_hash,
            examples: data.len(),
            steps: result.steps,
            final_loss: result.losses.last().copied(),
            seconds: result.seconds,
        })
    }

    async fn attempt(
        &self,
        _store: &mut Store,
        _adapter: &Path,
        tasks: &[Task],
        _k: usize,
    ) -> anyhow::Result<BTreeMap<String, Attempted>> {
        anyhow::bail!(
            "attempting {} tasks needs the LM Solver (engine::lm_solver), which this build does not have",
            tasks.len()
        )
    }

    fn random_weights(&self) -> bool {
        self.model.join(crate::score::RANDOM_WEIGHTS_MARKER).exists()
    }
}
