//! Train: LoRA fine-tuning of the Solver's model on the curriculum, on candle.
//!
//! In: a causal LM folder (the layout `score` reads; `tokenizer_config.json`'s chat template
//! when there is one), chat examples (`data`: built from curriculum tasks — problem statement,
//! the anchored function from the bugged tree, the failing tests; target = the fix — or read from
//! chat JSON Lines), `TrainOptions` (rank, alpha, target modules, learning rate, length, batch,
//! accumulation, maximum length, seed), a device, an output folder. Out: a PEFT-compatible
//! adapter folder (`peft`), checkpoints while it runs (`checkpoint`), and a `RunResult` (loss
//! per step, tokens, tokens/s). The decoder is `score`'s, with LoRA pairs on the targeted
//! linear layers (`lora`); only the pairs are variables. Loss = mean NLL of the target tokens.
//! `optim` is AdamW with warm-up and linear decay and global-norm clipping; its state is plain
//! tensors so a resumed run ends with the same adapter bytes as an uninterrupted one.

pub mod checkpoint;
pub mod data;
pub mod lora;
pub mod merge;
pub mod optim;
pub mod peft;
pub mod rft;
pub mod template;
pub mod trainer;

#[cfg(test)]
mod tests;

pub use data::{ChatExample, Message, Tokenized};
pub use lora::{LoraParams, LoraSpec, ALL_TARGETS};
pub use trainer::{Length, RunResult, TrainOptions, Trainer};

use std::io::Write;
use std::path::{Path, PathBuf};

/// What can go wrong while training; messages name the input.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] crate::score::ScoreError),
    #[error("{0}")]
    Input(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("compute: {0}")]
    Compute(String),
}

impl From<candle_core::Error> for TrainError {
    fn from(e: candle_core::Error) -> Self {
        TrainError::Compute(e.to_string())
    }
}

impl TrainError {
    pub fn io(path: &Path, source: std::io::Error) -> TrainError {
        TrainError::Io { path: path.to_path_buf(), source }
    }
}

pub type Result<T> = std::result::Result<T, TrainError>;

/// Write `bytes` to `path` through `path.tmp`, fsync and rename: readers see the old file or the
/// new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| TrainError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

/// Next-token logits (row-major, T × vocab) of `ids` under the model in `dir`, with the adapter
/// folder `adapter` applied; returns (vocab, logits).
pub fn logits(
    dir: &Path,
    adapter: Option<&Path>,
    ids: &[u32],
    device: crate::score::DeviceKind,
) -> Result<(usize, Vec<f32>)> {
    use crate::score::{read_model, Adapters, Llama, ModelFiles};
    let ModelFiles { config, tensors, device, .. } = read_model(dir, device, ids.len().max(2))?;
    if ids.is_empty() {
        return Err(TrainError::Input("no token ids".into()));
    }
    if let Some(bad) = ids.iter().find(|i| **i as usize >= config.vocab_size) {
        return Err(TrainError::Input(format!("token id {bad} is outside the vocabulary of {}", config.vocab_size)));
    }
    let adapters = match adapter {
        Some(a) => peft::load(a, &config, &device)?.adapters,
        None => Adapters::new(),
    };
    let vb = candle_nn::VarBuilder::from_tensors(tensors, candle_core::DType::F32, &device);
    let model = Llama::with_adapters(&config, vb, &adapters)?;
    let t = candle_core::Tensor::new(ids, &device)?;
    let logits = model.logits(&model.forward(&t)?)?.flatten_all()?.to_vec1::<f32>()?;
    Ok((config.vocab_size, logits))
}
