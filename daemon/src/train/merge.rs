//! Merged weights: the base model with the LoRA update folded in, as a plain model folder.
//!
//! In: the base model folder (Hugging Face layout: `config.json`, tokenizer files,
//! `*.safetensors`), trained `LoraParams`, and an output folder that holds no weights yet. Out:
//! the output folder with every non-weight file of the base copied (config, tokenizer, chat
//! template, generation config) and one `model.safetensors` holding every base tensor, where
//! each adapted linear layer's weight is W + scale · B A (computed in f32, stored in the base
//! tensor's dtype). The folder loads as a model anywhere `--model DIR` is taken; with f32 base
//! weights its logits equal the base model's with the adapter applied, up to rounding.

use super::lora::LoraParams;
use super::{Result, TrainError};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// The merged weights file.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Refuse an output folder that already holds weights, or that is the base model's folder.
pub fn check_out(model: &Path, out: &Path) -> Result<()> {
    let same = match (std::fs::canonicalize(model), std::fs::canonicalize(out)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(TrainError::Input(format!("--merge {}: that is the base model's folder", out.display())));
    }
    if out.join(WEIGHTS_FILE).exists() {
        return Err(TrainError::Input(format!(
            "--merge {}: it already holds {WEIGHTS_FILE}; pass another folder or remove it",
            out.display()
        )));
    }
    Ok(())
}

/// Write the merged model of `model` and `lora` to `out`; returns the SHA-256 of the weights file.
pub fn write(model: &Path, lora: &LoraParams, out: &Path) -> Result<String> {
    check_out(model, out)?;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let entries = std::fs::read_dir(model).map_err(|e| TrainError::io(model, e))?;
    let mut files: Vec<std::path::PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for path in &files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !path.is_file() {
            continue;
        }
        if name.ends_with(".safetensors") {
            let loaded = candle_core::safetensors::load(path, &Device::Cpu)
                .map_err(|e| TrainError::Input(format!("{}: {e}", path.display())))?;
            tensors.extend(loaded);
        } else if !is_weight_file(&name) {
            let to = out.join(&name);
            std::fs::copy(path, &to).map_err(|e| TrainError::io(&to, e))?;
        }
    }
    let scale = lora.spec.scale();
    for layer in &lora.layers {
        let key = format!("{}.weight", layer.module);
        let w = tensors.get(&key).ok_or_else(|| TrainError::Input(format!("{}: no tensor {key}", model.display())))?;
        let delta =
            layer.b.as_tensor().to_device(&Device::Cpu)?.matmul(&layer.a.as_tensor().to_device(&Device::Cpu)?)?;
        let merged = (w.to_dtype(DType::F32)? + (delta * scale)?)?.to_dtype(w.dtype())?;
        tensors.insert(key, merged);
    }
    let path = out.join(WEIGHTS_FILE);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    candle_core::safetensors::save(&tensors, &tmp).map_err(|e| TrainError::Input(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
    let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
    Ok(crate::model::sha256_hex(&bytes))
}

/// Weight files of the base that the merged file replaces (safetensors shards and their index,
/// PyTorch pickles).
fn is_weight_file(name: &str) -> bool {
    name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json") || name.ends_with(".bin")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{write_tiny_model, DeviceKind, TinySpec};
    use crate::train::{Length, TrainOptions, Trainer};
    use rand::{Rng, SeedableRng};

    #[test]
    fn merged_model_logits_equal_base_plus_adapter() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        write_tiny_model(&model, &TinySpec::default()).unwrap();
        std::fs::write(model.join("tokenizer_config.json"), r#"{"eos_token": "<|eos|>"}"#).unwrap();
        let options = TrainOptions { length: Length::Steps(1), max_len: 64, checkpoint_every: 0, ..Default::default() };
        let trainer = Trainer::load(&model, DeviceKind::Cpu, options).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for l in &trainer.lora.layers {
            let dims = l.b.as_tensor().dims().to_vec();
            let b: Vec<f32> = (0..dims[0] * dims[1]).map(|_| rng.random_range(-0.05..0.05)).collect();
            l.b.set(&Tensor::from_vec(b, (dims[0], dims[1]), &Device::Cpu).unwrap()).unwrap();
        }
        let merged = dir.path().join("merged");
        write(&model, &trainer.lora, &merged).unwrap();
        assert!(merged.join("config.json").is_file() && merged.join("tokenizer.json").is_file());
        assert!(merged.join("tokenizer_config.json").is_file());

        let ids: Vec<u32> = "def f(x):\n    return x - 1\n".bytes().map(u32::from).collect();
        let with_adapter = trainer.logits(&ids).unwrap();
        let (_, plain) = crate::train::logits(&merged, None, &ids, DeviceKind::Cpu).unwrap();
        let (_, base) = crate::train::logits(&model, None, &ids, DeviceKind::Cpu).unwrap();
        let max_diff = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(max_diff(&with_adapter, &base) > 1e-3, "the adapter changes the logits");
        let d = max_diff(&with_adapter, &plain);
        assert!(d <= 1e-5, "merged logits differ from base + adapter by {d}");

        let again = write(&model, &trainer.lora, &merged).unwrap_err().to_string();
        assert!(again.contains("already holds model.safetensors"), "{again}");
        let onto_base = write(&model, &trainer.lora, &model).unwrap_err().to_string();
        assert!(onto_base.contains("base model's folder"), "{onto_base}");
    }
}
