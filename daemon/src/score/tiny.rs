//! A small random Llama-style model in the Hugging Face layout, for tests and benchmarks.
//!
//! In: a folder and a `TinySpec` (layers, width, seed, optional vocabulary size). Out: the folder
//! holding `config.json`, `model.safetensors` (seeded uniform weights, unit norms) and a
//! byte-level `tokenizer.json` (256 byte tokens + `<|bos|>`, `<|eos|>`, `<|pad|>`) that
//! `Scorer::load` reads like any other model.

use super::{Config, Result, ScoreError};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::Path;

/// Special tokens after the 256 byte tokens.
pub const SPECIALS: &[&str] = &["<|bos|>", "<|eos|>", "<|pad|>"];

/// The shape of a tiny model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TinySpec {
    pub layers: usize,
    pub width: usize,
    pub seed: u64,
    /// Embedding rows; at least the tokenizer's 259 (extra rows are never produced by it).
    pub vocab: Option<usize>,
    /// Key/value heads (default: as many as query heads).
    pub kv_heads: Option<usize>,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec { layers: 2, width: 64, seed: 0, vocab: None, kv_heads: None }
    }
}

impl TinySpec {
    /// The configuration it writes.
    pub fn config(&self) -> Result<Config> {
        let byte_vocab = 256 + SPECIALS.len();
        let vocab = self.vocab.unwrap_or(byte_vocab);
        if self.layers == 0 || self.width == 0 || self.width % 16 != 0 || vocab < byte_vocab {
            return Err(ScoreError::Config(format!(
                "tiny model: layers must be positive, width a positive multiple of 16, vocab at least {byte_vocab}"
            )));
        }
        let head_dim = if self.width % 64 == 0 && self.width >= 128 { 64 } else { 16 };
        let heads = self.width / head_dim;
        let kv = self.kv_heads.unwrap_or(heads);
        if kv == 0 || heads % kv != 0 {
            return Err(ScoreError::Config(format!(
                "tiny model: {heads} heads are not a multiple of {kv} key/value heads"
            )));
        }
        Ok(Config {
            model_type: "llama".into(),
            vocab_size: vocab,
            hidden_size: self.width,
            intermediate_size: (self.width * 8 / 3).div_ceil(32) * 32,
            num_hidden_layers: self.layers,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            rms_norm_eps: 1e-6,
            rope_theta: 10_000.0,
            tie_word_embeddings: false,
            qkv_bias: false,
            max_position_embeddings: 4096,
        })
    }
}

/// Write the model; returns its configuration.
pub fn write_tiny_model(out: &Path, spec: &TinySpec) -> Result<Config> {
    let c = spec.config()?;
    std::fs::create_dir_all(out).map_err(|source| ScoreError::Io { path: out.to_path_buf(), source })?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    let dev = Device::Cpu;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let random = |shape: (usize, usize), rng: &mut rand_chacha::ChaCha8Rng| -> Result<Tensor> {
        // Uniform with standard deviation 0.02.
        let a = 0.02f32 * 3f32.sqrt();
        let data: Vec<f32> = (0..shape.0 * shape.1).map(|_| rng.random_range(-a..a)).collect();
        Ok(Tensor::from_vec(data, shape, &dev)?)
    };
    let (h, i, hd) = (c.hidden_size, c.intermediate_size, c.head_dim);
    let (q, kv) = (c.num_attention_heads * hd, c.num_key_value_heads * hd);
    tensors.insert("model.embed_tokens.weight".into(), random((c.vocab_size, h), &mut rng)?);
    for l in 0..c.num_hidden_layers {
        let p = format!("model.layers.{l}");
        for (name, shape) in [
            ("self_attn.q_proj", (q, h)),
            ("self_attn.k_proj", (kv, h)),
            ("self_attn.v_proj", (kv, h)),
            ("self_attn.o_proj", (h, q)),
            ("mlp.gate_proj", (i, h)),
            ("mlp.up_proj", (i, h)),
            ("mlp.down_proj", (h, i)),
        ] {
            tensors.insert(format!("{p}.{name}.weight"), random(shape, &mut rng)?);
        }
        tensors.insert(format!("{p}.input_layernorm.weight"), Tensor::ones(h, candle_core::DType::F32, &dev)?);
        tensors.insert(format!("{p}.post_attention_layernorm.weight"), Tensor::ones(h, candle_core::DType::F32, &dev)?);
    }
    tensors.insert("model.norm.weight".into(), Tensor::ones(h, candle_core::DType::F32, &dev)?);
    // Larger head weights so the random model's predictions depend on the context.
    let head = (random((c.vocab_size, h), &mut rng)? * 10.0)?;
    tensors.insert("lm_head.weight".into(), head);
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|source| ScoreError::Io { path, source })
    };
    write("config.json", c.to_hf_json().as_bytes())?;
    write(
        RANDOM_WEIGHTS_MARKER,
        b"socratic wrote this model with random weights: rewards computed on it are not a signal\n",
    )?;
    write("tokenizer.json", byte_tokenizer_json().as_bytes())?;
    candle_core::safetensors::save(&tensors, out.join("model.safetensors"))
        .map_err(|e| ScoreError::Weights(e.to_string()))?;
    Ok(c)
}

/// The file that marks a model folder as random weights (see `Scorer::random_weights`).
pub const RANDOM_WEIGHTS_MARKER: &str = "RANDOM_WEIGHTS";

/// GPT-2's byte-to-character table: printable bytes map to themselves, the rest to 256+.
fn byte_chars() -> Vec<char> {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut extra = 0;
    (0u32..256)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).unwrap_or('?')
            } else {
                extra += 1;
                char::from_u32(255 + extra).unwrap_or('?')
            }
        })
        .collect()
}

/// A byte-level BPE tokenizer with no merges: one token per byte, ids 0..256 in byte order,
/// then the specials.
pub fn byte_tokenizer_json() -> String {
    let vocab: serde_json::Map<String, serde_json::Value> =
        byte_chars().into_iter().enumerate().map(|(id, ch)| (ch.to_string(), serde_json::json!(id))).collect();
    let added: Vec<serde_json::Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(k, s)| {
            serde_json::json!({"id": 256 + k, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let byte_level =
        serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false});
    let doc = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": byte_level,
        "post_processor": null,
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": []
        }
    });
    serde_json::to_string(&doc).unwrap_or_default()
}
