//! The LM Solver as the experiment's [`Learner`]: LoRA training on candle (`crate::train`) and
//! attempts graded by execution.
//!
//! In: a causal LM folder, a home, a device, an answer format (`line` by default: the prompt marks
//! one line of the bugged function and the model writes it corrected; `edit`: its minimal edit), base `TrainOptions` (the
//! length and seed are set per run). Out: adapters (PEFT folders) trained on tasks' examples
//! (`crate::train::data::example`, the prompt the LM Solver answers), and per-task outcomes from
//! `crate::engine::lm_solver::attempt_tasks` (greedy sample 0 for pass@1; samples graded in
//! turn until one resolves for pass@k).

use super::run::{Attempted, Learner, TaskOutcome, Trained};
use crate::diff::git::Repo;
use crate::engine::lm_solver::{attempt_tasks, Decode, LmConfig};
use crate::engine::progress::Progress;
use crate::model::Task;
use crate::score::DeviceKind;
use crate::store::Store;
use crate::train::data::AnswerFormat;
use crate::train::{data, peft, Length, TrainOptions, Trainer};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The LM Solver: a model folder, a device, the answer format, the training settings every run
/// shares (`options.full`: every weight is trained and each run's output is a whole model
/// folder, not an adapter), and the home its attempts' checkouts go under.
#[derive(Debug, Clone)]
pub struct LmLearner {
    pub model: PathBuf,
    pub home: PathBuf,
    pub device: DeviceKind,
    pub answer: AnswerFormat,
    /// Free generation, or ranking candidate repairs (`crate::engine::lm_solver::Decode`).
    pub decode: Decode,
    /// New tokens per answer at most.
    pub max_new_tokens: usize,
    /// Base settings: rank, learning rate, batch, maximum length (length and seed per run).
    pub options: TrainOptions,
}

impl LmLearner {
    pub fn new(model: PathBuf, home: PathBuf, device: DeviceKind) -> LmLearner {
        let options = TrainOptions { batch: 4, max_len: 512, lr: 1e-3, checkpoint_every: 0, ..TrainOptions::default() };
        LmLearner { model, home, device, answer: AnswerFormat::Line, decode: Decode::Free, max_new_tokens: 64, options }
    }
}

/// The chat example of a task in the answer format (`line`: the marked line the fix replaces,
/// answered with the line corrected), or why it has none.
pub fn example(repo: Option<&Repo>, task: &Task, answer: AnswerFormat) -> Result<data::ChatExample, String> {
    let fix = crate::diff::reverse(&task.bug_patch)
        .map_err(|e| format!("its bug patch cannot be reversed into a fix: {e}"))?;
    let function = repo.and_then(|r| data::bugged_function_view(r, task));
    data::example(task, &fix, function.as_ref(), answer)
}

/// The chat examples of `tasks`; an error naming the first task without one.
pub fn examples(tasks: &[Task], answer: AnswerFormat) -> anyhow::Result<Vec<data::ChatExample>> {
    let mut repos: HashMap<&str, Option<Repo>> = HashMap::new();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        let repo = repos.entry(t.repo.as_str()).or_insert_with(|| Repo::open(Path::new(&t.repo)).ok());
        out.push(example(repo.as_ref(), t, answer).map_err(|e| anyhow::anyhow!("task {}: {e}", t.id))?);
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
        // Full training starts from the model `init` holds (a model folder an earlier run wrote).
        let source = match (self.options.full, init) {
            (true, Some(init)) => init.to_path_buf(),
            _ => self.model.clone(),
        };
        let mut trainer =
            Trainer::load(&source, self.device, options).map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
        if let (false, Some(init)) = (self.options.full, init) {
            trainer.continue_from(init)?;
        }
        let data = trainer.tokenize(&examples(tasks, self.answer)?)?;
        let result = trainer.run(&data, None, false, &Progress::none())?;
        let adapter_hash = if self.options.full {
            trainer.save_full(&source, out)?
        } else {
            let base = self.model.canonicalize().unwrap_or_else(|_| self.model.clone()).display().to_string();
            peft::save(out, &trainer.lora, &base)?
        };
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
        store: &mut Store,
        adapter: Option<&Path>,
        tasks: &[Task],
        k: usize,
    ) -> anyhow::Result<BTreeMap<String, Attempted>> {
        let engine = crate::engine::environment::connect(store).await?;
        let (model, adapter) = match adapter {
            Some(trained) => self.solver(trained),
            None => (self.model.clone(), None),
        };
        let cfg = LmConfig {
            model,
            adapter,
            answer: self.answer,
            decode: self.decode,
            samples: k.max(1),
            max_new_tokens: self.max_new_tokens,
            max_len: self.options.max_len.max(self.max_new_tokens + 2),
            device: self.device,
            ..LmConfig::default()
        };
        let attempts = attempt_tasks(store, &self.home, &engine, &cfg, tasks, &Progress::none()).await?;
        Ok(attempts
            .into_iter()
            .map(|a| {
                let outcome = TaskOutcome {
                    resolved: a.resolved_sample == Some(0),
                    pass_at_k: if a.resolved { 1.0 } else { 0.0 },
                };
                let patch = (!a.patch.trim().is_empty()).then_some(a.patch);
                (a.task_id, Attempted { outcome, patch, fix_rank: a.fix_rank, candidates: a.candidates })
            })
            .collect())
    }

    fn can_learn(&self, task: &Task) -> bool {
        let repo = Repo::open(Path::new(&task.repo)).ok();
        example(repo.as_ref(), task, self.answer).is_ok()
    }

    fn random_weights(&self) -> bool {
        !self.options.full && self.model.join(crate::score::RANDOM_WEIGHTS_MARKER).exists()
    }

    fn solver(&self, trained: &Path) -> (PathBuf, Option<PathBuf>) {
        match self.options.full {
            true => (trained.to_path_buf(), None),
            false => (self.model.clone(), Some(trained.to_path_buf())),
        }
    }

    fn describe(&self) -> String {
        let o = &self.options;
        let mut what = if o.full { "full".to_string() } else { format!("lora-r{}", o.lora.rank) };
        if o.all_tokens {
            what.push_str(" all-tokens");
        }
        let decode = match self.decode {
            Decode::Free => String::new(),
            d => format!(" decode={}", d.as_str()),
        };
        format!("{what} lr={} batch={} max_len={} answer={}{decode}", o.lr, o.batch, o.max_len, self.answer.as_str())
    }
}
