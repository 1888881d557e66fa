//! Tests on tiny random models written to a temporary folder by `write_tiny_model`.

use super::*;
use crate::diff;

fn tiny(spec: &TinySpec) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tiny_model(dir.path(), spec).expect("write tiny model");
    dir
}

fn config() -> FeatureConfig {
    FeatureConfig { max_len: 192, ..FeatureConfig::default() }
}

fn load(dir: &Path, f: FeatureConfig) -> Scorer {
    Scorer::load(dir, DeviceKind::Cpu, f).expect("load")
}

fn bug(file: &str, before: &str, after: &str) -> String {
    format!("diff --git a/{file} b/{file}\n--- a/{file}\n+++ b/{file}\n@@ -1,3 +1,3 @@\n def f(x):\n-{before}\n+{after}\n     pass\n")
}

fn texts() -> Vec<TaskText> {
    vec![
        TaskText::from_fix(
            "f returns the wrong total",
            &diff::reverse(&bug("a.py", "    return x + 1", "    return x - 1")).unwrap(),
        ),
        TaskText::from_fix(
            "parse fails on empty input",
            &diff::reverse(&bug("p.py", "    if not s: return []", "    if s: return []")).unwrap(),
        ),
        TaskText::from_fix(
            "the loop skips the last item",
            &diff::reverse(&bug("l.py", "    for i in range(n):", "    for i in range(n - 1):")).unwrap(),
        ),
        TaskText::from_fix(
            "KeyError when the name is missing",
            &diff::reverse(&bug("k.py", "    return d.get(k)", "    return d[k]")).unwrap(),
        ),
        TaskText::from_fix(
            "wrong comparison in max",
            &diff::reverse(&bug("m.py", "    return a if a > b else b", "    return a if a < b else b")).unwrap(),
        ),
    ]
}

#[test]
fn feature_is_deterministic_for_a_seed_and_unit_length() {
    let dir = tiny(&TinySpec::default());
    let t = &texts()[0];
    let a = load(dir.path(), config()).feature(t).expect("feature");
    let b = load(dir.path(), config()).feature(t).expect("feature");
    assert_eq!(a, b);
    assert_eq!(a.vector.len(), DEFAULT_DIM);
    let norm: f64 = a.vector.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    let other_seed = load(dir.path(), FeatureConfig { seed: 1, ..config() }).feature(t).expect("feature");
    assert_ne!(a.vector, other_seed.vector);
    assert!((a.loss - other_seed.loss).abs() < 1e-9, "the seed changes the projection, not the loss");
}

#[test]
fn cosine_of_a_task_with_itself_is_one() {
    let dir = tiny(&TinySpec::default());
    let f = load(dir.path(), config()).feature(&texts()[1]).expect("feature");
    assert!((cosine(&f.vector, &f.vector) - 1.0).abs() < 1e-6);
}

#[test]
fn count_sketch_preserves_gradient_cosines() {
    let dir = tiny(&TinySpec::default());
    let s = load(dir.path(), config());
    let (subset, names) = s.subset();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        subset >= 4 * DEFAULT_DIM,
        "the subset ({subset}) must be larger than the sketch for the test to mean something"
    );
    let (idx, sign) = s.sketch_tables().expect("tables");
    let mut exact = Vec::new();
    let mut sketched = Vec::new();
    for t in texts() {
        let (_, g) = s.gradient(&t).expect("gradient");
        let f = s.feature(&t).expect("feature");
        // The device path (index_add) equals the host sketch.
        let mut host = sketch::project(&g, &idx, &sign, DEFAULT_DIM);
        normalise(&mut host);
        assert!(cosine(&host, &f.vector) > 0.99999);
        exact.push(g);
        sketched.push(f.vector);
    }
    let mut worst: f64 = 0.0;
    let mut spread: f64 = 0.0;
    for i in 0..exact.len() {
        for j in i + 1..exact.len() {
            let (e, p) = (cosine(&exact[i], &exact[j]), cosine(&sketched[i], &sketched[j]));
            worst = worst.max((e - p).abs());
            spread = spread.max(e.abs());
        }
    }
    eprintln!("sketch: largest cos error {worst:.4}, largest exact cos {spread:.4}");
    assert!(worst < 0.06, "largest |cos_projected - cos_exact| = {worst}");
    assert!(spread > 0.05, "the pairs should not all be orthogonal ({spread})");
}

#[test]
fn task_identical_to_the_reference_scores_above_an_unrelated_one() {
    let dir = tiny(&TinySpec::default());
    let s = load(dir.path(), config());
    let ts = texts();
    let mut same = ts[0].clone();
    same.prompt = same.prompt.replace("wrong total", "wrong sum");
    let reference = mean_direction(&[s.feature(&ts[0]).expect("f").vector, s.feature(&same).expect("f").vector])
        .expect("direction");
    let identical = cosine(&s.feature(&ts[0]).expect("f").vector, &reference);
    let unrelated = cosine(&s.feature(&ts[3]).expect("f").vector, &reference);
    assert!(identical > 0.9, "{identical}");
    // Gradients of a random model share a large common component, so unrelated tasks are
    // far from orthogonal; the identical one must still come first.
    assert!(identical > unrelated + 0.02, "identical {identical} unrelated {unrelated}");
}

#[test]
fn loss_is_the_mean_nll_of_the_target_tokens_only() {
    let dir = tiny(&TinySpec::default());
    // Long enough that nothing is truncated (the statement opens the prompt).
    let s = load(dir.path(), FeatureConfig { max_len: 1024, ..config() });
    let t = &texts()[2];
    let (ids, p) = s.encode(t).expect("encode");
    assert_eq!(ids.len(), t.prompt.len() + t.target.len(), "byte tokens, no truncation");
    let nll = s.token_nlls(&ids).expect("nlls");
    let target_mean = nll[p - 1..].iter().map(|x| *x as f64).sum::<f64>() / (ids.len() - p) as f64;
    let all_mean = nll.iter().map(|x| *x as f64).sum::<f64>() / nll.len() as f64;
    let loss = s.loss(t).expect("loss");
    assert!((loss - target_mean).abs() < 1e-4, "loss {loss} target mean {target_mean}");
    assert!((loss - all_mean).abs() > 1e-3, "prompt tokens must not count ({loss} vs {all_mean})");
    // The prompt acts only as context: same target, other prompt -> same number of scored tokens, other loss.
    let mut other_prompt = t.clone();
    other_prompt.prompt = other_prompt.prompt.replace("skips the last item", "never ends at all");
    let (ids2, p2) = s.encode(&other_prompt).expect("encode");
    assert_eq!(ids2.len() - p2, ids.len() - p);
    assert_ne!(s.loss(&other_prompt).expect("loss"), loss);
    // Changing target tokens changes the loss.
    let mut other_target = t.clone();
    other_target.target = other_target.target.replace("range(n)", "range(m)");
    assert_ne!(s.loss(&other_target).expect("loss"), loss);
}

#[test]
fn uniform_logits_give_ln_vocab() {
    let dir = tiny(&TinySpec::default());
    let path = dir.path().join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).expect("load");
    let head = tensors.get("lm_head.weight").expect("head").zeros_like().expect("zeros");
    tensors.insert("lm_head.weight".into(), head);
    candle_core::safetensors::save(&tensors, &path).expect("save");
    let s = load(dir.path(), config());
    let loss = s.loss(&texts()[0]).expect("loss");
    assert!((loss - (259f64).ln()).abs() < 1e-5, "loss {loss} vs ln 259 = {}", (259f64).ln());
}

#[test]
fn grouped_query_attention_model_runs() {
    let dir = tiny(&TinySpec { kv_heads: Some(2), ..TinySpec::default() });
    let s = load(dir.path(), config());
    assert_eq!((s.config().num_attention_heads, s.config().num_key_value_heads), (4, 2));
    assert!(s.feature(&texts()[0]).expect("feature").loss.is_finite());
}

#[test]
fn truncation_keeps_the_prompt_end_and_the_target_start() {
    let (ids, p) = truncate((0..10).collect(), (100..120).collect(), 8).expect("truncate");
    assert_eq!((ids.as_slice(), p), ([6, 7, 8, 9, 100, 101, 102, 103].as_slice(), 4));
    let (ids, p) = truncate(vec![1], (100..120).collect(), 8).expect("truncate");
    assert_eq!((ids.len(), p), (8, 1));
    assert!(matches!(truncate(vec![1], vec![], 8), Err(ScoreError::EmptyTarget)));
}

#[test]
fn clear_errors_for_missing_files_architecture_vocab_and_subset() {
    let dir = tiny(&TinySpec::default());
    let err = |d: &Path, f: FeatureConfig| Scorer::load(d, DeviceKind::Cpu, f).err().expect("an error").to_string();

    let no_weights = tempfile::tempdir().expect("tempdir");
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.path().join(f), no_weights.path().join(f)).expect("copy");
    }
    assert!(err(no_weights.path(), config()).contains("missing *.safetensors"));
    std::fs::remove_file(no_weights.path().join("tokenizer.json")).expect("rm");
    assert!(err(no_weights.path(), config()).contains("missing tokenizer.json"));

    let config_path = dir.path().join("config.json");
    let original = std::fs::read_to_string(&config_path).expect("read");
    std::fs::write(&config_path, original.replace("\"llama\"", "\"gpt2\"")).expect("write");
    let e = err(dir.path(), config());
    assert!(e.contains("unsupported architecture") && e.contains("gpt2"), "{e}");

    std::fs::write(&config_path, original.replace("\"vocab_size\": 259", "\"vocab_size\": 200")).expect("write");
    let e = err(dir.path(), config());
    assert!(e.contains("vocabulary mismatch") && e.contains("259") && e.contains("200"), "{e}");

    std::fs::write(&config_path, &original).expect("write");
    let e = err(dir.path(), FeatureConfig { params: "model.layers.*.nothing".into(), ..config() });
    assert!(e.contains("matches no tensor"), "{e}");

    std::fs::remove_file(&config_path).expect("rm");
    assert!(err(dir.path(), config()).contains("missing config.json"));
}

#[test]
fn too_large_is_refused_before_loading() {
    let c = TinySpec { layers: 2, width: 64, ..TinySpec::default() }.config().expect("config");
    let huge = Config { num_hidden_layers: 1_000_000, hidden_size: 65_536, ..c };
    let e = check_memory(&huge, &config(), DeviceKind::Cpu).expect_err("too large").to_string();
    assert!(e.contains("too large for cpu"), "{e}");
}

#[test]
fn byte_tokenizer_round_trips_bytes() {
    let tok = Tokenizer::from_bytes(tiny::byte_tokenizer_json().as_bytes()).expect("tokenizer");
    assert_eq!(tok.get_vocab_size(true), 259);
    let text = "déf f(x):\n\treturn x → 1";
    let ids = tok.encode(text, false).expect("encode").get_ids().to_vec();
    assert_eq!(ids, text.bytes().map(u32::from).collect::<Vec<_>>());
    assert_eq!(tok.decode(&ids, false).expect("decode"), text);
}

/// Independent check of candle's backward through our decoder: central finite differences of
/// the loss on the weight element with the largest gradient.
#[test]
fn gradient_matches_finite_differences() {
    let dir = tiny(&TinySpec::default());
    let t = &texts()[4];
    let s = load(dir.path(), config());
    let (_, grad) = s.gradient(t).expect("gradient");
    let (_, names) = s.subset();
    let sizes: Vec<usize> = names.iter().map(|n| s.model_tensor_len(n)).collect();
    let (flat_index, g) =
        grad.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).map(|(i, g)| (i, *g)).expect("nonempty");
    let (mut name_i, mut local) = (0, flat_index);
    while local >= sizes[name_i] {
        local -= sizes[name_i];
        name_i += 1;
    }
    let path = dir.path().join("model.safetensors");
    let original = candle_core::safetensors::load(&path, &Device::Cpu).expect("load");
    let eps = 1e-2f32;
    let loss_with = |delta: f32| -> f64 {
        let mut tensors = original.clone();
        let w = &tensors[&names[name_i]];
        let mut values = w.flatten_all().and_then(|f| f.to_vec1::<f32>()).expect("values");
        values[local] += delta;
        let changed = Tensor::from_vec(values, w.shape(), &Device::Cpu).expect("tensor");
        tensors.insert(names[name_i].clone(), changed);
        candle_core::safetensors::save(&tensors, &path).expect("save");
        load(dir.path(), config()).loss(t).expect("loss")
    };
    let numeric = (loss_with(eps) - loss_with(-eps)) / (2.0 * eps as f64);
    assert!(g.abs() > 1e-3, "largest gradient {g}");
    assert!(
        (numeric - g as f64).abs() < 0.02 * g.abs() as f64 + 1e-4,
        "analytic {g} numeric {numeric} ({})",
        names[name_i]
    );
}
