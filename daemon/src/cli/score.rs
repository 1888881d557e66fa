//! `socratic tasks score`, `socratic model tiny` and `socratic bench score`: the score stage.
//!
//! In: a model folder, a reference (a SWE-bench-format JSONL of trusted fixes, or `failures` =
//! the Solver's stored failures whose instance has a gold patch), a device; or a folder to write
//! a tiny random model to; or a benchmark size. Out: per task validity × cosine = reward, stored
//! with its parts (features cached in the store), tiny model files, or tasks/s and peak memory.
//! Exit 1 when the reference set is empty or a model cannot be loaded, 2 for a bad device name.

use super::{print_json, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::engine::scoring::{reference_direction, reference_texts, score_tasks, why_no_reward, NO_REFERENCE};
use crate::model::NoReward;
use crate::score::{self, DeviceKind, FeatureConfig, Scorer, TinySpec};
use crate::store::Store;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Model options shared by `tasks score` and `bench score`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model folder (Hugging Face layout: config.json, *.safetensors, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// cpu or cuda (cuda needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Parameters whose gradient is the feature: a glob on tensor names, `L-k` = layer count - k.
    #[arg(long, default_value = score::DEFAULT_PARAMS)]
    pub params: String,
    /// Sketch dimension.
    #[arg(long, default_value_t = score::DEFAULT_DIM)]
    pub dim: usize,
    /// Sketch seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A LoRA adapter folder (`socratic train`'s output, PEFT layout) applied to the model.
    #[arg(long, value_name = "DIR")]
    pub adapter: Option<PathBuf>,
    /// A SWE-bench-format JSONL (instance_id, problem_statement, patch = gold fix), or `failures`.
    #[arg(long, value_name = "FILE|failures")]
    pub reference: String,
    /// At most this many tokens per text (prompt + target).
    #[arg(long, default_value_t = score::DEFAULT_MAX_LEN)]
    pub max_len: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelCmd {
    /// Write a small random Llama-style model (config.json, model.safetensors, byte-level tokenizer.json).
    Tiny(TinyArgs),
    /// Next-token logits of token ids, optionally with a LoRA adapter (for cross-checks).
    Logits(super::train::LogitsArgs),
}

#[derive(Debug, Args)]
pub struct TinyArgs {
    pub out_dir: PathBuf,
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Hidden size (a multiple of 16).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Embedding rows (default: the tokenizer's 259); larger pads the vocabulary like real models.
    #[arg(long)]
    pub vocab: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchScoreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Tasks to time (after two warm-up tasks).
    #[arg(long, default_value_t = 20)]
    pub tasks: usize,
    /// Tokens per task; the last quarter is the target.
    #[arg(long, default_value_t = 1024)]
    pub seq_len: usize,
    #[arg(long)]
    pub json: bool,
}

/// One scored task.
#[derive(Debug, Serialize)]
pub struct ScoreRow {
    pub task_id: String,
    pub validity: f64,
    pub cosine: f64,
    /// `None` when the score is not a signal (see `no_reward` in the output).
    pub reward: Option<f64>,
    pub loss: f64,
    pub cached: bool,
}

/// What `tasks score` prints.
#[derive(Debug, Serialize)]
pub struct ScoreOutput {
    pub model_hash: String,
    /// Hash of the applied LoRA adapter (`--adapter`).
    pub adapter_hash: Option<String>,
    pub device: String,
    pub params: String,
    pub dim: usize,
    pub seed: u64,
    pub reference_set: String,
    pub reference_size: usize,
    /// Why the scores carry no reward (no reference set, a random model), when they do not.
    pub no_reward: Option<NoReward>,
    pub computed: usize,
    pub cached: usize,
    pub seconds: f64,
    /// Highest reward first.
    pub tasks: Vec<ScoreRow>,
}

/// What `bench score` prints.
#[derive(Debug, Serialize)]
pub struct BenchScoreOutput {
    pub device: String,
    pub parameters: usize,
    pub subset_parameters: usize,
    pub seq_len: usize,
    pub target_len: usize,
    pub dim: usize,
    pub tasks: usize,
    pub load_seconds: f64,
    pub seconds: f64,
    pub tasks_per_second: f64,
    pub ms_per_task: f64,
    /// Peak resident memory on the CPU; device memory in use on CUDA.
    pub peak_memory_mib: Option<f64>,
}

fn device(name: &str) -> Option<DeviceKind> {
    match name.parse() {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn feature_config(m: &ModelArgs, max_len: usize) -> FeatureConfig {
    FeatureConfig { params: m.params.clone(), dim: m.dim, seed: m.seed, max_len }
}

pub fn run_score(home: &Path, args: ScoreArgs) -> anyhow::Result<i32> {
    let Some(dev) = device(&args.model.device) else { return Ok(EXIT_USAGE) };
    let started = Instant::now();
    let mut store = Store::open(home)?;
    let (reference_set, reference) = match reference_texts(&store, &args.reference) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(EXIT_FAILED);
        }
    };
    let feature = feature_config(&args.model, args.max_len);
    let scorer = match Scorer::load_adapted(&args.model.model, args.adapter.as_deref(), dev, feature) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_FAILED);
        }
    };
    let tasks = store.tasks()?;
    let bar = super::progress_bar((reference.len() + tasks.len()) as u64, "scoring");
    let (mut computed, mut cached) = (0, 0);
    let direction = reference_direction(&mut store, &scorer, &reference, |hit| {
        if hit {
            cached += 1
        } else {
            computed += 1
        }
        bar.inc(1);
    })?;
    // As a round does: an empty reference set (or one whose gradients cancel out) scores with
    // no reward rather than failing.
    let (reference_set, direction) = match direction {
        Some(d) => (reference_set, d),
        None => (NO_REFERENCE.to_string(), vec![0.0; scorer.feature_config().dim]),
    };
    let no_reward = why_no_reward(&scorer, &reference_set);
    let scored = score_tasks(&mut store, &scorer, &direction, &reference_set, &tasks, |_| bar.inc(1))?;
    let mut rows = Vec::with_capacity(scored.len());
    for st in scored {
        if st.cached {
            cached += 1
        } else {
            computed += 1
        }
        let s = st.score;
        rows.push(ScoreRow {
            task_id: s.task_id,
            validity: s.validity,
            cosine: s.cosine,
            reward: s.reward,
            loss: st.loss,
            cached: st.cached,
        });
    }
    bar.finish_and_clear();
    let reward = |r: &ScoreRow| r.reward.unwrap_or(f64::NEG_INFINITY);
    rows.sort_by(|a, b| reward(b).total_cmp(&reward(a)).then(b.cosine.total_cmp(&a.cosine)));
    let out = ScoreOutput {
        model_hash: scorer.model_hash().to_string(),
        adapter_hash: scorer.adapter_hash().map(str::to_string),
        device: dev.as_str().to_string(),
        params: args.model.params.clone(),
        dim: args.model.dim,
        seed: args.model.seed,
        reference_set,
        reference_size: reference.len(),
        no_reward,
        computed,
        cached,
        seconds: started.elapsed().as_secs_f64(),
        tasks: rows,
    };
    if args.json {
        print_json(&out)?;
    } else {
        println!(
            "scored {} tasks against {} ({} references) in {:.1} s; {} features computed, {} cached",
            out.tasks.len(),
            out.reference_set,
            out.reference_size,
            out.seconds,
            out.computed,
            out.cached
        );
        if let Some(why) = out.no_reward {
            println!("no reward: scored with {} (rewards need a trained --model and trusted fixes)", why.as_str());
        }
        println!("{:22} {:>8} {:>8} {:>8} {:>8}", "task", "validity", "cosine", "reward", "loss");
        for r in &out.tasks {
            let reward = r.reward.map_or("-".to_string(), |x| format!("{x:.4}"));
            println!("{:22} {:>8.0} {:>8.4} {:>8} {:>8.3}", r.task_id, r.validity, r.cosine, reward, r.loss);
        }
    }
    Ok(EXIT_OK)
}

pub fn run_model(cmd: ModelCmd) -> anyhow::Result<i32> {
    match cmd {
        ModelCmd::Logits(a) => super::train::run_logits(a),
        ModelCmd::Tiny(a) => {
            let spec = TinySpec { layers: a.layers, width: a.width, seed: a.seed, vocab: a.vocab, kv_heads: None };
            let config = match score::write_tiny_model(&a.out_dir, &spec) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(EXIT_USAGE);
                }
            };
            let out = serde_json::json!({
                "out_dir": a.out_dir.display().to_string(),
                "config": config,
                "parameters": config.parameter_count(),
            });
            if a.json {
                print_json(&out)?;
            } else {
                println!(
                    "wrote a random {}-layer, width-{} Llama-style model ({:.2} M parameters, vocab {}) to {}",
                    config.num_hidden_layers,
                    config.hidden_size,
                    config.parameter_count() as f64 / 1e6,
                    config.vocab_size,
                    a.out_dir.display()
                );
            }
            Ok(EXIT_OK)
        }
    }
}

pub fn run_bench(args: BenchScoreArgs) -> anyhow::Result<i32> {
    use rand::{Rng, SeedableRng};
    let Some(dev) = device(&args.model.device) else { return Ok(EXIT_USAGE) };
    if args.seq_len < 8 || args.tasks == 0 {
        eprintln!("error: --seq-len must be at least 8 and --tasks positive");
        return Ok(EXIT_USAGE);
    }
    let load_started = Instant::now();
    let scorer = match Scorer::load(&args.model.model, dev, feature_config(&args.model, args.seq_len)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_FAILED);
        }
    };
    let load_seconds = load_started.elapsed().as_secs_f64();
    let vocab = scorer.config().vocab_size as u32;
    let target_len = args.seq_len / 4;
    let prompt_len = args.seq_len - target_len;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut sample = || -> Vec<u32> { (0..args.seq_len).map(|_| rng.random_range(0..vocab)).collect() };
    for _ in 0..2 {
        scorer.feature_ids(&sample(), prompt_len)?;
    }
    let mut peak = score::memory_in_use(dev);
    let started = Instant::now();
    for _ in 0..args.tasks {
        scorer.feature_ids(&sample(), prompt_len)?;
        peak = peak.max(score::memory_in_use(dev));
    }
    let seconds = started.elapsed().as_secs_f64();
    let out = BenchScoreOutput {
        device: dev.as_str().to_string(),
        parameters: scorer.parameter_count(),
        subset_parameters: scorer.subset().0,
        seq_len: args.seq_len,
        target_len,
        dim: args.model.dim,
        tasks: args.tasks,
        load_seconds,
        seconds,
        tasks_per_second: args.tasks as f64 / seconds,
        ms_per_task: seconds * 1000.0 / args.tasks as f64,
        peak_memory_mib: peak.map(|b| b as f64 / (1024.0 * 1024.0)),
    };
    if args.json {
        print_json(&out)?;
    } else {
        println!(
            "{} params {:.2} M, subset {:.2} M, seq {} (target {}), d {}: {:.2} tasks/s ({:.1} ms/task) over {} tasks, peak memory {}, load {:.2} s",
            out.device,
            out.parameters as f64 / 1e6,
            out.subset_parameters as f64 / 1e6,
            out.seq_len,
            out.target_len,
            out.dim,
            out.tasks_per_second,
            out.ms_per_task,
            out.tasks,
            out.peak_memory_mib.map_or_else(|| "n/a".to_string(), |m| format!("{m:.0} MiB")),
            out.load_seconds
        );
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Task, TaskStage, Verdict, VerdictOutcome};

    fn task(before: &str, after: &str) -> Task {
        let bug_patch = format!(
            "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n def f(x):\n-{before}\n+{after}\n"
        );
        let mut t =
            crate::model::test_support::task(&Task::compute_id("c0ffee", &bug_patch), "op", TaskStage::Candidate);
        (t.base_commit, t.bug_patch, t.round) = ("c0ffee".into(), bug_patch, None);
        (t.site.start_line, t.site.end_line) = (1, 1);
        t.problem_statement = "f returns the wrong value".into();
        t
    }

    #[test]
    fn score_stores_validity_times_cosine_and_caches_features() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (home, model, reference) =
            (dir.path().join("home"), dir.path().join("model"), dir.path().join("ref.jsonl"));
        score::write_tiny_model(&model, &TinySpec::default()).expect("tiny");
        // The tiny model is marked as random weights; without the mark it stands for a trained one.
        std::fs::remove_file(model.join(score::RANDOM_WEIGHTS_MARKER)).expect("marker");
        let (valid, invalid) =
            (task("    return x + 1", "    return x - 1"), task("    return x * 2", "    return x / 2"));
        let mut store = Store::open(&home).expect("store");
        store.insert_tasks(&[valid.clone(), invalid.clone()]).expect("insert");
        let verdict = Verdict {
            task_id: valid.id.clone(),
            outcome: VerdictOutcome::Valid,
            reason: "ok".into(),
            fail_to_pass: vec![],
            pass_to_pass: vec![],
            duration_ms: 1,
        };
        store.record_verdict(&valid, &verdict).expect("verdict");
        drop(store);
        let gold = serde_json::json!({"instance_id": "a__b-1", "problem_statement": "f is off by two", "patch": crate::diff::reverse(&valid.bug_patch).unwrap()});
        std::fs::write(&reference, format!("{gold}\n\n")).expect("write");
        let args = |json| ScoreArgs {
            model: ModelArgs {
                model: model.clone(),
                device: "cpu".into(),
                params: score::DEFAULT_PARAMS.into(),
                dim: 1024,
                seed: 3,
            },
            adapter: None,
            reference: reference.display().to_string(),
            max_len: 256,
            json,
        };
        assert_eq!(run_score(&home, args(true)).expect("score"), EXIT_OK);
        let store = Store::open(&home).expect("store");
        let s = store.scores(&valid.id).expect("scores");
        let first_reward = s[0].reward;
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].validity, 1.0);
        assert!(s[0].cosine > 0.0 && s[0].reward.is_some_and(|r| (r - s[0].cosine).abs() < 1e-12), "{:?}", s[0]);
        let s = store.scores(&invalid.id).expect("scores");
        assert_eq!((s[0].validity, s[0].reward), (0.0, Some(0.0)));
        assert!(s[0].reference_set.starts_with("file:ref.jsonl@"));
        drop(store);
        // Same settings again: every feature comes from the cache, the scores are unchanged.
        assert_eq!(run_score(&home, args(false)).expect("score"), EXIT_OK);
        let again = Store::open(&home).expect("store").scores(&valid.id).expect("scores");
        assert_eq!((again.len(), again[0].reward), (1, first_reward));
        // An empty reference set scores as a round does: no reward, said why, not zeros.
        std::fs::write(&reference, "\n").expect("write");
        assert_eq!(run_score(&home, args(true)).expect("score"), EXIT_OK);
        let s = Store::open(&home).expect("store").scores(&valid.id).expect("scores");
        let none = s.iter().find(|s| s.reference_set == NO_REFERENCE).expect("a score against no reference");
        assert_eq!((none.reward, none.no_reward), (None, Some(NoReward::NoReference)));
        // A model with random weights: no reward either, whatever the reference set.
        std::fs::write(&reference, format!("{gold}\n")).expect("write");
        std::fs::write(model.join(score::RANDOM_WEIGHTS_MARKER), "random\n").expect("marker");
        assert_eq!(run_score(&home, args(true)).expect("score"), EXIT_OK);
        let s = Store::open(&home).expect("store").scores(&valid.id).expect("scores");
        assert_eq!((s[0].reward, s[0].no_reward), (None, Some(NoReward::RandomModel)), "{:?}", s[0]);
    }
}
