//! `config.json` of a Hugging Face causal LM, checked for what the scorer supports.
//!
//! In: the text of `config.json`. Out: a `Config` for a Llama-style decoder (`llama`, `qwen2`,
//! `mistral`), or a `ScoreError` naming the unsupported architecture or the missing field.

use super::ScoreError;
use serde::{Deserialize, Serialize};

/// Architectures the Llama-style module reads (same layout; `qwen2` adds q/k/v biases).
pub const SUPPORTED: &[&str] = &["llama", "qwen2", "mistral"];

/// The decoder's shape and constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub tie_word_embeddings: bool,
    /// Biases on the q, k and v projections (Qwen2 always; Llama when `attention_bias`).
    pub qkv_bias: bool,
    pub max_position_embeddings: usize,
}

#[derive(Deserialize)]
struct Raw {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    max_position_embeddings: Option<usize>,
}

impl Config {
    /// Parse and check `config.json`.
    pub fn parse(text: &str) -> Result<Config, ScoreError> {
        let raw: Raw =
            serde_json::from_str(text).map_err(|e| ScoreError::Config(format!("config.json is not valid: {e}")))?;
        let model_type = raw.model_type.ok_or_else(|| ScoreError::Config("config.json has no model_type".into()))?;
        if !SUPPORTED.contains(&model_type.as_str()) {
            return Err(ScoreError::UnsupportedArchitecture { model_type, supported: SUPPORTED.join(", ") });
        }
        let need = |v: Option<usize>, name: &str| {
            v.filter(|n| *n > 0).ok_or_else(|| ScoreError::Config(format!("config.json: {name} missing or zero")))
        };
        let hidden_size = need(raw.hidden_size, "hidden_size")?;
        let num_attention_heads = need(raw.num_attention_heads, "num_attention_heads")?;
        let num_key_value_heads = raw.num_key_value_heads.unwrap_or(num_attention_heads);
        if num_key_value_heads == 0 || num_attention_heads % num_key_value_heads != 0 {
            return Err(ScoreError::Config(format!(
                "config.json: num_attention_heads {num_attention_heads} is not a multiple of num_key_value_heads {num_key_value_heads}"
            )));
        }
        let head_dim = raw.head_dim.unwrap_or(hidden_size / num_attention_heads);
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(ScoreError::Config(format!(
                "config.json: head dimension {head_dim} must be even and positive"
            )));
        }
        Ok(Config {
            qkv_bias: model_type == "qwen2" || raw.attention_bias.unwrap_or(false),
            model_type,
            vocab_size: need(raw.vocab_size, "vocab_size")?,
            hidden_size,
            intermediate_size: need(raw.intermediate_size, "intermediate_size")?,
            num_hidden_layers: need(raw.num_hidden_layers, "num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
            rope_theta: raw.rope_theta.unwrap_or(10_000.0),
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            max_position_embeddings: raw.max_position_embeddings.unwrap_or(4096),
        })
    }

    /// `config.json` text for this configuration (what `model tiny` writes).
    pub fn to_hf_json(&self) -> String {
        let v = serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": self.model_type,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tie_word_embeddings,
            "attention_bias": self.qkv_bias,
            "max_position_embeddings": self.max_position_embeddings,
            "hidden_act": "silu",
            "torch_dtype": "float32",
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }

    /// Parameter count implied by the shapes.
    pub fn parameter_count(&self) -> usize {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let bias = if self.qkv_bias { q + 2 * kv } else { 0 };
        let layer = h * q + 2 * h * kv + q * h + bias + 3 * h * i + 2 * h;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v * h + self.num_hidden_layers * layer + h + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_architecture_is_named() {
        let e = Config::parse(r#"{"model_type": "gpt2", "vocab_size": 10}"#).unwrap_err();
        assert!(e.to_string().contains("gpt2"), "{e}");
        assert!(e.to_string().contains("llama"), "{e}");
    }

    #[test]
    fn qwen2_has_qkv_bias_and_defaults() {
        let c = Config::parse(
            r#"{"model_type":"qwen2","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2}"#,
        )
        .unwrap();
        assert!(c.qkv_bias);
        assert_eq!((c.num_key_value_heads, c.head_dim), (2, 4));
        assert_eq!(Config::parse(&c.to_hf_json()).unwrap(), c);
    }
}
