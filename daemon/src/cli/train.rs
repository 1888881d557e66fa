//! `socratic train`: LoRA fine-tuning of the Solver's model on the curriculum.
//!
//! In: a model folder (default: the home's scoring model), the examples (`--round N`, the latest
//! finished round's curriculum by default, or `--data FILE.jsonl` chat rows), LoRA and optimizer
//! flags, a device, an output folder. Out: a PEFT adapter folder, a training run row in the
//! store, a summary on stdout (or `--json`), progress (loss, tokens/s) on stderr. Exit 1 for
//! bad input (missing model files, no curriculum, a target that matches nothing, ...), 2 for
//! bad flags.

use super::{print_json, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::export::{self, Selection};
use crate::model::TrainingRun;
use crate::score::DeviceKind;
use crate::store::Store;
use crate::train::{checkpoint, data, peft, rft, ChatExample, Length, LoraSpec, TrainOptions, Trainer};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model folder (Hugging Face layout); default: the home's scoring model (models/tiny).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Adapter folder to write (default: <home>/adapters/round-N, or adapters/<data file name>).
    #[arg(long, value_name = "DIR")]
    pub adapter_out: Option<PathBuf>,
    /// Train on round N's curriculum.
    #[arg(long, value_name = "N", conflicts_with_all = ["curriculum", "data"])]
    pub round: Option<u32>,
    /// Train on the latest finished round's curriculum (the default).
    #[arg(long, conflicts_with = "data")]
    pub curriculum: bool,
    /// Train on chat JSON Lines (`{"messages": [...]}` rows, as `export --format sft` writes).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// How the examples' answers are written: `line` (the function with the fixed line marked,
    /// the answer that line corrected; tasks whose fix is not a one-line replacement are left
    /// out), `edit` (the same prompt, the answer the line's minimal edit `OLD => NEW`) or `diff`
    /// (the fix as a unified diff). `solve --solver lm` must use the same.
    /// Ignored with --data (the rows hold their answers).
    #[arg(long, default_value = "line", value_parser = ["line", "edit", "diff"])]
    pub answer: String,
    /// sft (supervised on the curriculum's fixes) or rft (the resolved Solver attempts: of round
    /// N with --round, else every resolved trace; their conversations, every assistant turn a
    /// target).
    #[arg(long, default_value = "sft")]
    pub method: String,
    #[arg(long, default_value_t = 16)]
    pub rank: usize,
    #[arg(long, default_value_t = 32.0)]
    pub alpha: f64,
    /// Linear layers to adapt, by module name.
    #[arg(long, value_delimiter = ',', default_value = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")]
    pub targets: Vec<String>,
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Passes over the examples (default 3).
    #[arg(long, conflicts_with = "steps")]
    pub epochs: Option<usize>,
    /// Optimizer steps instead of epochs.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Tokens per example at most (the prompt keeps its end, the fix its start).
    #[arg(long, default_value_t = 1024)]
    pub max_len: usize,
    #[arg(long, default_value_t = 0.1)]
    pub warmup_ratio: f64,
    /// Clip the gradients' global norm to this (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// A checkpoint every N steps (0: none).
    #[arg(long, default_value_t = 50)]
    pub checkpoint_every: usize,
    /// cpu or cuda (cuda needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// f32 (bf16: refused on the CPU, whose matrix multiply has no bf16 kernel; not yet on cuda).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the merged model (W + scale·B·A, the base's config and tokenizer files) to DIR:
    /// a plain model folder for `--model DIR`.
    #[arg(long, value_name = "DIR")]
    pub merge: Option<PathBuf>,
    /// Train every weight (a small model from scratch) instead of LoRA pairs; the adapter folder
    /// receives a whole model folder (config, tokenizer, `model.safetensors`) for `--model DIR`.
    #[arg(long, conflicts_with = "merge")]
    pub full: bool,
    /// Continue the run whose checkpoint is in the adapter folder.
    #[arg(long)]
    pub resume: bool,
    #[arg(long)]
    pub json: bool,
}

/// What `train` prints.
#[derive(Debug, Serialize)]
pub struct TrainSummary {
    pub run_id: i64,
    pub model: String,
    pub model_hash: String,
    pub adapter_dir: String,
    pub adapter_hash: String,
    pub source: String,
    pub examples: usize,
    pub left_out: Vec<export::Skipped>,
    /// Resolved traces `--method rft` could not use, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out_traces: Vec<rft::LeftOut>,
    /// `--method rft`: examples that are a stored conversation (the rest: prompt → final patch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversations: Option<usize>,
    pub trainable_parameters: usize,
    pub steps: usize,
    pub first_loss: f64,
    pub last_loss: f64,
    pub losses: Vec<f64>,
    pub tokens: u64,
    pub seconds: f64,
    pub tokens_per_second: f64,
    pub resumed_from: Option<usize>,
    pub settings: TrainOptions,
    /// The merged model folder (`--merge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_dir: Option<String>,
}

pub fn run(home: &Path, args: TrainArgs) -> anyhow::Result<i32> {
    let device: DeviceKind = match args.device.parse() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let usage = |m: &str| {
        eprintln!("error: {m}");
        Ok(EXIT_USAGE)
    };
    match args.method.as_str() {
        "sft" => {}
        "rft" if args.data.is_some() || args.curriculum => {
            return usage(
                "--method rft trains on resolved traces: use --round N or no selection, not --data / --curriculum",
            )
        }
        "rft" => {}
        other => return usage(&format!("unknown --method '{other}' (sft, rft)")),
    }
    match (args.dtype.as_str(), device) {
        ("f32", _) => {}
        ("bf16", DeviceKind::Cpu) => {
            return usage(
                "--dtype bf16 is only supported with --device cuda (candle's CPU matrix multiply has no bf16 kernel); \
                 use --dtype f32 on the CPU",
            )
        }
        ("bf16", _) => return usage("--dtype bf16 on cuda is not available yet; training runs in f32 (--dtype f32)"),
        (other, _) => return usage(&format!("unknown --dtype '{other}' (f32, bf16)")),
    }
    match train(home, &args, device) {
        Ok(summary) => {
            print_summary(&summary, args.json)?;
            Ok(EXIT_OK)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(EXIT_FAILED)
        }
    }
}

fn options(args: &TrainArgs) -> TrainOptions {
    let defaults = TrainOptions::default();
    TrainOptions {
        lora: LoraSpec { rank: args.rank, alpha: args.alpha, targets: args.targets.clone() },
        lr: args.lr,
        warmup_ratio: args.warmup_ratio,
        adamw: crate::train::optim::AdamWParams { weight_decay: args.weight_decay, ..defaults.adamw },
        max_grad_norm: args.max_grad_norm,
        length: match (args.steps, args.epochs) {
            (Some(s), _) => Length::Steps(s),
            (None, Some(e)) => Length::Epochs(e),
            (None, None) => defaults.length,
        },
        batch: args.batch,
        grad_accum: args.grad_accum,
        max_len: args.max_len,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        full: args.full,
        all_tokens: false,
    }
}

/// The examples of a run, where they came from, and the tasks left out.
struct Examples {
    examples: Vec<ChatExample>,
    source: String,
    round: Option<u32>,
    left_out: Vec<export::Skipped>,
    left_out_traces: Vec<rft::LeftOut>,
    conversations: Option<usize>,
}

fn examples(store: &Store, args: &TrainArgs) -> anyhow::Result<Examples> {
    if args.method == "rft" {
        let r = rft::select(store, args.round)?;
        return Ok(Examples {
            examples: r.examples,
            source: r.source,
            round: args.round,
            left_out: vec![],
            left_out_traces: r.left_out,
            conversations: Some(r.conversations),
        });
    }
    if let Some(file) = &args.data {
        let examples = data::read_jsonl(file)?;
        let source = format!("file {}", file.display());
        return Ok(Examples {
            examples,
            source,
            round: None,
            left_out: vec![],
            left_out_traces: vec![],
            conversations: None,
        });
    }
    let selection = Selection { round: args.round, valid: false };
    let selected = export::select(store, &selection).map_err(|e| anyhow::anyhow!("no curriculum to train on: {e}"))?;
    let tasks = export::prepare(store, &selected.tasks)?;
    let round = selected.source.split_whitespace().nth(1).and_then(|n| n.parse().ok());
    let answer: data::AnswerFormat = args.answer.parse().map_err(anyhow::Error::msg)?;
    let (examples, skipped) = export::sft::examples(&tasks, answer);
    let mut left_out = selected.skipped;
    left_out.extend(skipped);
    if examples.is_empty() {
        anyhow::bail!("no task of the {} has an example in the --answer {} format", selected.source, answer.as_str());
    }
    Ok(Examples { examples, source: selected.source, round, left_out, left_out_traces: vec![], conversations: None })
}

/// The model folder: the flag, else the home's scoring model.
fn model_dir(home: &Path, args: &TrainArgs) -> anyhow::Result<PathBuf> {
    if let Some(m) = &args.model {
        return Ok(m.clone());
    }
    let dir = home.join("models").join("tiny");
    if !dir.join("config.json").is_file() {
        anyhow::bail!("no model: pass --model DIR (a round writes its default scoring model to {})", dir.display());
    }
    Ok(dir)
}

fn adapter_dir(home: &Path, args: &TrainArgs, round: Option<u32>) -> PathBuf {
    if let Some(d) = &args.adapter_out {
        return d.clone();
    }
    let name = match (round, &args.data) {
        (Some(n), _) => format!("round-{n}"),
        (None, Some(f)) => f.file_stem().map_or("data".into(), |s| s.to_string_lossy().into_owned()),
        (None, None) => "latest".into(),
    };
    let name = if args.method == "rft" { format!("rft-{name}") } else { name };
    home.join("adapters").join(name)
}

/// Refuse to overwrite a finished adapter, or to start over on an unfinished run's checkpoint.
fn check_out_dir(out: &Path, resume: bool) -> anyhow::Result<()> {
    let has_checkpoint = out.join(checkpoint::FILE).is_file();
    if has_checkpoint && !resume {
        anyhow::bail!(
            "{} holds the checkpoint of an unfinished run: pass --resume to continue it, or remove it",
            out.display()
        );
    }
    if !has_checkpoint && (out.join(peft::WEIGHTS_FILE).is_file() || out.join("model.safetensors").is_file()) {
        anyhow::bail!("{} already holds an adapter; pass another --adapter-out or remove it", out.display());
    }
    Ok(())
}

fn train(home: &Path, args: &TrainArgs, device: DeviceKind) -> anyhow::Result<TrainSummary> {
    let mut store = Store::open(home)?;
    let Examples { examples, source, round, left_out, left_out_traces, conversations } = examples(&store, args)?;
    let model = model_dir(home, args)?;
    let out = adapter_dir(home, args, round);
    check_out_dir(&out, args.resume)?;
    if let Some(m) = &args.merge {
        crate::train::merge::check_out(&model, m)?;
    }
    let mut trainer =
        Trainer::load(&model, device, options(args)).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let data = trainer.tokenize(&examples)?;
    std::fs::create_dir_all(&out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let progress = super::progress::terminal(!args.json);
    if !args.json {
        let count: usize = trainer.trainable().iter().map(|v| v.elem_count()).sum();
        progress.message(format!(
            "training {count} {} parameters on {} examples ({source}), {} steps",
            if args.full { "model" } else { "LoRA" },
            data.len(),
            trainer.options.total_steps(data.len())
        ));
    }
    let result = trainer.run(&data, Some(&out), args.resume, &progress)?;
    let base_name = std::fs::canonicalize(&model).unwrap_or(model.clone()).display().to_string();
    let adapter_hash = match args.full {
        true => trainer.save_full(&model, &out)?,
        false => peft::save(&out, &trainer.lora, &base_name)?,
    };
    checkpoint::remove(&out)?;
    if let Some(m) = &args.merge {
        crate::train::merge::write(&model, &trainer.lora, m)?;
    }
    let settings = trainer.options.clone();
    let run = TrainingRun {
        model_hash: trainer.model_hash.clone(),
        adapter_hash: adapter_hash.clone(),
        adapter_dir: out.display().to_string(),
        method: args.method.clone(),
        source: source.clone(),
        round,
        data_ids: examples.iter().map(|e| e.id.clone()).collect(),
        settings: serde_json::to_value(&settings)?,
        device: device.as_str().into(),
        losses: result.losses.clone(),
        tokens: result.tokens,
        seconds: result.seconds,
        tokens_per_second: result.tokens_per_second,
    };
    let run_id = store.save_training_run(&run)?;
    Ok(TrainSummary {
        run_id,
        model: model.display().to_string(),
        model_hash: trainer.model_hash.clone(),
        adapter_dir: out.display().to_string(),
        adapter_hash,
        source,
        examples: data.len(),
        left_out,
        left_out_traces,
        conversations,
        trainable_parameters: trainer.trainable().iter().map(|v| v.elem_count()).sum(),
        steps: result.steps,
        first_loss: result.losses.first().copied().unwrap_or(f64::NAN),
        last_loss: result.losses.last().copied().unwrap_or(f64::NAN),
        losses: result.losses,
        tokens: result.tokens,
        seconds: result.seconds,
        tokens_per_second: result.tokens_per_second,
        resumed_from: result.resumed_from,
        settings,
        merged_dir: args.merge.as_ref().map(|m| m.display().to_string()),
    })
}

fn print_summary(s: &TrainSummary, json: bool) -> anyhow::Result<()> {
    for t in &s.left_out {
        eprintln!("left out {}: {}", t.task_id, crate::text::escape_controls(&t.reason));
    }
    for t in &s.left_out_traces {
        eprintln!("left out trace {}: {}", t.trace_id, crate::text::escape_controls(&t.reason));
    }
    if json {
        return print_json(s);
    }
    let resumed = s.resumed_from.map_or(String::new(), |n| format!(", resumed at step {n}"));
    println!(
        "trained {} steps on {} examples ({}) in {:.1} s{resumed}: loss {:.4} -> {:.4}, {:.0} tokens/s",
        s.steps, s.examples, s.source, s.seconds, s.first_loss, s.last_loss, s.tokens_per_second
    );
    println!(
        "adapter {} written to {} (targets {})",
        &s.adapter_hash[..12],
        s.adapter_dir,
        s.settings.lora.targets.join(",")
    );
    if let Some(m) = &s.merged_dir {
        println!("merged model written to {m}");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct LogitsArgs {
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// A LoRA adapter folder (PEFT layout).
    #[arg(long, value_name = "DIR")]
    pub adapter: Option<PathBuf>,
    /// Token ids, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub ids: Vec<u32>,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
}

/// `socratic model logits`: (T, vocab) logits, row-major.
pub fn run_logits(args: LogitsArgs) -> anyhow::Result<i32> {
    let device: DeviceKind = match args.device.parse() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let (vocab, logits) = match crate::train::logits(&args.model, args.adapter.as_deref(), &args.ids, device) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_FAILED);
        }
    };
    if args.json {
        print_json(&serde_json::json!({"tokens": args.ids.len(), "vocab": vocab, "logits": logits}))?;
    } else {
        for row in logits.chunks(vocab.max(1)) {
            let best = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
            println!("argmax {best} ({:.4})", row.get(best).copied().unwrap_or(f32::NAN));
        }
    }
    Ok(EXIT_OK)
}
