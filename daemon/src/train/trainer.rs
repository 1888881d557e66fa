//! The training loop: LoRA on a loaded decoder, AdamW, warm-up and decay, clipping,
//! gradient accumulation, seeded shuffling, checkpoints.
//!
//! In: a model folder, `TrainOptions`, tokenized examples, an optional folder for checkpoints
//! and a progress sink. Out: the trained `LoraParams` (held by the `Trainer`) and a `RunResult`
//! (per-step losses, tokens, seconds). Each optimizer step takes `batch × grad_accum` examples
//! in a seeded order (a fresh permutation per epoch); its loss is the mean NLL over all target
//! tokens of those examples (each example's gradient is weighted by its share of them, so
//! accumulation equals one large batch; one backward pass per example bounds the memory).

use super::checkpoint::{self, Checkpoint, State};
use super::data::{ChatExample, Tokenized};
use super::lora::{LoraParams, LoraSpec};
use super::optim::{clip_global_norm, learning_rate, AdamW, AdamWParams};
use super::template::ChatTemplate;
use super::{Result, TrainError};
use crate::engine::progress::Progress;
use crate::score::{read_model, Config, DeviceKind, Llama, ModelFiles};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// How long to train.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    Epochs(usize),
    Steps(usize),
}

/// The run's settings (all of them but the device and the checkpoint interval are part of the
/// run's fingerprint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub lora: LoraSpec,
    pub lr: f64,
    /// Share of the steps spent warming up.
    pub warmup_ratio: f64,
    pub adamw: AdamWParams,
    /// Clip the gradients' global L2 norm to this (0: no clipping).
    pub max_grad_norm: f64,
    pub length: Length,
    pub batch: usize,
    pub grad_accum: usize,
    pub max_len: usize,
    pub seed: u64,
    /// A checkpoint every this many steps (0: none).
    #[serde(skip)]
    pub checkpoint_every: usize,
    /// Train every weight of the model (no LoRA pairs): for a small model trained from scratch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
    /// The loss counts every next token of an example, the prompt's too (language modelling on
    /// the prompts: more signal for a model trained from scratch); else the target tokens only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_tokens: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            lora: LoraSpec {
                rank: 16,
                alpha: 32.0,
                targets: super::lora::ALL_TARGETS.iter().map(|s| s.to_string()).collect(),
            },
            lr: 2e-4,
            warmup_ratio: 0.1,
            adamw: AdamWParams::default(),
            max_grad_norm: 1.0,
            length: Length::Epochs(3),
            batch: 4,
            grad_accum: 1,
            max_len: 1024,
            seed: 0,
            checkpoint_every: 50,
            full: false,
            all_tokens: false,
        }
    }
}

impl TrainOptions {
    /// Optimizer steps for `n` examples.
    pub fn total_steps(&self, n: usize) -> usize {
        match self.length {
            Length::Steps(s) => s,
            Length::Epochs(e) => (e * n).div_ceil(self.per_step()).max(1),
        }
    }

    pub fn per_step(&self) -> usize {
        self.batch.max(1) * self.grad_accum.max(1)
    }

    fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Input(m.to_string()));
        if self.batch == 0 || self.grad_accum == 0 {
            return bad("--batch and --grad-accum must be positive");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("--lr must be a positive number");
        }
        if matches!(self.length, Length::Steps(0) | Length::Epochs(0)) {
            return bad("--steps / --epochs must be positive");
        }
        if self.max_len < 2 {
            return bad("--max-len must be at least 2");
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return bad("--warmup-ratio must be between 0 and 1");
        }
        Ok(())
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    pub steps: usize,
    pub losses: Vec<f64>,
    /// Tokens (prompt and target) through the model, this process and before it.
    pub tokens: u64,
    /// Seconds and tokens per second of this process's steps.
    pub seconds: f64,
    pub tokens_per_second: f64,
    /// The step a checkpoint let this run start from.
    pub resumed_from: Option<usize>,
}

/// A model with a trainable adapter, or (`TrainOptions::full`) with every weight trainable.
pub struct Trainer {
    model: Llama,
    pub lora: LoraParams,
    /// Every weight by tensor name, as variables, when training the full model (else empty).
    pub weights: Vec<(String, candle_core::Var)>,
    pub config: Config,
    pub tokenizer: tokenizers::Tokenizer,
    pub template: ChatTemplate,
    pub model_hash: String,
    pub options: TrainOptions,
    device: Device,
}

impl Trainer {
    /// Load the model in `dir` onto `device` with fresh LoRA factors (seeded); with
    /// `options.full`, every weight a variable and no LoRA pair.
    pub fn load(dir: &Path, device: DeviceKind, options: TrainOptions) -> Result<Trainer> {
        options.check()?;
        let ModelFiles { config, tokenizer, tensors, model_hash, device } = read_model(dir, device, options.max_len)?;
        let lora = LoraParams::init(&config, &options.lora, options.seed, &device)?;
        let template = ChatTemplate::from_model_dir(dir)?;
        let (model, weights) = if options.full {
            let mut weights = Vec::with_capacity(tensors.len());
            let mut as_vars = std::collections::HashMap::with_capacity(tensors.len());
            for (name, t) in tensors {
                let var = candle_core::Var::from_tensor(&t.to_dtype(DType::F32)?)?;
                as_vars.insert(name.clone(), var.as_tensor().clone());
                weights.push((name, var));
            }
            weights.sort_by(|a, b| a.0.cmp(&b.0));
            let vb = VarBuilder::from_tensors(as_vars, DType::F32, &device);
            (Llama::new(&config, vb)?, weights)
        } else {
            let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
            (Llama::with_adapters(&config, vb, &lora.adapters())?, Vec::new())
        };
        Ok(Trainer { model, lora, weights, config, tokenizer, template, model_hash, options, device })
    }

    /// The variables training moves: every weight (full training) or the LoRA factors.
    pub fn trainable(&self) -> Vec<&candle_core::Var> {
        if self.options.full {
            return self.weights.iter().map(|(_, v)| v).collect();
        }
        self.lora.vars()
    }

    /// Write the fully trained model as a model folder in the layout `model tiny` writes
    /// (`config.json`, `tokenizer.json`, the chat template's `tokenizer_config.json` when the
    /// source has one, `model.safetensors`), copied from the source folder `source`; returns the
    /// SHA-256 of its weights file. Refused when the trainer does not train the full model.
    pub fn save_full(&self, source: &Path, out: &Path) -> Result<String> {
        if !self.options.full {
            return Err(TrainError::Input("save_full: the trainer trains LoRA factors, not the full model".into()));
        }
        std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
            let from = source.join(name);
            if from.is_file() {
                std::fs::copy(&from, out.join(name)).map_err(|e| TrainError::io(&from, e))?;
            }
        }
        let tensors: std::collections::HashMap<String, Tensor> =
            self.weights.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
        let (path, tmp) = (out.join("model.safetensors"), out.join("model.safetensors.tmp"));
        candle_core::safetensors::save(&tensors, &tmp)?;
        let bytes = std::fs::read(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
        Ok(crate::model::sha256_hex(&bytes))
    }

    /// Put loaded factors (an adapter folder) in place of the fresh ones.
    pub fn set_factors(&self, params: &LoraParams) -> Result<()> {
        if params.layers.len() != self.lora.layers.len() {
            return Err(TrainError::Input("the adapter targets other layers".into()));
        }
        for (mine, theirs) in self.lora.layers.iter().zip(&params.layers) {
            mine.a.set(theirs.a.as_tensor())?;
            mine.b.set(theirs.b.as_tensor())?;
        }
        Ok(())
    }

    /// Continue from an adapter folder: load it on the trainer's device and put its factors in
    /// place of the fresh ones.
    pub fn continue_from(&self, dir: &Path) -> Result<()> {
        let device = self.lora.layers.first().map(|l| l.a.device().clone());
        let device = device.ok_or_else(|| TrainError::Input("the model has no layer to adapt".into()))?;
        let loaded = super::peft::load(dir, &self.config, &device)?;
        self.set_factors(&loaded.params)
    }

    /// Template and tokenizer applied to every example.
    pub fn tokenize(&self, examples: &[ChatExample]) -> Result<Vec<Tokenized>> {
        examples
            .iter()
            .map(|e| match super::rft::is_multi_turn(e) {
                true => super::rft::tokenize(e, &self.template, &self.tokenizer, self.options.max_len),
                false => super::data::tokenize(e, &self.template, &self.tokenizer, self.options.max_len),
            })
            .collect()
    }

    /// Next-token logits (T, vocab) of `ids`, flattened (for checks).
    pub fn logits(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let t = Tensor::new(ids, &self.device)?;
        Ok(self.model.logits(&self.model.forward(&t)?)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// Summed NLL of an example's target tokens, as a graph node.
    fn nll_sum(&self, ex: &Tokenized) -> Result<Tensor> {
        if let Some(bad) = ex.ids.iter().find(|i| **i as usize >= self.config.vocab_size) {
            return Err(TrainError::Input(format!(
                "example {}: token id {bad} is outside the model's vocabulary of {} (tokenizer/vocabulary mismatch)",
                ex.id, self.config.vocab_size
            )));
        }
        let ids = Tensor::new(ex.ids.as_slice(), &self.device)?;
        let (p, n) = (ex.prompt_len, ex.target_len());
        let hidden = self.model.forward(&ids)?;
        if self.options.all_tokens {
            let n = self.counted(ex);
            let logits = self.model.logits(&hidden.narrow(0, 0, n)?)?;
            return Ok((candle_nn::loss::cross_entropy(&logits, &ids.narrow(0, 1, n)?)? * n as f64)?);
        }
        if ex.spans.is_empty() {
            let logits = self.model.logits(&hidden.narrow(0, p - 1, n)?)?;
            return Ok((candle_nn::loss::cross_entropy(&logits, &ids.narrow(0, p, n)?)? * n as f64)?);
        }
        // Multi-turn: the rows before each target token, and the target tokens.
        let at: Vec<u32> = ex.spans.iter().flat_map(|s| s.clone()).map(|i| i as u32).collect();
        let before = Tensor::new(at.iter().map(|i| i - 1).collect::<Vec<u32>>(), &self.device)?;
        let targets = Tensor::new(at.iter().map(|i| ex.ids[*i as usize]).collect::<Vec<u32>>(), &self.device)?;
        let logits = self.model.logits(&hidden.index_select(&before, 0)?)?;
        Ok((candle_nn::loss::cross_entropy(&logits, &targets)? * n as f64)?)
    }

    /// The tokens an example's loss counts: its targets, or with `all_tokens` every token after
    /// the first.
    fn counted(&self, ex: &Tokenized) -> usize {
        match self.options.all_tokens {
            true => ex.ids.len().saturating_sub(1),
            false => ex.target_len(),
        }
    }

    /// Mean NLL over the target tokens of `examples` (no gradient kept).
    pub fn loss(&self, examples: &[Tokenized]) -> Result<f64> {
        let (mut sum, mut n) = (0f64, 0usize);
        for ex in examples {
            sum += self.nll_sum(ex)?.to_scalar::<f32>()? as f64;
            n += self.counted(ex);
        }
        Ok(sum / n.max(1) as f64)
    }

    /// Loss and gradients (in `vars()` order) of `examples`, weighted as one batch: each
    /// example's summed target NLL over the target tokens of all of them. One backward pass per
    /// example, so only one example's graph is alive at a time (the micro-batch size changes
    /// nothing but the order examples are drawn in).
    pub fn gradients(&self, examples: &[&Tokenized]) -> Result<(f64, Vec<Tensor>)> {
        let vars = self.trainable();
        let total: usize = examples.iter().map(|e| self.counted(e)).sum();
        let mut grads: Vec<Tensor> =
            vars.iter().map(|v| v.as_tensor().zeros_like()).collect::<candle_core::Result<_>>()?;
        let mut loss = 0f64;
        for ex in examples {
            let scaled = (self.nll_sum(ex)? / total as f64)?;
            loss += scaled.to_scalar::<f32>()? as f64;
            let store = scaled.backward()?;
            for (g, v) in grads.iter_mut().zip(&vars) {
                if let Some(d) = store.get(v.as_tensor()) {
                    *g = (&*g + d)?;
                }
            }
        }
        Ok((loss, grads))
    }

    /// Train on `data`; with `checkpoints`, write one there every `checkpoint_every` steps and,
    /// with `resume`, continue from the one found there (refused if it belongs to another run).
    pub fn run(
        &mut self,
        data: &[Tokenized],
        checkpoints: Option<&Path>,
        resume: bool,
        progress: &Progress,
    ) -> Result<RunResult> {
        if data.is_empty() {
            return Err(TrainError::Input("no training examples".into()));
        }
        let total = self.options.total_steps(data.len());
        let warmup = (self.options.warmup_ratio * total as f64).ceil() as usize;
        let fingerprint = self.fingerprint(data);
        let vars = self.trainable().into_iter().cloned().collect::<Vec<_>>();
        let var_refs: Vec<&candle_core::Var> = vars.iter().collect();
        let mut opt = AdamW::new(&var_refs, self.options.adamw)?;
        let mut state = State { step: 0, adam_t: 0, losses: Vec::new(), tokens: 0, fingerprint: fingerprint.clone() };
        let mut resumed_from = None;
        if let (Some(dir), true) = (checkpoints, resume) {
            if let Some(ck) = checkpoint::load(dir, &self.device)? {
                if ck.state.fingerprint != fingerprint {
                    return Err(TrainError::Input(format!(
                        "{}: the checkpoint belongs to a run with another model, data or settings; \
                         leave out --resume to start over",
                        dir.join(checkpoint::FILE).display()
                    )));
                }
                if ck.lora.len() != vars.len() || ck.m.len() != vars.len() || ck.v.len() != vars.len() {
                    return Err(TrainError::Input(format!("{}: incomplete checkpoint", dir.display())));
                }
                for (v, t) in vars.iter().zip(&ck.lora) {
                    v.set(t)?;
                }
                (opt.m, opt.v, opt.t) = (ck.m, ck.v, ck.state.adam_t);
                resumed_from = Some(ck.state.step);
                state = ck.state;
            }
        }
        let order = Order::new(data.len(), self.options.seed);
        let mut counter = progress.start("training", total as u64);
        for _ in 0..state.step.min(total) {
            counter.advance(None);
        }
        let started = Instant::now();
        let mut tokens_here = 0u64;
        while state.step < total {
            let first = state.step * self.options.per_step();
            let batch: Vec<&Tokenized> = (first..first + self.options.per_step()).map(|g| &data[order.at(g)]).collect();
            let (loss, mut grads) = self.gradients(&batch)?;
            if !loss.is_finite() {
                return Err(TrainError::Input(format!("the loss diverged at step {} ({loss})", state.step + 1)));
            }
            clip_global_norm(&mut grads, self.options.max_grad_norm)?;
            let lr = learning_rate(self.options.lr, state.step, warmup, total);
            opt.step(&var_refs, &grads, lr)?;
            let step_tokens: u64 = batch.iter().map(|e| e.ids.len() as u64).sum();
            tokens_here += step_tokens;
            state.tokens += step_tokens;
            state.losses.push(loss);
            state.step += 1;
            state.adam_t = opt.t;
            let rate = tokens_here as f64 / started.elapsed().as_secs_f64().max(1e-9);
            counter.advance(Some(format!("loss {loss:.4}, {rate:.0} tok/s")));
            let every = self.options.checkpoint_every;
            if let Some(dir) = checkpoints.filter(|_| every > 0 && state.step % every == 0 && state.step < total) {
                let lora = vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<Vec<_>>>()?;
                let ck = Checkpoint { state: state.clone(), lora, m: opt.m.clone(), v: opt.v.clone() };
                checkpoint::save(dir, &ck)?;
            }
        }
        counter.finish();
        let seconds = started.elapsed().as_secs_f64();
        Ok(RunResult {
            steps: state.step,
            losses: state.losses,
            tokens: state.tokens,
            seconds,
            tokens_per_second: tokens_here as f64 / seconds.max(1e-9),
            resumed_from,
        })
    }

    /// Hash of the model, the settings and the token ids of the data.
    pub fn fingerprint(&self, data: &[Tokenized]) -> String {
        let mut bytes = self.model_hash.as_bytes().to_vec();
        bytes.extend_from_slice(serde_json::to_string(&self.options).unwrap_or_default().as_bytes());
        for ex in data {
            bytes.extend_from_slice(&(ex.prompt_len as u64).to_le_bytes());
            for span in &ex.spans {
                bytes.extend_from_slice(&(span.start as u64).to_le_bytes());
                bytes.extend_from_slice(&(span.end as u64).to_le_bytes());
            }
            for id in &ex.ids {
                bytes.extend_from_slice(&id.to_le_bytes());
            }
            bytes.push(0xff);
        }
        crate::model::sha256_hex(&bytes)
    }
}

/// The seeded example order: epoch k is a permutation of 0..n drawn from seed and k.
struct Order {
    n: usize,
    seed: u64,
    cache: std::cell::RefCell<(usize, Vec<usize>)>,
}

impl Order {
    fn new(n: usize, seed: u64) -> Order {
        Order { n, seed, cache: std::cell::RefCell::new((usize::MAX, Vec::new())) }
    }

    /// The example at global position `g`.
    fn at(&self, g: usize) -> usize {
        let epoch = g / self.n;
        let mut cache = self.cache.borrow_mut();
        if cache.0 != epoch {
            let mut perm: Vec<usize> = (0..self.n).collect();
            let mut rng =
                rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            perm.shuffle(&mut rng);
            *cache = (epoch, perm);
        }
        cache.1[g % self.n]
    }
}
