//! A Llama-style decoder (Llama, Qwen2, Mistral weights) written for gradients.
//!
//! In: a `VarBuilder` over the Hugging Face tensor names (`model.embed_tokens.weight`,
//! `model.layers.N.self_attn.q_proj.weight`, ...) and token ids. Out: final hidden states and
//! next-token logits for one sequence. Every op is a plain differentiable candle op (no fused
//! kernels), so `backward` reaches whichever weights the builder handed out as variables.
//! Optionally, any linear layer carries a LoRA pair (`Adapters`, keyed by the layer's module
//! path such as `model.layers.0.self_attn.q_proj`): y = x Wᵀ + b + scale · (x Aᵀ) Bᵀ, A r×in,
//! B out×r; with B zero the output is the base layer's, bit for bit. `forward_cached` runs new
//! positions after those a `KvCache` holds (generation); `forward`, the scoring and training
//! path, is untouched by it.

use super::config::Config;
use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder};
use std::collections::HashMap;

/// One linear layer's LoRA factors: `a` (r, in), `b` (out, r), `scale` (alpha / r).
#[derive(Debug, Clone)]
pub struct LoraFactors {
    pub a: Tensor,
    pub b: Tensor,
    pub scale: f64,
}

/// LoRA factors by module path (`model.layers.N.self_attn.q_proj`, `model.layers.N.mlp.down_proj`).
pub type Adapters = HashMap<String, LoraFactors>;

/// The linear layers a block has, as (module path suffix under `model.layers.N`, in, out).
pub fn linear_shapes(c: &Config) -> Vec<(&'static str, usize, usize)> {
    let (h, i, hd) = (c.hidden_size, c.intermediate_size, c.head_dim);
    let (q, kv) = (c.num_attention_heads * hd, c.num_key_value_heads * hd);
    vec![
        ("self_attn.q_proj", h, q),
        ("self_attn.k_proj", h, kv),
        ("self_attn.v_proj", h, kv),
        ("self_attn.o_proj", q, h),
        ("mlp.gate_proj", h, i),
        ("mlp.up_proj", h, i),
        ("mlp.down_proj", i, h),
    ]
}

/// Root-mean-square norm with a learned scale.
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn new(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(RmsNorm { weight: vb.get(size, "weight")?, eps })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        let x = x.broadcast_div(&(ms + self.eps)?.sqrt()?)?;
        x.broadcast_mul(&self.weight)
    }
}

/// A linear layer, with its LoRA pair when the adapters hold one for its module path.
struct Proj {
    base: Linear,
    lora: Option<LoraFactors>,
}

impl Proj {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.base.forward(x)?;
        match &self.lora {
            None => Ok(y),
            Some(l) => y + (x.matmul(&l.a.t()?)?.matmul(&l.b.t()?)? * l.scale)?,
        }
    }
}

fn linear(in_dim: usize, out_dim: usize, bias: bool, vb: VarBuilder, adapters: &Adapters) -> Result<Proj> {
    let weight = vb.get((out_dim, in_dim), "weight")?;
    let bias = if bias { Some(vb.get(out_dim, "bias")?) } else { None };
    Ok(Proj { base: Linear::new(weight, bias), lora: adapters.get(&vb.prefix()).cloned() })
}

struct Attention {
    q: Proj,
    k: Proj,
    v: Proj,
    o: Proj,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(c: &Config, vb: VarBuilder, ad: &Adapters) -> Result<Self> {
        let (h, hd) = (c.hidden_size, c.head_dim);
        Ok(Attention {
            q: linear(h, c.num_attention_heads * hd, c.qkv_bias, vb.pp("q_proj"), ad)?,
            k: linear(h, c.num_key_value_heads * hd, c.qkv_bias, vb.pp("k_proj"), ad)?,
            v: linear(h, c.num_key_value_heads * hd, c.qkv_bias, vb.pp("v_proj"), ad)?,
            o: linear(c.num_attention_heads * hd, h, false, vb.pp("o_proj"), ad)?,
            heads: c.num_attention_heads,
            kv_heads: c.num_key_value_heads,
            head_dim: hd,
        })
    }

    /// `x`: (T, hidden). `rope`: (cos, sin), each (T, head_dim). `mask`: (T, T) additive.
    fn forward(&self, x: &Tensor, rope: &(Tensor, Tensor), mask: &Tensor) -> Result<Tensor> {
        let t = x.dim(0)?;
        let split =
            |y: Tensor, n: usize| -> Result<Tensor> { y.reshape((t, n, self.head_dim))?.transpose(0, 1)?.contiguous() };
        let q = apply_rope(&split(self.q.forward(x)?, self.heads)?, rope)?;
        let k = apply_rope(&split(self.k.forward(x)?, self.kv_heads)?, rope)?;
        let v = split(self.v.forward(x)?, self.kv_heads)?;
        let (k, v) = (self.repeat_kv(k)?, self.repeat_kv(v)?);
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let out = probs.matmul(&v)?.transpose(0, 1)?.reshape((t, self.heads * self.head_dim))?;
        self.o.forward(&out)
    }

    /// As `forward` for `x` (T new positions after `cache`'s), keys and values appended to the
    /// cache: attention covers the cached positions and the causal part of the new ones.
    fn forward_cached(
        &self,
        x: &Tensor,
        rope: &(Tensor, Tensor),
        mask: Option<&Tensor>,
        cache: &mut LayerCache,
    ) -> Result<Tensor> {
        let t = x.dim(0)?;
        let split =
            |y: Tensor, n: usize| -> Result<Tensor> { y.reshape((t, n, self.head_dim))?.transpose(0, 1)?.contiguous() };
        let q = apply_rope(&split(self.q.forward(x)?, self.heads)?, rope)?;
        let k = apply_rope(&split(self.k.forward(x)?, self.kv_heads)?, rope)?;
        let v = split(self.v.forward(x)?, self.kv_heads)?;
        let (k, v) = match cache.take() {
            None => (k, v),
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 1)?, Tensor::cat(&[&pv, &v], 1)?),
        };
        *cache = Some((k.clone(), v.clone()));
        let (k, v) = (self.repeat_kv(k)?, self.repeat_kv(v)?);
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let out = probs.matmul(&v)?.transpose(0, 1)?.reshape((t, self.heads * self.head_dim))?;
        self.o.forward(&out)
    }

    /// (kv_heads, T, d) -> (heads, T, d), each key/value head shared by a group of query heads.
    fn repeat_kv(&self, x: Tensor) -> Result<Tensor> {
        let rep = self.heads / self.kv_heads;
        if rep == 1 {
            return Ok(x);
        }
        let (_, t, d) = x.dims3()?;
        x.unsqueeze(1)?.broadcast_as((self.kv_heads, rep, t, d))?.contiguous()?.reshape((self.heads, t, d))
    }
}

/// Rotary embedding, "rotate half" layout (as Hugging Face's Llama): x*cos + rot(x)*sin.
fn apply_rope(x: &Tensor, (cos, sin): &(Tensor, Tensor)) -> Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// One layer's cached keys and values, (kv_heads, positions, head_dim) each.
type LayerCache = Option<(Tensor, Tensor)>;

/// The keys and values of the positions a sequence has been through (`Llama::forward_cached`).
pub struct KvCache {
    layers: Vec<LayerCache>,
    positions: usize,
}

impl KvCache {
    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.positions
    }

    pub fn is_empty(&self) -> bool {
        self.positions == 0
    }
}

struct Mlp {
    gate: Proj,
    up: Proj,
    down: Proj,
}

impl Mlp {
    fn new(c: &Config, vb: VarBuilder, ad: &Adapters) -> Result<Self> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        Ok(Mlp {
            gate: linear(h, i, false, vb.pp("gate_proj"), ad)?,
            up: linear(h, i, false, vb.pp("up_proj"), ad)?,
            down: linear(i, h, false, vb.pp("down_proj"), ad)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.down.forward(&(self.gate.forward(x)?.silu()? * self.up.forward(x)?)?)
    }
}

struct Block {
    norm1: RmsNorm,
    attn: Attention,
    norm2: RmsNorm,
    mlp: Mlp,
}

impl Block {
    fn new(c: &Config, vb: VarBuilder, ad: &Adapters) -> Result<Self> {
        Ok(Block {
            norm1: RmsNorm::new(c.hidden_size, c.rms_norm_eps, vb.pp("input_layernorm"))?,
            attn: Attention::new(c, vb.pp("self_attn"), ad)?,
            norm2: RmsNorm::new(c.hidden_size, c.rms_norm_eps, vb.pp("post_attention_layernorm"))?,
            mlp: Mlp::new(c, vb.pp("mlp"), ad)?,
        })
    }

    fn forward(&self, x: &Tensor, rope: &(Tensor, Tensor), mask: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm1.forward(x)?, rope, mask)?)?;
        &x + self.mlp.forward(&self.norm2.forward(&x)?)?
    }

    fn forward_cached(
        &self,
        x: &Tensor,
        rope: &(Tensor, Tensor),
        mask: Option<&Tensor>,
        cache: &mut LayerCache,
    ) -> Result<Tensor> {
        let x = (x + self.attn.forward_cached(&self.norm1.forward(x)?, rope, mask, cache)?)?;
        &x + self.mlp.forward(&self.norm2.forward(&x)?)?
    }
}

/// The decoder: embeddings, blocks, final norm, language-model head.
pub struct Llama {
    embed: Embedding,
    blocks: Vec<Block>,
    norm: RmsNorm,
    lm_head: Tensor,
    config: Config,
}

impl Llama {
    pub fn new(config: &Config, vb: VarBuilder) -> Result<Self> {
        Llama::with_adapters(config, vb, &Adapters::new())
    }

    /// The decoder with a LoRA pair on every linear layer `adapters` names.
    pub fn with_adapters(config: &Config, vb: VarBuilder, adapters: &Adapters) -> Result<Self> {
        let m = vb.pp("model");
        let table = m.pp("embed_tokens").get((config.vocab_size, config.hidden_size), "weight")?;
        let lm_head = if config.tie_word_embeddings {
            table.clone()
        } else {
            vb.pp("lm_head").get((config.vocab_size, config.hidden_size), "weight")?
        };
        let blocks = (0..config.num_hidden_layers)
            .map(|i| Block::new(config, m.pp(format!("layers.{i}")), adapters))
            .collect::<Result<Vec<_>>>()?;
        Ok(Llama {
            embed: Embedding::new(table, config.hidden_size),
            blocks,
            norm: RmsNorm::new(config.hidden_size, config.rms_norm_eps, m.pp("norm"))?,
            lm_head,
            config: config.clone(),
        })
    }

    /// Final hidden states (T, hidden) of the token ids `ids` (T,), causal attention.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let t = ids.dim(0)?;
        let device = ids.device();
        let rope = rope_tables(t, self.config.head_dim, self.config.rope_theta, device)?;
        let mask = causal_mask(t, device)?;
        let mut x = self.embed.forward(ids)?;
        for block in &self.blocks {
            x = block.forward(&x, &rope, &mask)?;
        }
        self.norm.forward(&x)
    }

    /// An empty cache for `forward_cached`.
    pub fn new_cache(&self) -> KvCache {
        KvCache { layers: vec![None; self.blocks.len()], positions: 0 }
    }

    /// Final hidden states (T, hidden) of `ids` (T,), the positions after those `cache` holds;
    /// their keys and values join the cache. Feeding a sequence in pieces gives the hidden
    /// states `forward` gives for the whole (up to float rounding), without recomputing the
    /// earlier positions. A failed call leaves the cache unusable.
    pub fn forward_cached(&self, ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        let t = ids.dim(0)?;
        let past = cache.positions;
        let device = ids.device();
        let (cos, sin) = rope_tables(past + t, self.config.head_dim, self.config.rope_theta, device)?;
        let rope = (cos.narrow(0, past, t)?, sin.narrow(0, past, t)?);
        let mask = if t > 1 { Some(causal_mask_after(past, t, device)?) } else { None };
        let mut x = self.embed.forward(ids)?;
        for (block, layer) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            x = block.forward_cached(&x, &rope, mask.as_ref(), layer)?;
        }
        cache.positions = past + t;
        self.norm.forward(&x)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Next-token logits (N, vocab) from hidden states (N, hidden).
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        hidden.matmul(&self.lm_head.t()?)
    }
}

fn rope_tables(t: usize, head_dim: usize, theta: f64, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let inv: Vec<f32> = (0..half).map(|i| (1.0 / theta.powf(2.0 * i as f64 / head_dim as f64)) as f32).collect();
    let inv = Tensor::from_vec(inv, (1, half), device)?;
    let pos = Tensor::arange(0u32, t as u32, device)?.to_dtype(DType::F32)?.reshape((t, 1))?;
    let freqs = pos.broadcast_mul(&inv)?;
    let freqs = Tensor::cat(&[&freqs, &freqs], D::Minus1)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

/// (T, T): 0 where key j <= query i, -1e9 above the diagonal; built on the device.
fn causal_mask(t: usize, device: &Device) -> Result<Tensor> {
    let pos = Tensor::arange(0u32, t as u32, device)?;
    let future = pos.unsqueeze(0)?.broadcast_gt(&pos.unsqueeze(1)?)?;
    future.to_dtype(DType::F32)? * -1e9
}

/// (T, past + T): query i (at position past + i) sees keys 0..=past + i.
fn causal_mask_after(past: usize, t: usize, device: &Device) -> Result<Tensor> {
    let keys = Tensor::arange(0u32, (past + t) as u32, device)?;
    let queries = Tensor::arange(past as u32, (past + t) as u32, device)?;
    let future = keys.unsqueeze(0)?.broadcast_gt(&queries.unsqueeze(1)?)?;
    future.to_dtype(DType::F32)? * -1e9
}
