//! A Llama-style decoder (Llama, Qwen2, Mistral weights) written for gradients.
//!
//! In: a `VarBuilder` over the Hugging Face tensor names (`model.embed_tokens.weight`,
//! `model.layers.N.self_attn.q_proj.weight`, ...) and token ids. Out: final hidden states and
//! next-token logits for one sequence. Every op is a plain differentiable candle op (no fused
//! kernels), so `backward` reaches whichever weights the builder handed out as variables.

use super::config::Config;
use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder};

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

fn linear(in_dim: usize, out_dim: usize, bias: bool, vb: VarBuilder) -> Result<Linear> {
    let weight = vb.get((out_dim, in_dim), "weight")?;
    let bias = if bias { Some(vb.get(out_dim, "bias")?) } else { None };
    Ok(Linear::new(weight, bias))
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(c: &Config, vb: VarBuilder) -> Result<Self> {
        let (h, hd) = (c.hidden_size, c.head_dim);
        Ok(Attention {
            q: linear(h, c.num_attention_heads * hd, c.qkv_bias, vb.pp("q_proj"))?,
            k: linear(h, c.num_key_value_heads * hd, c.qkv_bias, vb.pp("k_proj"))?,
            v: linear(h, c.num_key_value_heads * hd, c.qkv_bias, vb.pp("v_proj"))?,
            o: linear(c.num_attention_heads * hd, h, false, vb.pp("o_proj"))?,
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

struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    fn new(c: &Config, vb: VarBuilder) -> Result<Self> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        Ok(Mlp {
            gate: linear(h, i, false, vb.pp("gate_proj"))?,
            up: linear(h, i, false, vb.pp("up_proj"))?,
            down: linear(i, h, false, vb.pp("down_proj"))?,
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
    fn new(c: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Block {
            norm1: RmsNorm::new(c.hidden_size, c.rms_norm_eps, vb.pp("input_layernorm"))?,
            attn: Attention::new(c, vb.pp("self_attn"))?,
            norm2: RmsNorm::new(c.hidden_size, c.rms_norm_eps, vb.pp("post_attention_layernorm"))?,
            mlp: Mlp::new(c, vb.pp("mlp"))?,
        })
    }

    fn forward(&self, x: &Tensor, rope: &(Tensor, Tensor), mask: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm1.forward(x)?, rope, mask)?)?;
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
        let m = vb.pp("model");
        let table = m.pp("embed_tokens").get((config.vocab_size, config.hidden_size), "weight")?;
        let lm_head = if config.tie_word_embeddings {
            table.clone()
        } else {
            vb.pp("lm_head").get((config.vocab_size, config.hidden_size), "weight")?
        };
        let blocks = (0..config.num_hidden_layers)
            .map(|i| Block::new(config, m.pp(format!("layers.{i}"))))
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
