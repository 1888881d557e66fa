//! Training checks on the tiny random model (CPU).

use super::*;
use crate::engine::progress::Progress;
use crate::score::{read_model, write_tiny_model, DeviceKind, Llama, TinySpec};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

fn tiny() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tiny_model(dir.path(), &TinySpec::default()).expect("tiny model");
    dir
}

fn examples(n: usize) -> Vec<ChatExample> {
    let ops = ["+ 1", "- 1", "* 2", "// 3", "% 5", "** 2", "+ y", "- y"];
    (0..n)
        .map(|i| {
            let (bug, fix) = (ops[i % ops.len()], ops[(i + 3) % ops.len()]);
            ChatExample {
                id: format!("e{i}"),
                messages: vec![
                    Message::new("system", "Fix it."),
                    Message::new("user", &format!("f{i} is wrong:\n    return x {bug}")),
                    Message::new("assistant", &format!("-    return x {bug}\n+    return x {fix}\n")),
                ],
            }
        })
        .collect()
}

fn options(steps: usize) -> TrainOptions {
    TrainOptions { length: Length::Steps(steps), max_len: 128, checkpoint_every: 0, ..TrainOptions::default() }
}

#[test]
fn adapted_logits_equal_the_base_model_before_any_step() {
    let dir = tiny();
    let trainer = Trainer::load(dir.path(), DeviceKind::Cpu, options(1)).expect("trainer");
    assert_eq!(trainer.lora.layers.len(), 2 * 7);
    let a = trainer.lora.layers[0].a.as_tensor().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(a > 0.0, "A starts random");
    let files = read_model(dir.path(), DeviceKind::Cpu, 128).expect("model");
    let base = Llama::new(&files.config, VarBuilder::from_tensors(files.tensors, DType::F32, &files.device)).unwrap();
    let ids: Vec<u32> = "def f(x):\n    return x + 1\n".bytes().map(u32::from).collect();
    let t = Tensor::new(ids.as_slice(), &files.device).unwrap();
    let want = base.logits(&base.forward(&t).unwrap()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let got = trainer.logits(&ids).expect("logits");
    assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "logits differ before any step");
}

/// Central finite differences of the loss on the A and B elements with the largest gradient.
#[test]
fn lora_gradients_match_finite_differences() {
    let dir = tiny();
    let trainer = Trainer::load(dir.path(), DeviceKind::Cpu, options(1)).expect("trainer");
    // Non-zero B (seeded), so A has a gradient too.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for l in &trainer.lora.layers {
        let values: Vec<f32> = (0..l.b.elem_count()).map(|_| rng.random_range(-0.1f32..0.1)).collect();
        l.b.set(&Tensor::from_vec(values, l.b.shape(), &candle_core::Device::Cpu).unwrap()).unwrap();
    }
    let data = trainer.tokenize(&examples(1)).expect("tokenize");
    let (_, grads) = trainer.gradients(&[&data[0]]).expect("gradients");
    let vars = trainer.lora.vars();
    for which in [0usize, 1] {
        // Largest gradient among the A's (which = 0) or the B's (which = 1).
        let (vi, ei, g) = grads
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == which)
            .flat_map(|(i, t)| {
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().enumerate().map(move |(e, g)| (i, e, g))
            })
            .max_by(|a, b| a.2.abs().total_cmp(&b.2.abs()))
            .expect("gradients");
        let original = vars[vi].as_tensor().copy().unwrap();
        let eps = 2e-3f32;
        let loss_with = |delta: f32| -> f64 {
            let mut values = original.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            values[ei] += delta;
            vars[vi].set(&Tensor::from_vec(values, original.shape(), &candle_core::Device::Cpu).unwrap()).unwrap();
            trainer.loss(&data).expect("loss")
        };
        let numeric = (loss_with(eps) - loss_with(-eps)) / (2.0 * eps as f64);
        vars[vi].set(&original).unwrap();
        assert!(g.abs() > 1e-3, "largest gradient {g}");
        assert!(
            (numeric - g as f64).abs() < 0.03 * g.abs() as f64 + 1e-4,
            "{}: analytic {g} numeric {numeric}",
            if which == 0 { "A" } else { "B" }
        );
    }
}

#[test]
fn overfitting_eight_examples_drives_the_target_loss_down() {
    let dir = tiny();
    let opts = TrainOptions { lr: 1e-2, batch: 8, warmup_ratio: 0.05, ..options(150) };
    let mut trainer = Trainer::load(dir.path(), DeviceKind::Cpu, opts).expect("trainer");
    let data = trainer.tokenize(&examples(8)).expect("tokenize");
    let before = trainer.loss(&data).expect("loss");
    let run = trainer.run(&data, None, false, &Progress::none()).expect("run");
    let after = trainer.loss(&data).expect("loss");
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let (first, last) = (mean(&run.losses[..10]), mean(&run.losses[run.losses.len() - 10..]));
    eprintln!(
        "overfit: loss {before:.3} -> {after:.4}; first-10 {first:.3}, last-10 {last:.4}; {:.0} tok/s",
        run.tokens_per_second
    );
    assert!(after < 0.05, "target loss after training {after}");
    assert!(last < first / 4.0, "last-10 mean {last} vs first-10 mean {first}");
}

#[test]
fn saved_adapter_loads_back_to_bit_identical_logits() {
    let dir = tiny();
    let mut trainer = Trainer::load(dir.path(), DeviceKind::Cpu, TrainOptions { lr: 1e-2, ..options(3) }).unwrap();
    let data = trainer.tokenize(&examples(4)).unwrap();
    trainer.run(&data, None, false, &Progress::none()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let hash = peft::save(out.path(), &trainer.lora, "tiny").expect("save");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join(peft::CONFIG_FILE)).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "CAUSAL_LM");
    assert_eq!((config["r"].as_u64(), config["lora_alpha"].as_f64()), (Some(16), Some(32.0)));
    let weights =
        candle_core::safetensors::load(out.path().join(peft::WEIGHTS_FILE), &candle_core::Device::Cpu).unwrap();
    let a = &weights["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"];
    let b = &weights["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"];
    assert_eq!((a.dims(), b.dims()), (&[16usize, 64][..], &[64usize, 16][..]));
    assert!(b.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0, "B moved");

    let loaded = peft::load(out.path(), &trainer.config, &candle_core::Device::Cpu).expect("load");
    assert_eq!(loaded.hash, hash);
    let fresh = Trainer::load(dir.path(), DeviceKind::Cpu, TrainOptions { seed: 9, ..options(1) }).unwrap();
    fresh.set_factors(&loaded.params).unwrap();
    let ids = &data[0].ids;
    let (want, got) = (trainer.logits(ids).unwrap(), fresh.logits(ids).unwrap());
    assert!(want.iter().zip(&got).all(|(w, g)| w.to_bits() == g.to_bits()), "logits differ after save/load");
    // The scorer applies the same adapter: its loss is the trained model's.
    let scorer = crate::score::Scorer::load_adapted(
        dir.path(),
        Some(out.path()),
        DeviceKind::Cpu,
        crate::score::FeatureConfig { max_len: 128, ..Default::default() },
    )
    .expect("scorer");
    assert_eq!(scorer.adapter_hash(), Some(hash.as_str()));
    let plain =
        crate::score::Scorer::load(dir.path(), DeviceKind::Cpu, crate::score::FeatureConfig::default()).unwrap();
    assert_ne!(scorer.model_hash(), plain.model_hash());
}

#[test]
fn bad_targets_and_ranks_are_named() {
    let dir = tiny();
    let load = |spec: LoraSpec| {
        Trainer::load(dir.path(), DeviceKind::Cpu, TrainOptions { lora: spec, ..options(1) })
            .err()
            .expect("error")
            .to_string()
    };
    let e = load(LoraSpec { rank: 4, alpha: 8.0, targets: vec!["q_proj".into(), "qkv".into()] });
    assert!(e.contains("'qkv' matches no linear layer") && e.contains("down_proj"), "{e}");
    let e = load(LoraSpec { rank: 65, alpha: 8.0, targets: vec!["q_proj".into()] });
    assert!(e.contains("rank 65 is larger than layer q_proj") && e.contains("at most 64"), "{e}");
    let e = load(LoraSpec { rank: 0, alpha: 8.0, targets: vec!["q_proj".into()] });
    assert!(e.contains("rank must be positive"), "{e}");
}

#[test]
fn a_checkpoint_of_another_run_is_refused_and_one_of_this_run_resumes() {
    let dir = tiny();
    let out = tempfile::tempdir().unwrap();
    let opts = TrainOptions { checkpoint_every: 2, lr: 1e-2, ..options(5) };
    let mut t = Trainer::load(dir.path(), DeviceKind::Cpu, opts.clone()).unwrap();
    let data = t.tokenize(&examples(4)).unwrap();
    let full = t.run(&data, Some(out.path()), false, &Progress::none()).unwrap();
    let state = checkpoint::read_state(out.path()).unwrap().expect("checkpoint at step 4");
    assert_eq!(state.step, 4);
    // Resuming from step 4 replays step 5 exactly.
    let mut again = Trainer::load(dir.path(), DeviceKind::Cpu, opts.clone()).unwrap();
    let resumed = again.run(&data, Some(out.path()), true, &Progress::none()).unwrap();
    assert_eq!(resumed.resumed_from, Some(4));
    assert_eq!(resumed.losses, full.losses);
    let (a, _) = peft::to_bytes(&t.lora, "m").unwrap();
    let (b, _) = peft::to_bytes(&again.lora, "m").unwrap();
    assert_eq!(a, b);
    assert_eq!(peft::to_bytes(&t.lora, "m").unwrap().1, peft::to_bytes(&again.lora, "m").unwrap().1);
    let mut other = Trainer::load(dir.path(), DeviceKind::Cpu, TrainOptions { lr: 5e-3, ..opts }).unwrap();
    let e = other.run(&data, Some(out.path()), true, &Progress::none()).unwrap_err().to_string();
    assert!(e.contains("another model, data or settings"), "{e}");
}

/// Full-parameter training (every weight a variable) learns a handful of examples, and the
/// saved model folder reloads to the same logits.
#[test]
fn full_training_lowers_the_loss_and_its_saved_model_reloads_to_the_same_logits() {
    let dir = tiny();
    let opts = TrainOptions { full: true, lr: 3e-3, batch: 4, ..options(30) };
    let mut trainer = Trainer::load(dir.path(), DeviceKind::Cpu, opts).expect("trainer");
    assert_eq!(trainer.trainable().len(), trainer.weights.len());
    assert!(trainer.weights.iter().any(|(n, _)| n == "model.embed_tokens.weight"));
    let data = trainer.tokenize(&examples(4)).expect("tokenize");
    let before = trainer.loss(&data).unwrap();
    let result = trainer.run(&data, None, false, &Progress::none()).expect("run");
    let after = trainer.loss(&data).unwrap();
    assert!(after < before * 0.5, "loss {before} -> {after} ({:?})", result.losses);
    let out = tempfile::tempdir().unwrap();
    let hash = trainer.save_full(dir.path(), out.path()).expect("save");
    assert_eq!(hash.len(), 64);
    assert!(out.path().join("config.json").is_file() && out.path().join("tokenizer.json").is_file());
    assert!(!out.path().join(crate::score::RANDOM_WEIGHTS_MARKER).exists(), "trained weights are not random");
    let ids: Vec<u32> = "def f(x):\n    return x + 1\n".bytes().map(u32::from).collect();
    let (_, reloaded) = super::logits(out.path(), None, &ids, DeviceKind::Cpu).expect("reload");
    let trained = trainer.logits(&ids).unwrap();
    assert!(trained.iter().zip(&reloaded).all(|(a, b)| a.to_bits() == b.to_bits()), "logits differ after reload");
    // A LoRA trainer has nothing full to save.
    let lora = Trainer::load(dir.path(), DeviceKind::Cpu, options(1)).unwrap();
    assert!(lora.save_full(dir.path(), out.path()).unwrap_err().to_string().contains("LoRA"));
}

/// With `all_tokens` the loss is the mean next-token NLL over the whole example (prompt too),
/// computed here from the model's logits by hand.
#[test]
fn all_tokens_loss_is_the_mean_nll_of_every_next_token() {
    let dir = tiny();
    let trainer = Trainer::load(dir.path(), DeviceKind::Cpu, TrainOptions { all_tokens: true, ..options(1) }).unwrap();
    let data = trainer.tokenize(&examples(1)).unwrap();
    let ids = &data[0].ids;
    assert!(data[0].prompt_len > 1, "the example has a prompt");
    let vocab = trainer.config.vocab_size;
    let logits = trainer.logits(ids).unwrap();
    let mut nll = 0f64;
    for (i, next) in ids.iter().enumerate().skip(1) {
        let row = &logits[(i - 1) * vocab..i * vocab];
        let max = row.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v)) as f64;
        let lse = max + row.iter().map(|v| (*v as f64 - max).exp()).sum::<f64>().ln();
        nll += lse - row[*next as usize] as f64;
    }
    let want = nll / (ids.len() - 1) as f64;
    let got = trainer.loss(&data).unwrap();
    assert!((got - want).abs() < 1e-4, "loss {got}, by hand {want}");
    let targets_only = Trainer::load(dir.path(), DeviceKind::Cpu, options(1)).unwrap().loss(&data).unwrap();
    assert!((targets_only - want).abs() > 1e-6, "the target-only loss is another figure");
}

#[test]
fn a_line_edit_is_the_smallest_token_span_that_occurs_once_and_applies_back() {
    use super::data::{apply_edit, LineEdit};
    let cases = [
        ("    if a < b:", "    if a <= b:", "<", "<="),
        ("    except AttributeError:", "    except KeyError:", "AttributeError", "KeyError"),
        ("    if x:", "    if not x:", "x", "not x"),
        ("    return not x", "    return x", "not x", "x"),
        ("    if a and b:", "    if a or b:", "and", "or"),
        ("    x += 1", "    x = 1", "+=", "="),
        ("    return f(a, b)", "    return f(a)", ", b", ""),
        // `1` occurs twice: the span widens a token at a time until it is unique.
        ("    return x[1] + 1 - y", "    return x[1] + 2 - y", "1 -", "2 -"),
        ("    return True", "    return False", "True", "False"),
        ("  x = 1", "    x = 1", "  x", "    x"),
        ("    d = defaultdict()", "    d = defaultdict(int)", ")", "int)"),
        ("    q = Decimal(None).scaleb(-places)", "    q = Decimal(1).scaleb(-places)", "None", "1"),
    ];
    for (old, new, want_old, want_new) in cases {
        let edit = LineEdit::between(old, new).unwrap();
        assert_eq!((edit.old.as_str(), edit.new.as_str()), (want_old, want_new), "{old:?} -> {new:?}");
        assert_eq!(old.find(&edit.old), old.rfind(&edit.old), "{old:?}: OLD occurs once");
        assert_eq!(apply_edit(edit.answer().trim_end_matches('\n'), old).as_deref(), Some(new), "{old:?}");
    }
    assert_eq!(LineEdit::between("x = 1", "x = 1"), None);
    // Non-ASCII text is split at characters, not bytes.
    let edit = LineEdit::between("    s = 'é' + a", "    s = 'é' - a").unwrap();
    assert_eq!((edit.old.as_str(), edit.new.as_str()), ("+", "-"));
    // The first ` => ` whose left side occurs once in the line splits the answer.
    assert_eq!(apply_edit("a => b => c", "    s = a + b").as_deref(), Some("    s = b => c + b"));
    assert_eq!(apply_edit("zz => b => c", "    s = a + b").as_deref(), None, "no side occurs");
}
