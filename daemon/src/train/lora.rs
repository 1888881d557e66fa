//! LoRA parameters for the decoder's linear layers.
//!
//! In: a model `Config`, a `LoraSpec` (rank, alpha, target module names such as `q_proj`), a
//! seed and a device. Out: `LoraParams`: for every targeted layer its module path
//! (`model.layers.N.self_attn.q_proj`), A (r×in, Kaiming-uniform as PEFT initialises it, from
//! the seed) and B (out×r, zeros) as candle `Var`s in a fixed order, and the `Adapters` map the
//! decoder reads (sharing the variables' storage, so an optimizer step is seen by the model).

use super::{Result, TrainError};
use crate::score::llama::linear_shapes;
use crate::score::{Adapters, Config, LoraFactors};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};

/// Every linear layer of a Llama-style block, by the short names PEFT's `target_modules` use.
pub const ALL_TARGETS: &[&str] = &["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

/// Rank, scaling and which layers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraSpec {
    pub rank: usize,
    pub alpha: f64,
    /// Short module names (`q_proj`, `down_proj`), matched against each layer's last path part.
    pub targets: Vec<String>,
}

impl LoraSpec {
    /// alpha / r, the factor on B A.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// One adapted layer: module path and its two factors.
pub struct LoraLayer {
    pub module: String,
    pub a: Var,
    pub b: Var,
}

/// The trainable adapter.
pub struct LoraParams {
    pub spec: LoraSpec,
    pub layers: Vec<LoraLayer>,
}

/// The layers `spec` targets as (module path, in, out), in layer then block order. A name that
/// matches no layer, a rank of 0, or a rank above a layer's smaller side is an error.
pub fn targeted(config: &Config, spec: &LoraSpec) -> Result<Vec<(String, usize, usize)>> {
    if spec.rank == 0 {
        return Err(TrainError::Input("LoRA rank must be positive".into()));
    }
    if spec.targets.is_empty() {
        return Err(TrainError::Input(format!("no target modules given (the layers are {})", ALL_TARGETS.join(", "))));
    }
    let shapes = linear_shapes(config);
    let short = |suffix: &str| suffix.rsplit('.').next().unwrap_or(suffix).to_string();
    for t in &spec.targets {
        if !shapes.iter().any(|(suffix, _, _)| short(suffix) == *t) {
            return Err(TrainError::Input(format!(
                "target module '{t}' matches no linear layer of this {} model (the layers are {})",
                config.model_type,
                ALL_TARGETS.join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    for layer in 0..config.num_hidden_layers {
        for (suffix, fan_in, fan_out) in &shapes {
            if !spec.targets.contains(&short(suffix)) {
                continue;
            }
            if spec.rank > (*fan_in).min(*fan_out) {
                return Err(TrainError::Input(format!(
                    "LoRA rank {} is larger than layer {} ({fan_out}×{fan_in}); use at most {}",
                    spec.rank,
                    short(suffix),
                    (*fan_in).min(*fan_out)
                )));
            }
            out.push((format!("model.layers.{layer}.{suffix}"), *fan_in, *fan_out));
        }
    }
    Ok(out)
}

impl LoraParams {
    /// Fresh factors: A uniform in ±1/√in (PEFT's `kaiming_uniform_(a=√5)`), B zero.
    pub fn init(config: &Config, spec: &LoraSpec, seed: u64, device: &Device) -> Result<LoraParams> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut layers = Vec::new();
        for (module, fan_in, fan_out) in targeted(config, spec)? {
            let bound = 1.0 / (fan_in as f32).sqrt();
            let a: Vec<f32> = (0..spec.rank * fan_in).map(|_| rng.random_range(-bound..bound)).collect();
            let a = Var::from_tensor(&Tensor::from_vec(a, (spec.rank, fan_in), device)?)?;
            let b = Var::zeros((fan_out, spec.rank), DType::F32, device)?;
            layers.push(LoraLayer { module, a, b });
        }
        Ok(LoraParams { spec: spec.clone(), layers })
    }

    /// Factors given by module path (loaded from a file), checked against the model's shapes.
    pub fn from_tensors(
        config: &Config,
        spec: &LoraSpec,
        mut get: impl FnMut(&str) -> Option<(Tensor, Tensor)>,
    ) -> Result<LoraParams> {
        let mut layers = Vec::new();
        for (module, fan_in, fan_out) in targeted(config, spec)? {
            let (a, b) = get(&module).ok_or_else(|| TrainError::Input(format!("no LoRA factors for {module}")))?;
            if a.dims() != [spec.rank, fan_in] || b.dims() != [fan_out, spec.rank] {
                return Err(TrainError::Input(format!(
                    "{module}: LoRA factors of shapes {:?} and {:?}, expected [{}, {fan_in}] and [{fan_out}, {}]",
                    a.dims(),
                    b.dims(),
                    spec.rank,
                    spec.rank
                )));
            }
            layers.push(LoraLayer {
                module,
                a: Var::from_tensor(&a.to_dtype(DType::F32)?)?,
                b: Var::from_tensor(&b.to_dtype(DType::F32)?)?,
            });
        }
        Ok(LoraParams { spec: spec.clone(), layers })
    }

    /// What the decoder reads: the variables' tensors by module path, scale alpha / r.
    pub fn adapters(&self) -> Adapters {
        let scale = self.spec.scale();
        self.layers
            .iter()
            .map(|l| {
                let f = LoraFactors { a: l.a.as_tensor().clone(), b: l.b.as_tensor().clone(), scale };
                (l.module.clone(), f)
            })
            .collect()
    }

    /// Every variable, A then B per layer, in layer order (the optimizer's order).
    pub fn vars(&self) -> Vec<&Var> {
        self.layers.iter().flat_map(|l| [&l.a, &l.b]).collect()
    }

    /// Trainable elements.
    pub fn parameter_count(&self) -> usize {
        self.vars().iter().map(|v| v.elem_count()).sum()
    }
}
