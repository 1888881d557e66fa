//! `socratic bench train`: LoRA training throughput on a random Llama-shaped model.
//!
//! In: a shape (`tiny`, `25m`, `134m`), sequence length, batch, rank, steps, a device. Out:
//! tokens/s of full training steps (forward and backward over the batch, clipping, AdamW) after
//! one warm-up step, peak memory, and the model's and the adapter's sizes. `bench/train_torch_ref.py`
//! times the same step in PyTorch + PEFT.

use super::{print_json, EXIT_OK, EXIT_USAGE};
use crate::engine::progress::Progress;
use crate::score::{self, DeviceKind, TinySpec};
use crate::train::{Length, LoraSpec, Tokenized, TrainOptions, Trainer, ALL_TARGETS};
use clap::Args;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchTrainArgs {
    /// tiny (2 layers, width 64), 25m (8 layers, width 512), 134m (12 layers, width 768, vocab 32000):
    /// the shapes of the score benchmarks.
    #[arg(long, default_value = "tiny")]
    pub shape: String,
    #[arg(long, default_value_t = 512)]
    pub seq_len: usize,
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    #[arg(long, default_value_t = 16)]
    pub rank: usize,
    /// Timed steps (after one warm-up step).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct BenchTrainOutput {
    pub shape: String,
    pub device: String,
    pub parameters: usize,
    pub trainable_parameters: usize,
    pub seq_len: usize,
    pub batch: usize,
    pub rank: usize,
    pub steps: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
    pub ms_per_step: f64,
    pub peak_memory_mib: Option<f64>,
}

/// The random model of a shape name.
pub fn shape(name: &str) -> Option<TinySpec> {
    let base = TinySpec::default();
    match name {
        "tiny" => Some(base),
        "25m" => Some(TinySpec { layers: 8, width: 512, ..base }),
        "134m" => Some(TinySpec { layers: 12, width: 768, vocab: Some(32000), ..base }),
        _ => None,
    }
}

pub fn run(args: BenchTrainArgs) -> anyhow::Result<i32> {
    let (Some(spec), Ok(device)) = (shape(&args.shape), args.device.parse::<DeviceKind>()) else {
        eprintln!(
            "error: unknown --shape '{}' (tiny, 25m, 134m) or --device '{}' (cpu, cuda)",
            args.shape, args.device
        );
        return Ok(EXIT_USAGE);
    };
    let dir = tempfile_dir()?;
    let config = score::write_tiny_model(dir.path(), &spec)?;
    let options = TrainOptions {
        lora: LoraSpec {
            rank: args.rank,
            alpha: 2.0 * args.rank as f64,
            targets: ALL_TARGETS.iter().map(|s| s.to_string()).collect(),
        },
        length: Length::Steps(args.steps.max(1)),
        batch: args.batch,
        max_len: args.seq_len,
        checkpoint_every: 0,
        ..TrainOptions::default()
    };
    let mut trainer = Trainer::load(dir.path(), device, options)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let vocab = 256u32.min(config.vocab_size as u32);
    let data: Vec<Tokenized> = (0..args.batch)
        .map(|i| Tokenized {
            id: format!("r{i}"),
            ids: (0..args.seq_len).map(|_| rng.random_range(0..vocab)).collect(),
            prompt_len: args.seq_len * 3 / 4,
            spans: Vec::new(),
        })
        .collect();
    // Warm-up step, then the timed ones.
    let batch: Vec<&Tokenized> = data.iter().collect();
    trainer.gradients(&batch)?;
    let started = Instant::now();
    let result = trainer.run(&data, None, false, &Progress::none())?;
    let seconds = started.elapsed().as_secs_f64();
    let steps = result.steps;
    let tokens = (steps * args.batch * args.seq_len) as f64;
    let out = BenchTrainOutput {
        shape: args.shape.clone(),
        device: device.as_str().into(),
        parameters: config.parameter_count(),
        trainable_parameters: trainer.lora.parameter_count(),
        seq_len: args.seq_len,
        batch: args.batch,
        rank: args.rank,
        steps,
        seconds,
        tokens_per_second: tokens / seconds,
        ms_per_step: seconds * 1000.0 / steps as f64,
        peak_memory_mib: score::memory_in_use(device).map(|b| b as f64 / (1024.0 * 1024.0)),
    };
    if args.json {
        print_json(&out)?;
    } else {
        println!(
            "{} {} ({:.1} M params, LoRA r{} {:.2} M): seq {} × batch {}: {:.0} tokens/s ({:.0} ms/step over {} steps), peak memory {}",
            out.device,
            out.shape,
            out.parameters as f64 / 1e6,
            out.rank,
            out.trainable_parameters as f64 / 1e6,
            out.seq_len,
            out.batch,
            out.tokens_per_second,
            out.ms_per_step,
            out.steps,
            out.peak_memory_mib.map_or_else(|| "n/a".to_string(), |m| format!("{m:.0} MiB")),
        );
    }
    Ok(EXIT_OK)
}

/// A scratch folder for the random model, removed when dropped.
fn tempfile_dir() -> anyhow::Result<ScratchDir> {
    let path = std::env::temp_dir().join(format!("socratic-bench-train-{}", std::process::id()));
    std::fs::create_dir_all(&path)?;
    Ok(ScratchDir(path))
}

struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
