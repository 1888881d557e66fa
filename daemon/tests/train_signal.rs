//! Does a small model trained from scratch learn the `line` (or `edit`) answer format? A measurement, not a
//! check (ignored by default; no containers): one-line-fix candidates generated at every site
//! of some repositories, split by function, a tiny Llama-shaped model trained on one side (every
//! weight), then greedy answers on the other side's prompts compared with the original line
//! (exact match), as the efficacy experiment's warm-up would learn before any execution.
//!
//! ```sh
//! SIGNAL_REPOS=repo1:repo2 SIGNAL_LAYERS=2 SIGNAL_WIDTH=128 SIGNAL_STEPS=300 \
//!   cargo test --test train_signal -- --ignored --nocapture
//! ```
//! Settings (environment): `SIGNAL_REPOS` (git repositories, `:`-separated; default the example
//! repository), `SIGNAL_LAYERS`, `SIGNAL_WIDTH`, `SIGNAL_STEPS`, `SIGNAL_BATCH`, `SIGNAL_LR`,
//! `SIGNAL_MAX_LEN`, `SIGNAL_EXAMPLES` (training examples at most), `SIGNAL_EVAL` (held-out
//! prompts), `SIGNAL_ALL_TOKENS`, `SIGNAL_ANSWER` (`line` or `edit`: the answer is the line's
//! minimal edit `OLD => NEW`, applied to the bugged line before comparing), `SIGNAL_CACHE` (a
//! file keeping the generated examples between runs; one per answer format), `SIGNAL_DECODE`
//! (`candidates`: instead of generating, the model ranks the candidate repairs of the lines
//! around the bugged one (`lm_candidates`, the window a prompt shows) by the probability of
//! writing each, as `--decode candidates` does without fault localisation's weights; reported:
//! the fix ranked first, its mean reciprocal rank, and a uniform pick's chance),
//! `SIGNAL_GENERATED` (candidates generated per repository).

use socratic::engine::lm_candidates::one_line_edits;
use socratic::engine::progress::Progress;
use socratic::experiment::learner::example;
use socratic::model::Task;
use socratic::score::{write_tiny_model, DeviceKind, GenerateOptions, Generator, TinySpec};
use socratic::train::data::{apply_edit, single_line_fix, AnswerFormat, LineEdit};
use socratic::train::data::{bugged_file, bugged_function_view, marked_messages, Message};
use socratic::train::{ChatExample, Length, TrainOptions, Trainer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn example_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("tallyho");
    socratic::examples::write_example_repo(&repo).unwrap();
    repo
}

#[test]
#[ignore = "a measurement: minutes of CPU training"]
fn a_small_model_trained_from_scratch_learns_one_line_fixes() {
    let tmp = tempfile::tempdir().unwrap();
    let repos: Vec<PathBuf> = match std::env::var("SIGNAL_REPOS") {
        Ok(list) => list.split(':').map(PathBuf::from).collect(),
        Err(_) => vec![example_repo(tmp.path())],
    };
    let started = Instant::now();
    let answer: AnswerFormat = std::env::var("SIGNAL_ANSWER").unwrap_or_else(|_| "line".into()).parse().unwrap();
    // (held out?, example, bugged line, fixed line), from SIGNAL_CACHE when it holds them.
    let cache = std::env::var("SIGNAL_CACHE").ok().map(PathBuf::from);
    let mut tasks: BTreeMap<String, Task> = BTreeMap::new();
    let rows: Vec<(bool, ChatExample, String, String)> = match cache.as_ref().filter(|c| c.is_file()) {
        Some(c) => serde_json::from_str(&std::fs::read_to_string(c).unwrap()).unwrap(),
        None => {
            let rows = generated_rows(&repos, answer, &mut tasks);
            if let Some(c) = &cache {
                std::fs::write(c, serde_json::to_string(&rows).unwrap()).unwrap();
            }
            rows
        }
    };
    // An `edit` answer is recomputed from the lines (the cache outlives changes of `LineEdit`).
    let rows: Vec<_> = rows
        .into_iter()
        .map(|(h, mut ex, old, new)| {
            if let (AnswerFormat::Edit, Some(edit)) = (answer, LineEdit::between(&old, &new)) {
                ex.messages.last_mut().unwrap().content = edit.answer();
            }
            (h, ex, old, new)
        })
        .collect();
    let (held, train): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.0);
    let (mut train, mut held) = (train, held);
    println!("{} train / {} held-out examples ({:.1} s)", train.len(), held.len(), started.elapsed().as_secs_f64());
    held.sort_by_key(|r| socratic::model::sha256_hex(r.1.id.as_bytes()));
    train.truncate(env("SIGNAL_EXAMPLES", 100_000));
    held.truncate(env("SIGNAL_EVAL", 100));

    let model = tmp.path().join("model");
    let spec = TinySpec { layers: env("SIGNAL_LAYERS", 2), width: env("SIGNAL_WIDTH", 128), ..TinySpec::default() };
    write_tiny_model(&model, &spec).unwrap();
    let max_len = env("SIGNAL_MAX_LEN", 256);
    let options = TrainOptions {
        full: true,
        all_tokens: env("SIGNAL_ALL_TOKENS", false),
        lr: env("SIGNAL_LR", 3e-3),
        batch: env("SIGNAL_BATCH", 8),
        max_len,
        length: Length::Steps(env("SIGNAL_STEPS", 200)),
        checkpoint_every: 0,
        ..TrainOptions::default()
    };
    let mut trainer = Trainer::load(&model, DeviceKind::Cpu, options).unwrap();
    let examples: Vec<_> = train.iter().map(|(_, e, _, _)| e.clone()).collect();
    let data = trainer.tokenize(&examples).unwrap();
    let result = trainer.run(&data, None, false, &Progress::none()).unwrap();
    let losses = &result.losses;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    println!(
        "trained {} steps in {:.0} s ({:.0} tok/s): loss first 10 {:.3}, last 10 {:.3}",
        result.steps,
        result.seconds,
        result.tokens_per_second,
        mean(&losses[..10.min(losses.len())]),
        mean(&losses[losses.len().saturating_sub(10)..])
    );
    let out = tmp.path().join("trained");
    trainer.save_full(&model, &out).unwrap();

    let generator = Generator::load(&out, None, DeviceKind::Cpu).unwrap();
    if std::env::var("SIGNAL_DECODE").as_deref() == Ok("candidates") {
        let held: Vec<&Task> = held.iter().filter_map(|(_, ex, _, _)| tasks.get(&ex.id)).collect();
        return rank_candidates(&generator, &held, answer, max_len);
    }
    let (mut exact, mut copied, mut malformed, mut shown) = (0usize, 0usize, 0usize, 0usize);
    let eval_started = Instant::now();
    for (_, ex, old, new) in &held {
        let prompt = &ex.messages[..ex.messages.len() - 1];
        let ids = generator.prompt_ids(prompt, &answer.stand_in(old), max_len).unwrap();
        let opts = GenerateOptions {
            max_new_tokens: 96,
            stop: vec!["\n".into()],
            max_len: ids.len() + 96,
            ..Default::default()
        };
        let text = generator.generate_ids(&ids, &opts).unwrap().text;
        let said = text.trim_end_matches(['\n', '\r']);
        let line = match answer {
            AnswerFormat::Edit => apply_edit(said, old),
            _ => Some(said.to_string()),
        };
        if shown < 6 {
            println!("  bugged {old:?}\n  fixed  {new:?}\n  model  {said:?}");
            shown += 1;
        }
        match line {
            Some(l) if l.trim() == new.trim() => exact += 1,
            Some(l) if l.trim() == old.trim() => copied += 1,
            Some(_) => {}
            None => malformed += 1,
        }
    }
    println!(
        "held-out exact match {exact}/{} ({:.1}%), the bugged line unchanged {copied}, malformed {malformed}; eval {:.0} s",
        held.len(),
        100.0 * exact as f64 / held.len().max(1) as f64,
        eval_started.elapsed().as_secs_f64()
    );
}

/// Every one-line-fix candidate of `repos` as (held out?, example, bugged line, fixed line): a
/// hash of its function decides the side (one in five held out).
fn generated_rows(
    repos: &[PathBuf],
    answer: AnswerFormat,
    tasks_by_id: &mut BTreeMap<String, Task>,
) -> Vec<(bool, ChatExample, String, String)> {
    let mut rows = Vec::new();
    for r in repos {
        let budget = env("SIGNAL_GENERATED", 4000);
        let config = socratic::tasks::GenerateConfig { budget, executed_lines: None, ..Default::default() };
        let (tasks, _) = socratic::tasks::generate(r, &config).unwrap();
        let Some(first) = tasks.first() else { continue };
        let handle = socratic::diff::git::Repo::open(Path::new(&first.repo)).unwrap();
        for t in &tasks {
            if let Ok(ex) = example(Some(&handle), t, answer) {
                let fix = single_line_fix(&socratic::diff::reverse(&t.bug_patch).unwrap()).unwrap();
                let key = format!("{}:{}:{}", t.repo, t.site.file, t.enclosing);
                let held = socratic::model::sha256_hex(key.as_bytes()).as_bytes()[0] % 5 == 0;
                tasks_by_id.insert(ex.id.clone(), t.clone());
                rows.push((held, ex, fix.old, fix.new));
            }
        }
    }
    rows
}

/// The candidate-ranking measurement: for each held-out task, the candidate repairs of the
/// function's lines within half a prompt window of the bugged one, each scored by the model's
/// probability of writing it; prints how often the fix ranks first against a uniform pick.
fn rank_candidates(generator: &Generator, held: &[&Task], answer: AnswerFormat, max_len: usize) {
    let started = Instant::now();
    let (mut among, mut first, mut chance, mut rr, mut n) = (0usize, 0usize, 0.0f64, 0.0f64, 0usize);
    for task in held {
        let repo = socratic::diff::git::Repo::open(Path::new(&task.repo)).unwrap();
        let Some(function) = bugged_function_view(&repo, task) else { continue };
        let fix = single_line_fix(&socratic::diff::reverse(&task.bug_patch).unwrap()).unwrap();
        let bugged = bugged_file(&repo, task).unwrap();
        let half = socratic::train::data::LINE_WINDOW as u32 / 2;
        let lines: BTreeSet<u32> = function.lines().filter(|l| l + half >= fix.line && *l <= fix.line + half).collect();
        let mut scored: Vec<(f64, u32, String)> = one_line_edits(&task.site.file, &bugged, &function.code, &lines)
            .into_iter()
            .filter_map(|c| {
                let mut m: Vec<Message> = marked_messages(task, &function, c.line, answer)?;
                m.push(Message::new("assistant", &c.answer(answer)));
                Some((generator.answer_logprob(&m, max_len).unwrap(), c.line, c.new_line))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        n += 1;
        if let Some(at) = scored.iter().position(|(_, l, t)| *l == fix.line && *t == fix.new) {
            among += 1;
            first += (at == 0) as usize;
            rr += 1.0 / (at + 1) as f64;
            chance += 1.0 / scored.len() as f64;
        }
    }
    println!(
        "candidate ranking on {n} held-out tasks: the fix among the candidates {among}, ranked first {first} ({:.1}%), \
         mean reciprocal rank {:.3}; a uniform pick: {:.1}%; {:.0} s",
        100.0 * first as f64 / n.max(1) as f64,
        rr / n.max(1) as f64,
        100.0 * chance / n.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
}
