//! The adapter folder in PEFT's layout, written and read.
//!
//! In: `LoraParams` and the base model's name or path (to write); an adapter folder, the base
//! model's `Config` and a device (to read). Out: `adapter_config.json` (peft_type LORA, r,
//! lora_alpha, target_modules, lora_dropout, bias "none", task_type CAUSAL_LM,
//! base_model_name_or_path) and `adapter_model.safetensors` with PEFT's tensor names
//! (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, r×in; `lora_B.weight`,
//! out×r; f32), written through a temporary file and a rename; or, read back, the `Adapters`
//! the decoder applies, the `LoraParams` and the SHA-256 of the two files (the adapter hash).

use super::lora::{LoraParams, LoraSpec, ALL_TARGETS};
use super::{Result, TrainError};
use crate::score::{Adapters, Config};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub const CONFIG_FILE: &str = "adapter_config.json";
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
const PREFIX: &str = "base_model.model.";

/// `adapter_config.json`, the fields PEFT's `LoraConfig` reads (others it fills by default).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdapterConfig {
    pub peft_type: String,
    pub task_type: Option<String>,
    pub base_model_name_or_path: Option<String>,
    pub r: usize,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    pub bias: String,
    pub target_modules: serde_json::Value,
    #[serde(default)]
    pub fan_in_fan_out: bool,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    pub use_dora: bool,
    #[serde(default)]
    pub inference_mode: bool,
    #[serde(default)]
    pub rank_pattern: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub alpha_pattern: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub modules_to_save: Option<serde_json::Value>,
}

/// An adapter read back.
pub struct Loaded {
    pub params: LoraParams,
    pub adapters: Adapters,
    pub hash: String,
    pub config: AdapterConfig,
}

/// PEFT's name of a factor: `base_model.model.<module>.lora_A.weight`.
pub fn tensor_name(module: &str, factor: char) -> String {
    format!("{PREFIX}{module}.lora_{factor}.weight")
}

/// The files' bytes: (adapter_config.json, adapter_model.safetensors).
pub fn to_bytes(params: &LoraParams, base_model: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let config = AdapterConfig {
        peft_type: "LORA".into(),
        task_type: Some("CAUSAL_LM".into()),
        base_model_name_or_path: Some(base_model.to_string()),
        r: params.spec.rank,
        lora_alpha: params.spec.alpha,
        lora_dropout: 0.0,
        bias: "none".into(),
        target_modules: serde_json::json!(params.spec.targets),
        fan_in_fan_out: false,
        use_rslora: false,
        use_dora: false,
        inference_mode: true,
        rank_pattern: Default::default(),
        alpha_pattern: Default::default(),
        modules_to_save: None,
    };
    let mut json = serde_json::to_vec_pretty(&config).map_err(|e| TrainError::Input(e.to_string()))?;
    json.push(b'\n');
    let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    for l in &params.layers {
        tensors.insert(tensor_name(&l.module, 'A'), l.a.as_tensor().clone());
        tensors.insert(tensor_name(&l.module, 'B'), l.b.as_tensor().clone());
    }
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let weights = safetensors::serialize(tensors, Some(meta)).map_err(|e| TrainError::Input(e.to_string()))?;
    Ok((json, weights))
}

/// Write the adapter folder (each file through a temporary file and a rename).
pub fn save(dir: &Path, params: &LoraParams, base_model: &str) -> Result<String> {
    let (json, weights) = to_bytes(params, base_model)?;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    super::write_atomic(&dir.join(WEIGHTS_FILE), &weights)?;
    super::write_atomic(&dir.join(CONFIG_FILE), &json)?;
    Ok(hash(&json, &weights))
}

/// The adapter hash: SHA-256 of config and weights.
pub fn hash(config: &[u8], weights: &[u8]) -> String {
    let mut bytes = config.to_vec();
    bytes.push(0);
    bytes.extend_from_slice(weights);
    crate::model::sha256_hex(&bytes)
}

/// Read an adapter folder for the model `config` on `device`.
pub fn load(dir: &Path, config: &Config, device: &Device) -> Result<Loaded> {
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(TrainError::Input(format!("{}: missing {name} (a PEFT LoRA adapter folder)", dir.display())));
        }
        std::fs::read(&path).map_err(|e| TrainError::io(&path, e))
    };
    let (json, weights) = (read(CONFIG_FILE)?, read(WEIGHTS_FILE)?);
    let bad = |m: String| TrainError::Input(format!("{}: {m}", dir.join(CONFIG_FILE).display()));
    let ac: AdapterConfig = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
    if ac.peft_type != "LORA" {
        return Err(bad(format!("peft_type '{}' is not LORA", ac.peft_type)));
    }
    if ac.bias != "none" || ac.use_rslora || ac.use_dora || ac.fan_in_fan_out {
        return Err(bad("only plain LoRA is read (bias none, no rsLoRA, DoRA or fan_in_fan_out)".into()));
    }
    if !ac.rank_pattern.is_empty() || !ac.alpha_pattern.is_empty() {
        return Err(bad("per-layer rank_pattern / alpha_pattern are not supported".into()));
    }
    if ac.modules_to_save.as_ref().is_some_and(|m| !m.is_null()) {
        return Err(bad("modules_to_save (full extra weights) are not supported".into()));
    }
    let targets: Vec<String> = match &ac.target_modules {
        serde_json::Value::String(s) if s == "all-linear" => ALL_TARGETS.iter().map(|s| s.to_string()).collect(),
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        other => return Err(bad(format!("target_modules {other} is not a list of module names"))),
    };
    let spec = LoraSpec { rank: ac.r, alpha: ac.lora_alpha, targets };
    let mut tensors = candle_core::safetensors::load_buffer(&weights, device)
        .map_err(|e| TrainError::Input(format!("{}: {e}", dir.join(WEIGHTS_FILE).display())))?;
    let params = LoraParams::from_tensors(config, &spec, |module| {
        let a = take(&mut tensors, module, 'A')?;
        let b = take(&mut tensors, module, 'B')?;
        Some((a, b))
    })
    .map_err(|e| TrainError::Input(format!("{}: {e}", dir.display())))?;
    if let Some(extra) = tensors.keys().min() {
        return Err(TrainError::Input(format!(
            "{}: tensor {extra} belongs to no targeted layer of this model",
            dir.join(WEIGHTS_FILE).display()
        )));
    }
    let adapters = params.adapters();
    Ok(Loaded { params, adapters, hash: hash(&json, &weights), config: ac })
}

/// A factor under PEFT's name, or with the adapter name PEFT keeps in memory (`lora_A.default`).
fn take(tensors: &mut HashMap<String, Tensor>, module: &str, factor: char) -> Option<Tensor> {
    tensors
        .remove(&tensor_name(module, factor))
        .or_else(|| tensors.remove(&format!("{PREFIX}{module}.lora_{factor}.default.weight")))
}
