//! Score: solver-gradient alignment of a task with a trusted reference set, on candle.
//!
//! In: a causal LM folder in the Hugging Face layout (`config.json`, `*.safetensors`,
//! `tokenizer.json`; a Llama-style decoder), a device, a `FeatureConfig`, and task texts
//! (`TaskText`: a prompt and a target fix). Out: per text, the mean negative log-likelihood of
//! the target tokens (prompt masked) and its *gradient feature*: the gradient of that loss with
//! respect to a chosen parameter subset, count-sketched to `dim` coordinates with a seeded hash
//! and L2-normalised. `mean_direction` turns reference features into one direction; `cosine`
//! compares a task's feature with it. `write_tiny_model` writes a small random model in the
//! same layout (with a byte-level tokenizer) for tests and benchmarks.
//!
//! Only this module and `train` know candle: the rest of the crate sees plain `Vec<f32>` and
//! strings. The device is chosen once (`Scorer::load`) and passed down. `Scorer::load_adapted`
//! applies a LoRA adapter folder (`crate::train::peft`) to the decoder's linear layers.
//! `generate::Generator` writes text with the same decoder (KV cache, greedy or sampled).

pub mod config;
pub mod generate;
pub mod llama;
pub mod sketch;
pub mod text;
mod tiny;

pub use config::Config;
pub use generate::{GenerateOptions, Generation, Generator, StopReason};
pub use text::TaskText;
pub use tiny::{write_tiny_model, TinySpec, RANDOM_WEIGHTS_MARKER};

use crate::model::sha256_hex;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
pub use llama::{Adapters, Llama, LoraFactors};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// Default sketch dimension.
pub const DEFAULT_DIM: usize = 8192;
/// Default parameter subset: the last two layers' attention output and MLP down projections.
/// `L-k` stands for layer index `num_hidden_layers - k`; the rest is a glob on tensor names.
pub const DEFAULT_PARAMS: &str = "model.layers.{L-1,L-2}.{self_attn.o_proj,mlp.down_proj}.weight";
/// Default maximum sequence length (prompt + target tokens).
pub const DEFAULT_MAX_LEN: usize = 1024;

/// Everything that can go wrong while loading a model or scoring a text.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{path}: missing {what}")]
    MissingFile { path: PathBuf, what: &'static str },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Config(String),
    #[error("unsupported architecture model_type '{model_type}' (supported: {supported})")]
    UnsupportedArchitecture { model_type: String, supported: String },
    #[error(
        "tokenizer/vocabulary mismatch: tokenizer.json has {tokenizer} tokens but config.json vocab_size is {model}"
    )]
    VocabMismatch { tokenizer: usize, model: usize },
    #[error("model too large for {device}: needs about {needed_mib} MiB, {available_mib} MiB available")]
    TooLarge { device: String, needed_mib: u64, available_mib: u64 },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("weights: {0}")]
    Weights(String),
    #[error("parameter subset '{pattern}' matches no tensor (names look like '{example}')")]
    EmptySubset { pattern: String, example: String },
    #[error("bad parameter pattern '{0}': {1}")]
    Pattern(String, String),
    #[error("device: {0}")]
    Device(String),
    #[error("the target text has no tokens")]
    EmptyTarget,
    #[error("compute: {0}")]
    Compute(String),
    #[error("adapter: {0}")]
    Adapter(String),
}

impl From<candle_core::Error> for ScoreError {
    fn from(e: candle_core::Error) -> Self {
        ScoreError::Compute(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, ScoreError>;

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

impl std::str::FromStr for DeviceKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" => Ok(DeviceKind::Cuda),
            other => Err(format!("unknown device '{other}' (cpu or cuda)")),
        }
    }
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
    }

    pub(crate) fn open(self) -> Result<Device> {
        match self {
            DeviceKind::Cpu => Ok(Device::Cpu),
            DeviceKind::Cuda if cfg!(feature = "cuda") => {
                Device::new_cuda(0).map_err(|e| ScoreError::Device(e.to_string()))
            }
            DeviceKind::Cuda => {
                Err(ScoreError::Device("this binary was built without the `cuda` feature (see README, Score)".into()))
            }
        }
    }
}

/// Which gradient, how projected, and how long a text may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureConfig {
    /// Glob on tensor names, `L-k` = layer `num_hidden_layers - k` (see `DEFAULT_PARAMS`).
    pub params: String,
    pub dim: usize,
    pub seed: u64,
    /// Prompt + target tokens at most; the prompt keeps its end, the target its start.
    pub max_len: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { params: DEFAULT_PARAMS.to_string(), dim: DEFAULT_DIM, seed: 0, max_len: DEFAULT_MAX_LEN }
    }
}

/// A text's loss and its normalised gradient feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub loss: f64,
    pub vector: Vec<f32>,
}

/// The feature cache key: same model, text, subset, dimension and seed, same feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureKey {
    pub model_hash: String,
    pub task_hash: String,
    pub subset: String,
    pub dim: usize,
    pub seed: u64,
}

/// A loaded model ready to compute losses and features on one device.
pub struct Scorer {
    model: Llama,
    tokenizer: Tokenizer,
    config: Config,
    device: Device,
    feature: FeatureConfig,
    /// The resolved subset pattern (`L-k` replaced).
    subset_pattern: String,
    subset: Vec<(String, Var)>,
    sketch_idx: Tensor,
    sketch_sign: Tensor,
    model_hash: String,
    adapter_hash: Option<String>,
    parameters: usize,
    random_weights: bool,
}

impl Scorer {
    /// Load `dir` onto `device`. Fails clearly on a missing file, an unsupported architecture,
    /// a tokenizer larger than the model's vocabulary, or a model too large for the device.
    pub fn load(dir: &Path, device: DeviceKind, feature: FeatureConfig) -> Result<Scorer> {
        Scorer::load_adapted(dir, None, device, feature)
    }

    /// Load `dir` with the LoRA adapter folder `adapter` (PEFT layout, see `crate::train::peft`)
    /// applied: the scores are those of the updated Solver. The model hash then covers both.
    pub fn load_adapted(
        dir: &Path,
        adapter: Option<&Path>,
        device: DeviceKind,
        feature: FeatureConfig,
    ) -> Result<Scorer> {
        if feature.dim == 0 {
            return Err(ScoreError::Config("sketch dimension must be positive".into()));
        }
        let ModelFiles { config, tokenizer, mut tensors, mut model_hash, device: dev } =
            read_model(dir, device, feature.max_len)?;
        let (adapters, adapter_hash) = match adapter {
            None => (llama::Adapters::new(), None),
            Some(a) => {
                let loaded =
                    crate::train::peft::load(a, &config, &dev).map_err(|e| ScoreError::Adapter(e.to_string()))?;
                model_hash = sha256_hex(format!("{model_hash}+{}", loaded.hash).as_bytes());
                (loaded.adapters, Some(loaded.hash))
            }
        };

        let subset_pattern = resolve_pattern(&feature.params, config.num_hidden_layers);
        let matcher = globset::Glob::new(&subset_pattern)
            .map_err(|e| ScoreError::Pattern(feature.params.clone(), e.to_string()))?
            .compile_matcher();
        let mut names: Vec<String> = tensors.keys().filter(|n| matcher.is_match(n.as_str())).cloned().collect();
        names.sort();
        if names.is_empty() {
            let mut all: Vec<&String> = tensors.keys().collect();
            all.sort();
            let example =
                all.iter().find(|n| n.contains("layers.")).or(all.first()).map_or(String::new(), |n| n.to_string());
            return Err(ScoreError::EmptySubset { pattern: subset_pattern, example });
        }
        let mut subset = Vec::with_capacity(names.len());
        for name in names {
            let Some(t) = tensors.get(&name) else { continue };
            let var = Var::from_tensor(t)?;
            tensors.insert(name.clone(), var.as_tensor().clone());
            subset.push((name, var));
        }
        let parameters = tensors.values().map(|t| t.elem_count()).sum();
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &dev);
        let model = Llama::with_adapters(&config, vb, &adapters).map_err(|e| ScoreError::Weights(e.to_string()))?;

        let sizes: Vec<(String, usize)> = subset.iter().map(|(n, v)| (n.clone(), v.elem_count())).collect();
        let (idx, sign) = sketch::tables(feature.seed, &sizes, feature.dim);
        let n = idx.len();
        let sketch_idx = Tensor::from_vec(idx, n, &dev)?;
        let sketch_sign = Tensor::from_vec(sign, n, &dev)?;
        Ok(Scorer {
            model,
            tokenizer,
            config,
            device: dev,
            feature,
            subset_pattern,
            subset,
            sketch_idx,
            sketch_sign,
            model_hash,
            adapter_hash,
            parameters,
            random_weights: dir.join(tiny::RANDOM_WEIGHTS_MARKER).exists(),
        })
    }

    /// Whether the model's weights are random (written by `write_tiny_model`): its gradients
    /// are not a signal about any Solver.
    pub fn random_weights(&self) -> bool {
        self.random_weights
    }

    /// SHA-256 of config, tokenizer and weights (and of the adapter, when one is applied).
    pub fn model_hash(&self) -> &str {
        &self.model_hash
    }

    /// SHA-256 of the applied adapter's files, if any.
    pub fn adapter_hash(&self) -> Option<&str> {
        self.adapter_hash.as_deref()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn feature_config(&self) -> &FeatureConfig {
        &self.feature
    }

    /// Total parameters loaded.
    pub fn parameter_count(&self) -> usize {
        self.parameters
    }

    /// Elements in the differentiated subset, and the tensor names.
    pub fn subset(&self) -> (usize, Vec<String>) {
        (self.subset.iter().map(|(_, v)| v.elem_count()).sum(), self.subset.iter().map(|(n, _)| n.clone()).collect())
    }

    /// Elements of a differentiated tensor (0 when it is not in the subset).
    pub fn model_tensor_len(&self, name: &str) -> usize {
        self.subset.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| v.elem_count())
    }

    /// The cache key of a text's feature under this model and configuration.
    pub fn key(&self, text: &TaskText) -> FeatureKey {
        FeatureKey {
            model_hash: self.model_hash.clone(),
            task_hash: model_text_hash(text, self.feature.max_len),
            subset: self.subset_pattern.clone(),
            dim: self.feature.dim,
            seed: self.feature.seed,
        }
    }

    /// Token ids of prompt then target, truncated to `max_len`; returns (ids, prompt length).
    pub fn encode(&self, text: &TaskText) -> Result<(Vec<u32>, usize)> {
        let enc = |s: &str| -> Result<Vec<u32>> {
            Ok(self.tokenizer.encode(s, false).map_err(|e| ScoreError::Tokenizer(e.to_string()))?.get_ids().to_vec())
        };
        let (prompt, target) = (enc(&text.prompt)?, enc(&text.target)?);
        truncate(prompt, target, self.feature.max_len)
    }

    /// Mean NLL of the target tokens (no gradient).
    pub fn loss(&self, text: &TaskText) -> Result<f64> {
        let (ids, p) = self.encode(text)?;
        Ok(self.loss_tensor(&ids, p)?.to_scalar::<f32>()? as f64)
    }

    /// Loss and normalised sketched gradient of a text.
    pub fn feature(&self, text: &TaskText) -> Result<Feature> {
        let (ids, p) = self.encode(text)?;
        self.feature_ids(&ids, p)
    }

    /// Loss and normalised sketched gradient of token ids whose first `prompt_len` are prompt.
    pub fn feature_ids(&self, ids: &[u32], prompt_len: usize) -> Result<Feature> {
        let (loss, flat) = self.gradient_tensor(ids, prompt_len)?;
        let src = (flat * &self.sketch_sign)?;
        let sketch = Tensor::zeros(self.feature.dim, DType::F32, &self.device)?.index_add(&self.sketch_idx, &src, 0)?;
        let mut vector = sketch.to_vec1::<f32>()?;
        normalise(&mut vector);
        Ok(Feature { loss, vector })
    }

    /// The exact, unprojected gradient of the subset (concatenated in name order) and the loss.
    pub fn gradient(&self, text: &TaskText) -> Result<(f64, Vec<f32>)> {
        let (ids, p) = self.encode(text)?;
        let (loss, flat) = self.gradient_tensor(&ids, p)?;
        Ok((loss, flat.to_vec1::<f32>()?))
    }

    /// Host-side sketch tables (for checking the device path).
    pub fn sketch_tables(&self) -> Result<(Vec<u32>, Vec<f32>)> {
        Ok((self.sketch_idx.to_vec1::<u32>()?, self.sketch_sign.to_vec1::<f32>()?))
    }

    fn check_ids(&self, ids: &[u32], prompt_len: usize) -> Result<()> {
        if prompt_len == 0 || prompt_len >= ids.len() {
            return Err(ScoreError::EmptyTarget);
        }
        if let Some(bad) = ids.iter().find(|i| **i as usize >= self.config.vocab_size) {
            return Err(ScoreError::VocabMismatch { tokenizer: *bad as usize + 1, model: self.config.vocab_size });
        }
        Ok(())
    }

    fn loss_tensor(&self, ids: &[u32], prompt_len: usize) -> Result<Tensor> {
        self.check_ids(ids, prompt_len)?;
        let ids_t = Tensor::new(ids, &self.device)?;
        let hidden = self.model.forward(&ids_t)?;
        let n = ids.len() - prompt_len;
        // Position i predicts token i + 1: the target tokens are predicted from prompt_len - 1 on.
        let logits = self.model.logits(&hidden.narrow(0, prompt_len - 1, n)?)?;
        Ok(candle_nn::loss::cross_entropy(&logits, &ids_t.narrow(0, prompt_len, n)?)?)
    }

    fn gradient_tensor(&self, ids: &[u32], prompt_len: usize) -> Result<(f64, Tensor)> {
        let loss = self.loss_tensor(ids, prompt_len)?;
        let grads = loss.backward()?;
        let parts = self
            .subset
            .iter()
            .map(|(_, v)| match grads.get(v.as_tensor()) {
                Some(g) => g.flatten_all(),
                None => Tensor::zeros(v.elem_count(), DType::F32, &self.device),
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let flat = Tensor::cat(&parts, 0)?;
        Ok((loss.to_scalar::<f32>()? as f64, flat))
    }

    /// Per-position NLL of every next token (for checking the masking): (T - 1) values.
    pub fn token_nlls(&self, ids: &[u32]) -> Result<Vec<f32>> {
        self.check_ids(ids, 1)?;
        let ids_t = Tensor::new(ids, &self.device)?;
        let n = ids.len() - 1;
        let logits = self.model.logits(&self.model.forward(&ids_t)?.narrow(0, 0, n)?)?;
        let logp = candle_nn::ops::log_softmax(&logits, 1)?;
        let next = ids_t.narrow(0, 1, n)?.unsqueeze(1)?;
        Ok(logp.gather(&next, 1)?.squeeze(1)?.neg()?.to_vec1::<f32>()?)
    }
}

/// A model folder read into memory: configuration, tokenizer, weights (as f32, on the device)
/// and the SHA-256 of config, tokenizer and weight files.
pub struct ModelFiles {
    pub config: Config,
    pub tokenizer: Tokenizer,
    pub tensors: HashMap<String, Tensor>,
    pub model_hash: String,
    pub device: Device,
}

/// Read `dir` onto `device`, checking the files, the architecture, the vocabulary and the
/// memory one pass over `max_len` tokens needs.
pub fn read_model(dir: &Path, device: DeviceKind, max_len: usize) -> Result<ModelFiles> {
    let config_path = dir.join("config.json");
    let tokenizer_path = dir.join("tokenizer.json");
    let config_text = read_required(&config_path, "config.json (model configuration)")?;
    let config = Config::parse(&String::from_utf8_lossy(&config_text))?;
    let tokenizer_bytes = read_required(&tokenizer_path, "tokenizer.json (Hugging Face tokenizer)")?;
    let tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
        .map_err(|e| ScoreError::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
    let tokenizer_vocab = tokenizer.get_vocab_size(true);
    if tokenizer_vocab > config.vocab_size {
        return Err(ScoreError::VocabMismatch { tokenizer: tokenizer_vocab, model: config.vocab_size });
    }
    let files = safetensors_files(dir)?;
    let dev = device.open()?;
    check_memory(&config, &FeatureConfig { max_len, ..FeatureConfig::default() }, device)?;

    let mut hasher = Sha256::new();
    hasher.update(&config_text);
    hasher.update(&tokenizer_bytes);
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|source| ScoreError::Io { path: file.clone(), source })?;
        hasher.update(&bytes);
        let loaded = candle_core::safetensors::load_buffer(&bytes, &dev)
            .map_err(|e| ScoreError::Weights(format!("{}: {e}", file.display())))?;
        for (name, t) in loaded {
            tensors.insert(name, t.to_dtype(DType::F32)?);
        }
    }
    Ok(ModelFiles { config, tokenizer, tensors, model_hash: hex::encode(hasher.finalize()), device: dev })
}

/// The SHA-256 `read_model` computes for `dir` (config, tokenizer, weight files in order),
/// without loading the weights.
pub fn files_hash(dir: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(read_required(&dir.join("config.json"), "config.json (model configuration)")?);
    hasher.update(read_required(&dir.join("tokenizer.json"), "tokenizer.json (Hugging Face tokenizer)")?);
    for file in safetensors_files(dir)? {
        let bytes = std::fs::read(&file).map_err(|source| ScoreError::Io { path: file.clone(), source })?;
        hasher.update(&bytes);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Prompt keeps its last tokens, target its first; at least one prompt token stays.
pub(crate) fn truncate(prompt: Vec<u32>, target: Vec<u32>, max_len: usize) -> Result<(Vec<u32>, usize)> {
    if target.is_empty() || prompt.is_empty() {
        return Err(ScoreError::EmptyTarget);
    }
    let max = max_len.max(2);
    let (mut p, mut t) = (prompt.len(), target.len());
    if p + t > max {
        t = t.min(max - p.min(max / 2));
        p = p.min(max - t);
    }
    let mut ids = prompt[prompt.len() - p..].to_vec();
    ids.extend_from_slice(&target[..t]);
    Ok((ids, p))
}

fn model_text_hash(text: &TaskText, max_len: usize) -> String {
    crate::model::sha256_hex(format!("{}:{max_len}", text.hash()).as_bytes())
}

fn read_required(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    if !path.is_file() {
        return Err(ScoreError::MissingFile { path: path.to_path_buf(), what });
    }
    std::fs::read(path).map_err(|source| ScoreError::Io { path: path.to_path_buf(), source })
}

/// `*.safetensors` in `dir`, sorted.
fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScoreError::Io { path: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ScoreError::MissingFile { path: dir.to_path_buf(), what: "*.safetensors (model weights)" });
    }
    Ok(files)
}

/// Replace `L-k` by the layer index `layers - k`.
fn resolve_pattern(pattern: &str, layers: usize) -> String {
    let re = regex::Regex::new(r"L-(\d+)").unwrap_or_else(|_| unreachable!("constant regex"));
    re.replace_all(pattern, |c: &regex::Captures| {
        let k: usize = c[1].parse().unwrap_or(usize::MAX);
        layers.checked_sub(k).map_or_else(|| "none".to_string(), |i| i.to_string())
    })
    .into_owned()
}

/// Bytes the model, one backward pass and the sketch tables need, roughly.
fn needed_bytes(c: &Config, f: &FeatureConfig) -> u64 {
    let t = f.max_len as u64;
    let weights = c.parameter_count() as u64 * 4;
    let per_layer = t * (c.hidden_size as u64 * 8 + c.intermediate_size as u64 * 4) * 4
        + c.num_attention_heads as u64 * t * t * 4 * 3;
    let activations = c.num_hidden_layers as u64 * per_layer + t * c.vocab_size as u64 * 4 * 3;
    weights + activations
}

fn check_memory(c: &Config, f: &FeatureConfig, device: DeviceKind) -> Result<()> {
    let needed = needed_bytes(c, f);
    if let Some(available) = available_bytes(device) {
        if needed > available {
            return Err(ScoreError::TooLarge {
                device: device.as_str().into(),
                needed_mib: needed >> 20,
                available_mib: available >> 20,
            });
        }
    }
    Ok(())
}

/// Free memory on the device: `MemAvailable` on the CPU, the driver's free memory on CUDA.
fn available_bytes(device: DeviceKind) -> Option<u64> {
    match device {
        DeviceKind::Cpu => meminfo_kib("MemAvailable:").map(|k| k * 1024),
        DeviceKind::Cuda => cuda_memory().map(|(free, _)| free),
    }
}

#[cfg(feature = "cuda")]
fn cuda_memory() -> Option<(u64, u64)> {
    candle_core::cuda_backend::cudarc::driver::result::mem_get_info()
        .ok()
        .map(|(free, total)| (free as u64, total as u64))
}

#[cfg(not(feature = "cuda"))]
fn cuda_memory() -> Option<(u64, u64)> {
    None
}

fn meminfo_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak memory so far: the process's peak resident set on the CPU, device memory in use on
/// CUDA (sample it while working). `None` where it cannot be read.
pub fn memory_in_use(device: DeviceKind) -> Option<u64> {
    match device {
        DeviceKind::Cpu => {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|k| k * 1024)
        }
        DeviceKind::Cuda => cuda_memory().map(|(free, total)| total.saturating_sub(free)),
    }
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
    }
}

/// Cosine of two vectors (0 when either is zero or their lengths differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (*x as f64, *y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// The normalised mean of some features; `None` when there are none or they cancel out.
pub fn mean_direction(features: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = features.first()?;
    let mut sum = vec![0f64; first.len()];
    for f in features.iter().filter(|f| f.len() == first.len()) {
        sum.iter_mut().zip(f).for_each(|(s, x)| *s += *x as f64);
    }
    let mut v: Vec<f32> = sum.iter().map(|x| *x as f32).collect();
    normalise(&mut v);
    v.iter().any(|x| *x != 0.0).then_some(v)
}

#[cfg(test)]
mod tests;
