//! Checkpoints: everything a run needs to continue exactly where it stopped.
//!
//! In: the LoRA variables, the optimizer's moments and step count, the run's step, loss curve
//! and token count, and a fingerprint of what the run is (model, data, settings). Out: one file,
//! `checkpoint.safetensors` (tensors `lora.I`, `m.I`, `v.I`; the rest as JSON in the metadata
//! entry `state`), written through a temporary file, an fsync and a rename, so a process killed
//! at any instant leaves the previous checkpoint or the new one, never half of one. The data
//! order and the initial factors are functions of the seed, so the step number is the data
//! position and no generator state needs keeping.

use super::{Result, TrainError};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub const FILE: &str = "checkpoint.safetensors";

/// The scalars of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Optimizer steps done (= data position / examples per step).
    pub step: usize,
    /// The optimizer's own step count.
    pub adam_t: u64,
    /// Loss of every step so far.
    pub losses: Vec<f64>,
    /// Tokens processed so far.
    pub tokens: u64,
    /// Hash of model, data and settings: a checkpoint of another run is refused.
    pub fingerprint: String,
}

/// A checkpoint in memory.
pub struct Checkpoint {
    pub state: State,
    pub lora: Vec<Tensor>,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
}

/// Write `dir/checkpoint.safetensors` atomically.
pub fn save(dir: &Path, ck: &Checkpoint) -> Result<()> {
    let mut tensors: BTreeMap<String, &Tensor> = BTreeMap::new();
    for (kind, list) in [("lora", &ck.lora), ("m", &ck.m), ("v", &ck.v)] {
        for (i, t) in list.iter().enumerate() {
            tensors.insert(format!("{kind}.{i:05}"), t);
        }
    }
    let state = serde_json::to_string(&ck.state).map_err(|e| TrainError::Input(e.to_string()))?;
    let bytes = safetensors::serialize(tensors, Some(HashMap::from([("state".to_string(), state)])))
        .map_err(|e| TrainError::Input(format!("checkpoint: {e}")))?;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    super::write_atomic(&dir.join(FILE), &bytes)
}

/// Only the scalars (for watching a run).
pub fn read_state(dir: &Path) -> Result<Option<State>> {
    let path = dir.join(FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
    state_of(&path, &bytes).map(Some)
}

fn state_of(path: &Path, bytes: &[u8]) -> Result<State> {
    let bad = |m: String| TrainError::Input(format!("{}: not a checkpoint ({m})", path.display()));
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let state = meta.metadata().as_ref().and_then(|m| m.get("state")).ok_or_else(|| bad("no state".into()))?;
    serde_json::from_str(state).map_err(|e| bad(e.to_string()))
}

/// Read `dir/checkpoint.safetensors`, if there is one.
pub fn load(dir: &Path, device: &Device) -> Result<Option<Checkpoint>> {
    let path = dir.join(FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
    let state = state_of(&path, &bytes)?;
    let mut tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| TrainError::Input(format!("{}: {e}", path.display())))?;
    let mut take = |kind: &str| -> Vec<Tensor> {
        let mut names: Vec<String> = tensors.keys().filter(|k| k.starts_with(&format!("{kind}."))).cloned().collect();
        names.sort();
        names.iter().filter_map(|n| tensors.remove(n)).collect()
    };
    let (lora, m, v) = (take("lora"), take("m"), take("v"));
    Ok(Some(Checkpoint { state, lora, m, v }))
}

/// Remove the checkpoint (after a finished run).
pub fn remove(dir: &Path) -> Result<()> {
    let path = dir.join(FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(&path, e)),
        _ => Ok(()),
    }
}
