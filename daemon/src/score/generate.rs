//! Text generation with the decoder: a KV cache, greedy or temperature / top-p sampling, stop
//! sequences, a seed.
//!
//! In: a causal LM folder (the layout `score` reads), an optional LoRA adapter folder (PEFT
//! layout, `crate::train::peft`), a device; then a prompt (text, or token ids) and
//! `GenerateOptions`. Out: a `Generation`: the new text (cut before the first stop sequence), the
//! new token ids and why generation stopped. The prompt is encoded without added special tokens
//! (the chat template holds them, as in training: `prompt_of` renders it); it keeps its last
//! tokens when prompt and new tokens would exceed `GenerateOptions::max_len`. The model runs the
//! prompt once, then one position per new token against the cache. Same seed, same options,
//! same model: same output.

use super::llama::{Adapters, Llama};
use super::{read_model, DeviceKind, ModelFiles, Result, ScoreError, DEFAULT_MAX_LEN};
use crate::model::sha256_hex;
use crate::train::data::Message;
use crate::train::template::ChatTemplate;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::Path;
use tokenizers::Tokenizer;

/// How to generate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateOptions {
    pub max_new_tokens: usize,
    /// 0: greedy (argmax); otherwise logits are divided by it before sampling.
    pub temperature: f64,
    /// Nucleus sampling: sample among the most likely tokens whose probabilities add up to this
    /// (1: all of them). Ignored when greedy.
    pub top_p: f64,
    pub seed: u64,
    /// Generation stops when the text holds one of these; the text is cut before it.
    pub stop: Vec<String>,
    /// Prompt + new tokens at most (the prompt keeps its end).
    pub max_len: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 128,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            stop: vec![],
            max_len: DEFAULT_MAX_LEN,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model wrote its end-of-sequence token.
    Eos,
    /// The text reached this stop sequence.
    Stop(String),
    /// `max_new_tokens` new tokens (or the `max_len` budget) were written.
    Length,
}

/// What a call to `generate` wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generation {
    /// The new text, before the first stop sequence (the end-of-sequence token left out).
    pub text: String,
    /// The new token ids, all of them.
    pub tokens: Vec<u32>,
    pub stopped_by: StopReason,
    /// Prompt tokens the model saw (after truncation).
    pub prompt_tokens: usize,
}

/// A model ready to generate on one device.
pub struct Generator {
    model: Llama,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    device: Device,
    eos: Vec<u32>,
    model_hash: String,
    base_hash: String,
    adapter_hash: Option<String>,
    random_weights: bool,
}

impl Generator {
    /// Load `model_dir` (and the adapter folder `adapter`, applied to its linear layers) onto
    /// `device`. Errors name the missing or bad file.
    pub fn load(model_dir: &Path, adapter: Option<&Path>, device: DeviceKind) -> Result<Generator> {
        let ModelFiles { config, tokenizer, tensors, model_hash, device: dev } =
            read_model(model_dir, device, DEFAULT_MAX_LEN)?;
        let (adapters, adapter_hash) = match adapter {
            None => (Adapters::new(), None),
            Some(a) => {
                let loaded =
                    crate::train::peft::load(a, &config, &dev).map_err(|e| ScoreError::Adapter(e.to_string()))?;
                (loaded.adapters, Some(loaded.hash))
            }
        };
        let template = ChatTemplate::from_model_dir(model_dir).map_err(|e| ScoreError::Config(e.to_string()))?;
        let eos = eos_ids(model_dir, &template, &tokenizer);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &dev);
        let model = Llama::with_adapters(&config, vb, &adapters).map_err(|e| ScoreError::Weights(e.to_string()))?;
        let combined = match &adapter_hash {
            Some(a) => sha256_hex(format!("{model_hash}+{a}").as_bytes()),
            None => model_hash.clone(),
        };
        Ok(Generator {
            model,
            tokenizer,
            template,
            device: dev,
            eos,
            model_hash: combined,
            base_hash: model_hash,
            adapter_hash,
            random_weights: model_dir.join(super::RANDOM_WEIGHTS_MARKER).exists(),
        })
    }

    /// SHA-256 of the base model's files (config, tokenizer, weights).
    pub fn base_hash(&self) -> &str {
        &self.base_hash
    }

    /// The base model's hash, combined with the adapter's when one is applied (as `Scorer`'s).
    pub fn model_hash(&self) -> &str {
        &self.model_hash
    }

    pub fn adapter_hash(&self) -> Option<&str> {
        self.adapter_hash.as_deref()
    }

    /// Whether the base model's weights are random (`write_tiny_model`): what it writes means
    /// nothing unless an adapter taught it something.
    pub fn random_weights(&self) -> bool {
        self.random_weights
    }

    /// The token ids that end generation (the template's eos token, `generation_config.json`'s
    /// `eos_token_id`).
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos
    }

    /// The prompt text of a conversation (system and user turns) as training renders it: the
    /// same template split `crate::train::data::tokenize` uses, so solving and training see the
    /// same text.
    pub fn prompt_of(&self, messages: &[Message]) -> Result<String> {
        let mut full = messages.to_vec();
        full.push(Message::new("assistant", ""));
        let (prompt, _) = self.template.split(&full).map_err(|e| ScoreError::Config(e.to_string()))?;
        Ok(prompt)
    }

    /// The prompt token ids of a conversation exactly as training cuts them
    /// (`crate::train::data::tokenize` with `max_len`), given a stand-in for the answer of
    /// about its length: the prompt keeps its last `max_len - answer tokens`.
    pub fn prompt_ids(&self, messages: &[Message], stand_in: &str, max_len: usize) -> Result<Vec<u32>> {
        let mut full = messages.to_vec();
        full.push(Message::new("assistant", stand_in));
        let example = crate::train::ChatExample { id: String::new(), messages: full };
        let t = crate::train::data::tokenize(&example, &self.template, &self.tokenizer, max_len)
            .map_err(|e| ScoreError::Config(e.to_string()))?;
        Ok(t.ids[..t.prompt_len].to_vec())
    }

    /// How likely the model is to write the answer that ends `messages` (the assistant's turn)
    /// after the turns before it: the natural-log probability of the answer's tokens, summed,
    /// with the conversation tokenized and cut exactly as training does
    /// (`crate::train::data::tokenize` with `max_len`), so the answer's end (a newline, the eos
    /// token) counts too. One forward pass, no cache.
    pub fn answer_logprob(&self, messages: &[Message], max_len: usize) -> Result<f64> {
        let example = crate::train::ChatExample { id: String::new(), messages: messages.to_vec() };
        let t = crate::train::data::tokenize(&example, &self.template, &self.tokenizer, max_len)
            .map_err(|e| ScoreError::Config(e.to_string()))?;
        let vocab = self.model.config().vocab_size;
        if let Some(bad) = t.ids.iter().find(|i| **i as usize >= vocab) {
            return Err(ScoreError::VocabMismatch { tokenizer: *bad as usize + 1, model: vocab });
        }
        let answer = t.ids.len() - t.prompt_len;
        let ids = Tensor::new(t.ids.as_slice(), &self.device)?;
        let hidden = self.model.forward(&ids)?.narrow(0, t.prompt_len - 1, answer)?;
        let logp = candle_nn::ops::log_softmax(&self.model.logits(&hidden)?, 1)?;
        let next = ids.narrow(0, t.prompt_len, answer)?.unsqueeze(1)?;
        Ok(logp.gather(&next, 1)?.sum_all()?.to_scalar::<f32>()? as f64)
    }

    /// Token ids of `text`, no special tokens added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false).map_err(|e| ScoreError::Tokenizer(e.to_string()))?.get_ids().to_vec())
    }

    /// Text of token ids, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| ScoreError::Tokenizer(e.to_string()))
    }

    /// Generate after the prompt text `prompt`.
    pub fn generate(&self, prompt: &str, opts: &GenerateOptions) -> Result<Generation> {
        let ids = self.encode(prompt)?;
        self.generate_ids(&ids, opts)
    }

    /// Generate after the prompt token ids `ids`.
    pub fn generate_ids(&self, ids: &[u32], opts: &GenerateOptions) -> Result<Generation> {
        check_options(opts)?;
        let prompt = self.fit_prompt(ids, opts)?;
        let budget = opts.max_new_tokens.min(opts.max_len.saturating_sub(prompt.len()));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
        let mut cache = self.model.new_cache();
        let mut logits = self.last_logits(prompt, &mut cache)?;
        let mut tokens = Vec::new();
        loop {
            if tokens.len() >= budget {
                return self.finish(tokens, StopReason::Length, opts, prompt.len());
            }
            let next = pick(&logits, opts, &mut rng);
            if self.eos.contains(&next) {
                return self.finish(tokens, StopReason::Eos, opts, prompt.len());
            }
            tokens.push(next);
            if !opts.stop.is_empty() {
                let text = self.decode(&tokens)?;
                if let Some(s) = opts.stop.iter().find(|s| text.contains(s.as_str())) {
                    return self.finish(tokens, StopReason::Stop(s.clone()), opts, prompt.len());
                }
            }
            if tokens.len() < budget {
                logits = self.last_logits(&[next], &mut cache)?;
            }
        }
    }

    /// Greedy generation that runs the whole sequence through the model for every new token
    /// (no cache, no stop sequences, no eos): the reference the cached path is checked against.
    pub fn greedy_uncached(&self, ids: &[u32], max_new_tokens: usize) -> Result<Vec<u32>> {
        let mut seq = ids.to_vec();
        for _ in 0..max_new_tokens {
            let t = Tensor::new(seq.as_slice(), &self.device)?;
            let hidden = self.model.forward(&t)?;
            let last = hidden.narrow(0, seq.len() - 1, 1)?;
            let logits = self.model.logits(&last)?.squeeze(0)?.to_vec1::<f32>()?;
            seq.push(argmax(&logits));
        }
        Ok(seq[ids.len()..].to_vec())
    }

    /// The prompt's last tokens that leave room for at least one new token.
    fn fit_prompt<'a>(&self, ids: &'a [u32], opts: &GenerateOptions) -> Result<&'a [u32]> {
        if ids.is_empty() {
            return Err(ScoreError::Config("the prompt has no tokens".into()));
        }
        let vocab = self.model.config().vocab_size;
        if let Some(bad) = ids.iter().find(|i| **i as usize >= vocab) {
            return Err(ScoreError::VocabMismatch { tokenizer: *bad as usize + 1, model: vocab });
        }
        let keep = opts.max_len.saturating_sub(opts.max_new_tokens).max(1).min(ids.len());
        Ok(&ids[ids.len() - keep..])
    }

    /// Run `ids` after the cache; the next-token logits of the last one.
    fn last_logits(&self, ids: &[u32], cache: &mut super::llama::KvCache) -> Result<Vec<f32>> {
        let t = Tensor::new(ids, &self.device)?;
        let hidden = self.model.forward_cached(&t, cache)?;
        let last = hidden.narrow(0, ids.len() - 1, 1)?;
        Ok(self.model.logits(&last)?.squeeze(0)?.to_vec1::<f32>()?)
    }

    fn finish(
        &self,
        tokens: Vec<u32>,
        stopped_by: StopReason,
        opts: &GenerateOptions,
        prompt_tokens: usize,
    ) -> Result<Generation> {
        let mut text = self.decode(&tokens)?;
        if let Some(at) = opts.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
            text.truncate(at);
        }
        Ok(Generation { text, tokens, stopped_by, prompt_tokens })
    }
}

fn check_options(opts: &GenerateOptions) -> Result<()> {
    if !(opts.temperature >= 0.0 && opts.temperature.is_finite()) {
        return Err(ScoreError::Config(format!("temperature {} must be 0 (greedy) or positive", opts.temperature)));
    }
    if !(opts.top_p > 0.0 && opts.top_p <= 1.0) {
        return Err(ScoreError::Config(format!("top_p {} must be in (0, 1]", opts.top_p)));
    }
    if opts.max_len < 2 {
        return Err(ScoreError::Config("max_len must be at least 2".into()));
    }
    if opts.stop.iter().any(|s| s.is_empty()) {
        return Err(ScoreError::Config("a stop sequence cannot be empty".into()));
    }
    Ok(())
}

/// The end-of-sequence ids: the template's eos token and `generation_config.json`'s
/// `eos_token_id` (a number or a list), when the model folder has them.
fn eos_ids(dir: &Path, template: &ChatTemplate, tokenizer: &Tokenizer) -> Vec<u32> {
    let mut ids: Vec<u32> = template.eos_token.as_deref().and_then(|t| tokenizer.token_to_id(t)).into_iter().collect();
    let generation = std::fs::read_to_string(dir.join("generation_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let Some(v) = generation.as_ref().and_then(|g| g.get("eos_token_id")) {
        let list = match v {
            serde_json::Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        ids.extend(list.iter().filter_map(|x| x.as_u64()).map(|x| x as u32));
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn argmax(logits: &[f32]) -> u32 {
    // The first of equal maxima, as `argmax` in torch.
    let mut best = 0;
    for (i, x) in logits.iter().enumerate() {
        if *x > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// The next token: argmax when greedy, else a draw from the tempered, nucleus-cut distribution.
fn pick(logits: &[f32], opts: &GenerateOptions, rng: &mut impl Rng) -> u32 {
    if opts.temperature == 0.0 {
        return argmax(logits);
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut probs: Vec<(u32, f64)> =
        logits.iter().enumerate().map(|(i, x)| (i as u32, ((*x as f64 - max) / opts.temperature).exp())).collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.iter_mut().for_each(|p| p.1 /= total);
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0;
    let mut mass = 0.0;
    for p in &probs {
        kept += 1;
        mass += p.1;
        if mass >= opts.top_p {
            break;
        }
    }
    probs.truncate(kept.max(1));
    let mut draw = rng.random::<f64>() * mass.clamp(f64::MIN_POSITIVE, 1.0);
    for (id, p) in &probs {
        if draw < *p {
            return *id;
        }
        draw -= p;
    }
    probs.last().map_or(0, |p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{write_tiny_model, TinySpec};

    fn tiny(spec: TinySpec) -> (tempfile::TempDir, Generator) {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), &spec).unwrap();
        let g = Generator::load(dir.path(), None, DeviceKind::Cpu).unwrap();
        (dir, g)
    }

    #[test]
    fn cached_greedy_generation_is_the_full_forward_argmax_each_step() {
        for spec in [TinySpec::default(), TinySpec { width: 64, kv_heads: Some(2), seed: 3, ..Default::default() }] {
            let (_dir, g) = tiny(spec);
            let ids = g.encode("def f(a, b):\n    return a <= b\n").unwrap();
            let opts = GenerateOptions { max_new_tokens: 40, ..Default::default() };
            let cached = g.generate_ids(&ids, &opts).unwrap();
            assert_eq!(cached.stopped_by, StopReason::Length);
            assert_eq!(cached.tokens.len(), 40);
            assert_eq!(cached.tokens, g.greedy_uncached(&ids, 40).unwrap());
            assert!(g.random_weights());
        }
    }

    #[test]
    fn a_sequence_fed_in_pieces_has_the_hidden_states_of_one_pass() {
        let (_dir, g) = tiny(TinySpec::default());
        let ids = g.encode("the quick brown fox jumps").unwrap();
        let whole = g.model.forward(&Tensor::new(ids.as_slice(), &g.device).unwrap()).unwrap();
        let mut cache = g.model.new_cache();
        let mut parts = Vec::new();
        for chunk in [&ids[..7], &ids[7..8], &ids[8..]] {
            parts.push(g.model.forward_cached(&Tensor::new(chunk, &g.device).unwrap(), &mut cache).unwrap());
        }
        assert_eq!(cache.len(), ids.len());
        let pieces = Tensor::cat(&parts, 0).unwrap();
        let diff = (whole - pieces).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff < 1e-4, "max difference {diff}");
    }

    #[test]
    fn sampling_is_seeded_and_stop_sequences_cut_the_text() {
        let (_dir, g) = tiny(TinySpec::default());
        let opts = |seed| GenerateOptions { max_new_tokens: 30, temperature: 1.0, seed, ..Default::default() };
        let a = g.generate("Problem: x", &opts(1)).unwrap();
        assert_eq!(a, g.generate("Problem: x", &opts(1)).unwrap(), "same seed, same output");
        let b = g.generate("Problem: x", &opts(2)).unwrap();
        assert_ne!(a.tokens, b.tokens, "different seeds differ at T=1");
        // A stop sequence taken from what the model writes anyway ends generation there.
        let greedy = g.generate("Problem: x", &GenerateOptions { max_new_tokens: 30, ..Default::default() }).unwrap();
        let stop: String = greedy.text.chars().skip(3).take(2).collect();
        let cut = g
            .generate(
                "Problem: x",
                &GenerateOptions { max_new_tokens: 30, stop: vec![stop.clone()], ..Default::default() },
            )
            .unwrap();
        assert_eq!(cut.stopped_by, StopReason::Stop(stop.clone()));
        assert!(greedy.text.starts_with(&cut.text) && !cut.text.contains(&stop), "{cut:?} vs {greedy:?}");
        assert!(cut.tokens.len() < 30);
        // The prompt keeps its end within max_len.
        let long = "x".repeat(500);
        let fit = g.generate(&long, &GenerateOptions { max_new_tokens: 5, max_len: 64, ..Default::default() }).unwrap();
        assert_eq!((fit.prompt_tokens, fit.tokens.len()), (59, 5));
    }

    #[test]
    fn top_p_keeps_the_likely_tokens_and_greedy_is_argmax() {
        let logits = [0.0f32, 5.0, 4.9, -3.0];
        let greedy = GenerateOptions::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(pick(&logits, &greedy, &mut rng), 1);
        let nucleus = GenerateOptions { temperature: 1.0, top_p: 0.5, ..Default::default() };
        assert!((0..50).all(|_| pick(&logits, &nucleus, &mut rng) == 1), "top_p 0.5 keeps the first only");
        let wide = GenerateOptions { temperature: 1.0, top_p: 0.99, ..Default::default() };
        let drawn: std::collections::BTreeSet<u32> = (0..200).map(|_| pick(&logits, &wide, &mut rng)).collect();
        assert!(drawn.contains(&1) && drawn.contains(&2) && !drawn.contains(&3), "{drawn:?}");
    }

    #[test]
    fn an_answers_logprob_is_the_sum_of_its_tokens_stepwise_logprobs() {
        let (_dir, g) = tiny(TinySpec::default());
        let messages = vec![
            Message::new("system", "fix"),
            Message::new("user", "x = a <= b"),
            Message::new("assistant", "<= => <\n"),
        ];
        let example = crate::train::ChatExample { id: String::new(), messages: messages.clone() };
        let t = crate::train::data::tokenize(&example, &g.template, &g.tokenizer, 64).unwrap();
        let mut cache = g.model.new_cache();
        let mut logits = g.last_logits(&t.ids[..t.prompt_len], &mut cache).unwrap();
        let mut want = 0.0f64;
        for &next in &t.ids[t.prompt_len..] {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let norm = logits.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln() + max;
            want += logits[next as usize] as f64 - norm;
            logits = g.last_logits(&[next], &mut cache).unwrap();
        }
        let got = g.answer_logprob(&messages, 64).unwrap();
        assert!(got < 0.0 && (got - want).abs() < 1e-3, "{got} vs {want}");
        let other = [&messages[..2], &[Message::new("assistant", "a => b\n")]].concat();
        assert_ne!(g.answer_logprob(&other, 64).unwrap(), got, "another answer, another probability");
    }

    #[test]
    fn bad_options_are_errors() {
        let bad = [
            GenerateOptions { temperature: -1.0, ..Default::default() },
            GenerateOptions { top_p: 0.0, ..Default::default() },
            GenerateOptions { stop: vec![String::new()], ..Default::default() },
        ];
        for o in &bad {
            assert!(check_options(o).is_err(), "{o:?}");
        }
    }
}
