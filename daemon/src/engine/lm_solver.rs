//! The LM Solver (`solve --solver lm`): a causal LM folder, optionally with a LoRA adapter,
//! writes the fix; we apply it to the task's checkout and grade it in the task's container as
//! every Solver is graded.
//!
//! In: the store, a home (checkouts under `<home>/solve/<label>/<solver name>/<task id>`), a
//! Docker engine, an `LmConfig` and tasks. Out: one graded `LmAttempt` per task, each stored as a
//! trace (prompt, completion, patch, grading; pass@k in its notes) with the task as an instance,
//! so distillation and `rft` see it like any other Solver's.
//!
//! The prompt is the one `socratic train` trains on (`crate::train::data`), in the same answer
//! format: `line` marks one line of the task's anchored function and the model writes that line
//! corrected; `edit` marks it too and the model writes its minimal edit, `OLD => NEW`, which
//! becomes the line and then a diff; `diff` shows the function and the model writes a unified
//! diff (or the whole function rewritten). In `line` and `edit`, the marked line is chosen by
//! fault localisation: the suite
//! runs once under coverage in the task's container, lines are ranked by Ochiai
//! (`baseline::ochiai`), and the ranking is kept to the lines of the shown function; sample `i`
//! of `--samples K` marks the `i`-th ranked line (wrapping around when the function has fewer),
//! with seed `seed + i`; its prompt is cut to `--max-len` exactly as training cut it (the answer
//! taken to be as long as the marked line). Samples are graded in order until one resolves the task (pass@k: the
//! index of that sample); duplicate answers are not graded twice. A completion that does not
//! parse into a change, or whose change leaves the Python file unparsable, is no change: graded
//! `no-patch`, never an error (and costs no container run). The attempt kept is the resolving
//! sample's, else the first sample's.
//!
//! Decoding (`--decode`): `free` generates as above; `candidates` (marked-line formats) is
//! constrained decoding: every one-line repair of the ranked lines that the mutation catalogue
//! makes (`super::lm_candidates`) is scored by the probability of the model writing it as its
//! answer to the prompt marking its line, times that line's Ochiai score (the probability that the
//! line is the faulty one, up to a constant: ties within a function are broken by the model), and
//! sample `i` is the `i`-th best; a small model then needs only to rank repairs, not to spell
//! them. The attempt records where the fix stands among the candidates (`fix_rank`) and how many
//! there were, so a uniform pick's chance is known.
//!
//! The Solver's name is `lm:<model hash 8>[+<adapter hash 8>]`, so an updated Solver's results
//! never collide with the previous one's.

use super::baseline::{self, CoverageRunner};
use super::checkout::Checkout;
use super::environment::ImageOptions;
use super::grade;
use super::lm_candidates::{self, CandidateEdit};
use super::progress::Progress;
use super::solve::{attempt_trace, task_env, task_instance, wind_down, Attempt};
use crate::diff::git::Repo;
use crate::diff::Patch;
use crate::model::{Environment, EvalReport, Event, Outcome, Record, Task};
use crate::sandbox::worker::Worker;
use crate::sandbox::{Engine, Limits};
use crate::score::{DeviceKind, GenerateOptions, Generator};
use crate::store::Store;
use crate::train::data::{self, AnswerFormat, FunctionView};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How the LM Solver turns the model into answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decode {
    /// The model writes each answer token by token (greedy, or sampled).
    #[default]
    Free,
    /// The model ranks candidate one-line repairs of the fault-localised lines by the
    /// probability of writing each (marked-line answer formats only).
    Candidates,
}

impl Decode {
    pub fn as_str(self) -> &'static str {
        match self {
            Decode::Free => "free",
            Decode::Candidates => "candidates",
        }
    }
}

impl std::str::FromStr for Decode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "free" => Ok(Decode::Free),
            "candidates" => Ok(Decode::Candidates),
            other => Err(format!("unknown decoding '{other}' (free or candidates)")),
        }
    }
}

/// What the LM Solver runs and how it samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LmConfig {
    /// Results are kept under this name (`solver_name`; `name_of` computes it from the files).
    pub name: String,
    pub model: PathBuf,
    pub adapter: Option<PathBuf>,
    pub answer: AnswerFormat,
    pub decode: Decode,
    /// Samples per task at most (pass@k).
    pub samples: usize,
    /// 0: greedy.
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
    /// Prompt + answer tokens at most (the prompt keeps its end), as `train --max-len`.
    pub max_len: usize,
    pub seed: u64,
    #[serde(serialize_with = "device_name")]
    pub device: DeviceKind,
}

fn device_name<S: serde::Serializer>(d: &DeviceKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.as_str())
}

impl Default for LmConfig {
    fn default() -> Self {
        LmConfig {
            name: String::new(),
            model: PathBuf::new(),
            adapter: None,
            answer: AnswerFormat::default(),
            decode: Decode::default(),
            samples: 1,
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens: 256,
            max_len: crate::score::DEFAULT_MAX_LEN,
            seed: 0,
            device: DeviceKind::Cpu,
        }
    }
}

/// One task's attempt by the LM Solver.
#[derive(Debug, Clone, Serialize)]
pub struct LmAttempt {
    pub task_id: String,
    pub resolved: bool,
    /// The 0-based sample that resolved the task (pass@k with k = this + 1).
    pub resolved_sample: Option<usize>,
    /// Samples generated.
    pub samples: usize,
    pub report: EvalReport,
    /// The kept sample's diff against the bugged tree (empty: no patch).
    pub patch: String,
    /// The kept sample's prompt and completion.
    pub prompt: String,
    pub completion: String,
    pub trace_id: String,
    pub duration_ms: u64,
    /// Why no sample could be made (no failing test to localise from, ...).
    pub note: Option<String>,
    /// Marked-line formats: the 1-based rank of the line a one-line fix replaces in the fault
    /// localisation ranking (`fix_rank`; `None`: not ranked, or no such fix). Only samples that
    /// mark it can make the fix, so rank 1 bounds pass@1.
    /// With `--decode candidates`: the rank of the fix among the scored candidates instead
    /// (`None`: not among them, so no sample could make it).
    pub fix_rank: Option<usize>,
    /// With `--decode candidates`: how many candidates were scored (a uniform pick resolves
    /// the task with chance 1/this when the fix is among them).
    pub candidates: Option<usize>,
}

/// `lm:<model hash 8>[+<adapter hash 8>]`.
pub fn solver_name(model_hash: &str, adapter_hash: Option<&str>) -> String {
    let short = |h: &str| h.chars().take(8).collect::<String>();
    match adapter_hash {
        Some(a) => format!("lm:{}+{}", short(model_hash), short(a)),
        None => format!("lm:{}", short(model_hash)),
    }
}

/// The Solver name of a model folder and adapter folder, from their files' hashes (the same
/// hashes `Generator::load` computes).
pub fn name_of(model: &Path, adapter: Option<&Path>) -> anyhow::Result<String> {
    let model_hash = crate::score::files_hash(model)?;
    let adapter_hash = match adapter {
        None => None,
        Some(dir) => {
            let read = |name: &str| {
                std::fs::read(dir.join(name)).map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(name).display()))
            };
            let (json, weights) = (read(crate::train::peft::CONFIG_FILE)?, read(crate::train::peft::WEIGHTS_FILE)?);
            Some(crate::train::peft::hash(&json, &weights))
        }
    };
    Ok(solver_name(&model_hash, adapter_hash.as_deref()))
}

/// Check the settings; errors name the flag.
pub fn check(cfg: &LmConfig) -> anyhow::Result<()> {
    if cfg.samples == 0 {
        anyhow::bail!("--samples must be at least 1");
    }
    if !(cfg.temperature >= 0.0 && cfg.temperature.is_finite()) {
        anyhow::bail!("--temperature {} must be 0 (greedy) or positive", cfg.temperature);
    }
    if !(cfg.top_p > 0.0 && cfg.top_p <= 1.0) {
        anyhow::bail!("--top-p {} must be in (0, 1]", cfg.top_p);
    }
    if cfg.max_new_tokens == 0 {
        anyhow::bail!("--max-new-tokens must be at least 1");
    }
    if cfg.max_len <= cfg.max_new_tokens {
        anyhow::bail!("--max-len {} must exceed --max-new-tokens {}", cfg.max_len, cfg.max_new_tokens);
    }
    if cfg.decode == Decode::Candidates && !cfg.answer.marks_line() {
        anyhow::bail!("--decode candidates needs a marked-line answer format (--answer edit or line)");
    }
    Ok(())
}

/// Attempt `tasks` (checkouts under `<home>/solve/lm-eval/`), environments as stored or built
/// with default image options. Nothing is stored but traces and instances.
pub async fn attempt_tasks(
    store: &mut Store,
    home: &Path,
    engine: &Engine,
    cfg: &LmConfig,
    tasks: &[Task],
    progress: &Progress,
) -> anyhow::Result<Vec<LmAttempt>> {
    attempt_tasks_in(store, home, engine, cfg, tasks, progress, &ImageOptions::default(), "lm-eval", &mut |_, _| Ok(()))
        .await
}

/// `attempt_tasks` with the image options, the checkouts' folder label, and `each` called with
/// every attempt as soon as it is graded and stored (the round path saves its result there).
#[allow(clippy::too_many_arguments)]
pub async fn attempt_tasks_in(
    store: &mut Store,
    home: &Path,
    engine: &Engine,
    cfg: &LmConfig,
    tasks: &[Task],
    progress: &Progress,
    image: &ImageOptions,
    label: &str,
    each: &mut (dyn FnMut(&mut Store, &LmAttempt) -> anyhow::Result<()> + Send),
) -> anyhow::Result<Vec<LmAttempt>> {
    check(cfg)?;
    let mut cfg = cfg.clone();
    let generator = Generator::load(&cfg.model, cfg.adapter.as_deref(), cfg.device)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cfg.model.display()))?;
    if generator.random_weights() {
        progress.message(format!(
            "{} has random weights: its answers show the mechanics, not a Solver's skill",
            cfg.model.display()
        ));
    }
    if cfg.name.is_empty() {
        cfg.name = solver_name(generator.base_hash(), generator.adapter_hash());
    }
    let mut by_commit: BTreeMap<(String, String), Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        by_commit.entry((t.repo.clone(), t.base_commit.clone())).or_default().push(t);
    }
    let mut out = Vec::new();
    for ((repo, base_commit), group) in by_commit {
        let env = task_env(store, engine, &repo, &base_commit, image, progress).await?;
        let mut worker = Worker::start(engine, &env.image, &Limits::default(), &env.run_env()).await?;
        let coverage = match cfg.answer {
            AnswerFormat::Line | AnswerFormat::Edit => match CoverageRunner::start(engine, &env).await {
                Ok(c) => Some(c),
                Err(e) => {
                    let _ = worker.shutdown().await;
                    return Err(e);
                }
            },
            AnswerFormat::Diff => None,
        };
        let mut counter = progress.start(cfg.name.clone(), group.len() as u64);
        let mut failure = None;
        for task in group {
            let folder = home.join("solve").join(label).join(&cfg.name).join(&task.id);
            let tools = Tools { generator: &generator, coverage: coverage.as_ref(), env: &env };
            match attempt_one(store, &mut worker, &tools, &cfg, task, &folder, label).await {
                Ok(a) => {
                    if let Err(e) = each(store, &a) {
                        failure = Some(e);
                        break;
                    }
                    out.push(a);
                }
                Err(e) => {
                    failure = Some(e.context(format!("solving {}", task.id)));
                    break;
                }
            }
            counter.advance(None);
        }
        wind_down(counter, coverage, worker, failure).await?;
    }
    Ok(out)
}

struct Tools<'a> {
    generator: &'a Generator,
    coverage: Option<&'a CoverageRunner>,
    env: &'a Environment,
}

/// One sample's prompt, completion and the file text it makes (`None`: unparsable).
struct Sample {
    /// The chat the model saw (system and user turns), rendered into `prompt`.
    messages: Vec<data::Message>,
    prompt: String,
    completion: String,
    new_text: Option<String>,
}

/// A graded sample.
struct Graded {
    index: usize,
    messages: Vec<data::Message>,
    prompt: String,
    completion: String,
    diff: String,
    report: EvalReport,
}

async fn attempt_one(
    store: &mut Store,
    worker: &mut Worker,
    tools: &Tools<'_>,
    cfg: &LmConfig,
    task: &Task,
    folder: &Path,
    label: &str,
) -> anyhow::Result<LmAttempt> {
    let started = Instant::now();
    let checkout = Checkout::create(task, &folder.join("repo"))?;
    let function = Repo::open(Path::new(&task.repo)).ok().and_then(|r| data::bugged_function_view(&r, task));
    let mut events = Vec::new();
    let (ranked, mut note) = match cfg.answer {
        AnswerFormat::Line | AnswerFormat::Edit => {
            ranked_lines(&checkout, tools, task, function.as_ref(), &mut events).await?
        }
        AnswerFormat::Diff => (vec![], None),
    };
    let marks: Vec<Option<u32>> = match cfg.answer {
        AnswerFormat::Diff => vec![None],
        _ => ranked.iter().map(|&(l, _)| Some(l)).collect(),
    };
    let origin = format!("solve:{}:{label}:{}", cfg.name, task.id);
    let file_text = checkout.read(&task.site.file).unwrap_or_default();
    let candidates = match (cfg.decode, function.as_ref()) {
        (Decode::Candidates, Some(f)) if !ranked.is_empty() => {
            let scored = scored_candidates(tools.generator, cfg, task, f, &file_text, &ranked)?;
            events.push(Event::Message { role: "assistant".into(), text: candidates_summary(&scored) });
            if scored.is_empty() {
                note = Some("no candidate repair of the ranked lines".into());
            }
            Some(scored)
        }
        _ => None,
    };
    let mut graded: Vec<Graded> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut resolved_sample = None;
    let samples = match &candidates {
        Some(c) => cfg.samples.min(c.len()),
        None if marks.is_empty() => 0,
        None => cfg.samples,
    };
    for i in 0..samples {
        let sample = match (&candidates, function.as_ref()) {
            (Some(c), Some(f)) => candidate_sample(tools.generator, cfg, task, f, &file_text, &c[i])?,
            _ => sample(tools.generator, cfg, task, function.as_ref(), &file_text, marks[i % marks.len()], i)?,
        };
        events.push(Event::Message { role: "user".into(), text: sample.prompt.clone() });
        events.push(Event::Message { role: "assistant".into(), text: sample.completion.clone() });
        let (diff, combined) = match &sample.new_text {
            Some(text) => {
                checkout.write(&task.site.file, text)?;
                let d = checkout.solver_diff()?;
                let c = checkout.combined_patch(&d)?;
                checkout.write(&task.site.file, &file_text)?;
                (d, c)
            }
            None => (String::new(), String::new()),
        };
        let report = match seen.get(&diff) {
            Some(&j) => graded[j].report.clone(),
            None => {
                let (report, _) = grade::grade(worker, tools.env, task, &diff, &combined, &origin).await?;
                seen.insert(diff.clone(), graded.len());
                report
            }
        };
        events.push(Event::TestRun {
            command: format!("grade sample {i}"),
            exit_code: Some(if report.outcome == Outcome::Resolved { 0 } else { 1 }),
            statuses: BTreeMap::new(),
            output: format!(
                "{}{}",
                report.outcome.as_str(),
                if sample.new_text.is_none() { " (the completion is no change, or does not parse)" } else { "" }
            ),
        });
        let resolved = report.outcome == Outcome::Resolved;
        graded.push(Graded {
            index: i,
            messages: sample.messages,
            prompt: sample.prompt,
            completion: sample.completion,
            diff,
            report,
        });
        if resolved {
            resolved_sample = Some(i);
            break;
        }
    }
    let kept = match resolved_sample {
        Some(i) => graded.iter().find(|g| g.index == i),
        None => graded.first(),
    };
    let (prompt, completion, diff, report) = match kept {
        Some(g) => (g.prompt.clone(), g.completion.clone(), g.diff.clone(), g.report.clone()),
        None => {
            let (report, _) = grade::grade(worker, tools.env, task, "", "", &origin).await?;
            (String::new(), String::new(), String::new(), report)
        }
    };
    // The conversation as the model saw it, with its answer: what `train --method rft` trains
    // on, in the same answer format.
    let conversation = kept.map(|g| conversation(&g.messages, &g.completion, cfg.answer)).unwrap_or_default();
    if !diff.is_empty() {
        events.push(Event::Edit { path: Some(task.site.file.clone()), diff: diff.clone() });
    }
    let pass = match resolved_sample {
        Some(i) => format!("resolved by sample {i} of {} (pass@{})", graded.len(), i + 1),
        None => format!("not resolved in {} samples", graded.len()),
    };
    let ranked: Vec<u32> = ranked.iter().map(|&(l, _)| l).collect();
    let localisation = match &candidates {
        Some(c) => candidate_rank(task, c),
        None if ranked.is_empty() => None,
        None => fix_rank(task, &ranked),
    };
    let (what, of) = match &candidates {
        Some(c) => ("the fix", c.len()),
        None => ("fixed line", ranked.len()),
    };
    let pass = match localisation {
        Some((line, Some(r))) => format!("{pass}; {what} (line {line}) ranked {r} of {of}"),
        Some((line, None)) => format!("{pass}; {what} (line {line}) not ranked (of {of})"),
        None => pass,
    };
    events.push(Event::Submit { note: Some(note.clone().map_or(pass.clone(), |n| format!("{pass}; {n}"))) });
    let attempt = Attempt { events, imported: None, error: None };
    let mut trace = attempt_trace(task, &cfg.name, attempt, &diff, report.label(), &origin);
    trace.messages = conversation;
    store.insert_records(&[Record::Instance(task_instance(task, tools.env)), Record::Trace(trace.clone())])?;
    Ok(LmAttempt {
        task_id: task.id.clone(),
        resolved: report.outcome == Outcome::Resolved,
        resolved_sample,
        samples: graded.len(),
        report,
        patch: diff,
        prompt,
        completion,
        trace_id: trace.id,
        duration_ms: started.elapsed().as_millis() as u64,
        note,
        fix_rank: localisation.and_then(|(_, r)| r),
        candidates: candidates.map(|c| c.len()),
    })
}

/// The lines marked-line samples mark, best first, with their Ochiai scores: the ranking of the
/// bugged run kept to the shown function's lines. Empty (with the reason) when there is nothing
/// to mark.
async fn ranked_lines(
    checkout: &Checkout,
    tools: &Tools<'_>,
    task: &Task,
    function: Option<&FunctionView>,
    events: &mut Vec<Event>,
) -> anyhow::Result<(Vec<(u32, f64)>, Option<String>)> {
    let Some(function) = function else {
        return Ok((vec![], Some("the anchored function cannot be read from the bugged tree".into())));
    };
    let coverage =
        tools.coverage.ok_or_else(|| anyhow::anyhow!("the line answer format needs a coverage container"))?;
    let spectrum = coverage.spectrum(&checkout.combined_patch("")?).await?;
    events.push(Event::TestRun {
        command: "python3 -m pytest --cov=. --cov-context=test".into(),
        exit_code: Some(if spectrum.failing.is_empty() { 0 } else { 1 }),
        statuses: spectrum.results.iter().map(|(t, r)| (t.clone(), r.status)).collect(),
        output: format!("{} failing of {}", spectrum.failing.len(), spectrum.results.len()),
    });
    if spectrum.failing.is_empty() {
        return Ok((vec![], Some("no failing test to localise from".into())));
    }
    let suspects = baseline::ochiai(&spectrum.coverage, &spectrum.failing);
    let ranked: Vec<(u32, f64)> =
        rank_in_function(&suspects, &task.site.file, function).into_iter().map(|s| (s.line, s.score)).collect();
    if ranked.is_empty() {
        return Ok((vec![], Some(format!("no line of `{}` is executed by a failing test", task.enclosing))));
    }
    events.push(Event::Message {
        role: "assistant".into(),
        text: format!(
            "lines to mark (Ochiai, in `{}`): {}",
            task.enclosing,
            ranked.iter().take(10).map(|(l, _)| l.to_string()).collect::<Vec<_>>().join(", ")
        ),
    });
    Ok((ranked, None))
}

/// A candidate repair and its score: ln P(the model writes it | the prompt marking its line)
/// plus ln(its line's Ochiai score).
#[derive(Debug, Clone)]
struct Scored {
    candidate: CandidateEdit,
    score: f64,
}

/// The catalogue's one-line repairs of the ranked lines, best first (ties: line, then text).
fn scored_candidates(
    generator: &Generator,
    cfg: &LmConfig,
    task: &Task,
    function: &FunctionView,
    file_text: &str,
    ranked: &[(u32, f64)],
) -> anyhow::Result<Vec<Scored>> {
    let lines: BTreeSet<u32> = ranked.iter().map(|&(l, _)| l).collect();
    let mut out = Vec::new();
    for candidate in lm_candidates::one_line_edits(&task.site.file, file_text, &function.code, &lines) {
        let Some(mut messages) = data::marked_messages(task, function, candidate.line, cfg.answer) else { continue };
        messages.push(data::Message::new("assistant", &candidate.answer(cfg.answer)));
        let logprob = generator.answer_logprob(&messages, cfg.max_len).map_err(|e| anyhow::anyhow!("scoring: {e}"))?;
        let ochiai = ranked.iter().find(|&&(l, _)| l == candidate.line).map_or(0.0, |&(_, s)| s);
        out.push(Scored { score: logprob + ochiai.max(1e-6).ln(), candidate });
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.candidate.line.cmp(&b.candidate.line))
            .then(a.candidate.new_line.cmp(&b.candidate.new_line))
    });
    Ok(out)
}

/// The trace's note of the scored candidates: how many, and the best few.
fn candidates_summary(scored: &[Scored]) -> String {
    let best: Vec<String> = scored
        .iter()
        .take(5)
        .map(|s| format!("line {}: {} ({:.2})", s.candidate.line, s.candidate.edit.answer().trim_end(), s.score))
        .collect();
    format!("{} candidate repairs scored; best: {}", scored.len(), best.join("; "))
}

/// The sample a candidate makes: the prompt marking its line, its answer as the completion,
/// applied as a free answer would be.
fn candidate_sample(
    generator: &Generator,
    cfg: &LmConfig,
    task: &Task,
    function: &FunctionView,
    file_text: &str,
    scored: &Scored,
) -> anyhow::Result<Sample> {
    let c = &scored.candidate;
    let messages = data::marked_messages(task, function, c.line, cfg.answer)
        .ok_or_else(|| anyhow::anyhow!("line {} is outside `{}`", c.line, task.enclosing))?;
    let prompt = generator.prompt_of(&messages).map_err(|e| anyhow::anyhow!("{e}"))?;
    let completion = c.answer(cfg.answer).trim_end_matches('\n').to_string();
    let new_text = answered_file(task, cfg.answer, &completion, file_text, Some(c.line), Some(function));
    Ok(Sample { messages, prompt, completion, new_text })
}

/// Where the fix stands among the scored candidates: the line it replaces and its 1-based rank
/// (`None`: no candidate makes it). `None` for a fix that is not a one-line replacement.
fn candidate_rank(task: &Task, scored: &[Scored]) -> Option<(u32, Option<usize>)> {
    let fix = data::single_line_fix(&crate::diff::reverse(&task.bug_patch).ok()?).ok()?;
    let at = scored.iter().position(|s| s.candidate.line == fix.line && s.candidate.new_line == fix.new);
    Some((fix.line, at.map(|r| r + 1)))
}

/// Where the line a one-line fix replaces stands in the ranking (what caps a marked-line
/// Solver: only a sample that marks it can be the fix): that line and its 1-based rank (`None`:
/// not ranked). `None` for a fix that is not a one-line replacement.
pub fn fix_rank(task: &Task, ranked: &[u32]) -> Option<(u32, Option<usize>)> {
    let fix = data::single_line_fix(&crate::diff::reverse(&task.bug_patch).ok()?).ok()?;
    Some((fix.line, ranked.iter().position(|&l| l == fix.line).map(|r| r + 1)))
}

/// The suspects of `file` inside the function (blank lines never; each line once), best first.
pub fn rank_in_function<'a>(
    suspects: &'a [baseline::Suspect],
    file: &str,
    function: &FunctionView,
) -> Vec<&'a baseline::Suspect> {
    let span = function.lines();
    let mut out: Vec<&baseline::Suspect> = Vec::new();
    for s in suspects {
        let blank = function.line(s.line).is_none_or(|l| l.trim().is_empty());
        if s.file == file && span.contains(&s.line) && !blank && !out.iter().any(|o| o.line == s.line) {
            out.push(s);
        }
    }
    out
}

/// The chat turns of a sample and the model's answer, as a trace keeps them: a `line` answer
/// ends with the newline its generation stopped at, as `line` training targets do.
fn conversation(messages: &[data::Message], completion: &str, answer: AnswerFormat) -> Vec<crate::model::ChatTurn> {
    let turns = messages.iter().map(|m| crate::model::ChatTurn { role: m.role.clone(), content: m.content.clone() });
    let content = match answer {
        AnswerFormat::Line | AnswerFormat::Edit if !completion.ends_with('\n') => format!("{completion}\n"),
        _ => completion.to_string(),
    };
    let answer = crate::model::ChatTurn { role: "assistant".into(), content };
    turns.chain(std::iter::once(answer)).collect()
}

/// Generate sample `i` and turn its completion into the file's new text.
fn sample(
    generator: &Generator,
    cfg: &LmConfig,
    task: &Task,
    function: Option<&FunctionView>,
    file_text: &str,
    mark: Option<u32>,
    i: usize,
) -> anyhow::Result<Sample> {
    let messages = match (cfg.answer, mark, function) {
        (answer, Some(line), Some(f)) if answer.marks_line() => data::marked_messages(task, f, line, answer)
            .ok_or_else(|| anyhow::anyhow!("line {line} is outside `{}`", task.enclosing))?,
        _ => {
            let fix = crate::diff::reverse(&task.bug_patch).unwrap_or_default();
            data::diff_messages(task, &fix, function.map(|f| f.code.as_str()))
        }
    };
    let prompt = generator.prompt_of(&messages).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A `line` prompt is cut as training cut it: its answer is about the marked line's length.
    let stand_in = match (cfg.answer, mark, function) {
        (answer, Some(line), Some(f)) if answer.marks_line() => f.line(line).map(|l| answer.stand_in(l)),
        _ => None,
    };
    let (ids, max_len) = match stand_in {
        Some(s) => {
            let ids = generator.prompt_ids(&messages, &s, cfg.max_len).map_err(|e| anyhow::anyhow!("{e}"))?;
            let room = ids.len() + cfg.max_new_tokens;
            (ids, room)
        }
        None => (generator.encode(&prompt).map_err(|e| anyhow::anyhow!("{e}"))?, cfg.max_len),
    };
    let opts = GenerateOptions {
        max_new_tokens: cfg.max_new_tokens,
        temperature: cfg.temperature,
        top_p: cfg.top_p,
        seed: cfg.seed.wrapping_add(i as u64),
        stop: match cfg.answer {
            AnswerFormat::Line | AnswerFormat::Edit => vec!["\n".into()],
            AnswerFormat::Diff => vec![],
        },
        max_len,
    };
    let generation = generator.generate_ids(&ids, &opts).map_err(|e| anyhow::anyhow!("generating: {e}"))?;
    let completion = generation.text;
    let new_text = answered_file(task, cfg.answer, &completion, file_text, mark, function);
    Ok(Sample { messages, prompt, completion, new_text })
}

/// The file an answer makes (`mark`: the line a `line` or `edit` answer changes), kept only when
/// it changes the file and, for a Python file, still parses; else `None`, no change.
fn answered_file(
    task: &Task,
    answer: AnswerFormat,
    completion: &str,
    file_text: &str,
    mark: Option<u32>,
    function: Option<&FunctionView>,
) -> Option<String> {
    let new_text = match (answer, mark) {
        (AnswerFormat::Line, Some(line)) => line_answer(completion, file_text, line),
        (AnswerFormat::Edit, Some(line)) => edit_answer(completion, file_text, line),
        _ => diff_answer(completion, file_text, &task.site.file, function),
    };
    let python = task.site.file.ends_with(".py");
    new_text.filter(|t| t != file_text && (!python || baseline::parses(t)))
}

/// The file with 1-based line `line` replaced by the answer's line. The answer is its first
/// non-blank line outside code fences, a copied `>>> ` marker dropped; written without
/// indentation, it takes the old line's. `None` when there is no such line.
pub fn line_answer(completion: &str, file_text: &str, line: u32) -> Option<String> {
    let answer = completion
        .lines()
        .map(|l| l.strip_prefix(">>> ").unwrap_or(l).trim_end())
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with("```"))?;
    let lines: Vec<&str> = file_text.split_inclusive('\n').collect();
    let old = lines.get(line.checked_sub(1)? as usize)?;
    let (body, end) = match old.strip_suffix('\n') {
        Some(b) => (b.strip_suffix('\r').unwrap_or(b), &old[b.len()..]),
        None => (*old, ""),
    };
    let indent = &body[..body.len() - body.trim_start().len()];
    let new_line = if answer.starts_with([' ', '\t']) { answer.to_string() } else { format!("{indent}{answer}") };
    let mut out = String::with_capacity(file_text.len() + new_line.len());
    for (i, l) in lines.iter().enumerate() {
        if i + 1 == line as usize {
            out.push_str(&new_line);
            out.push_str(end);
        } else {
            out.push_str(l);
        }
    }
    Some(out)
}

/// The file with 1-based line `line` changed by an `edit` answer (`OLD => NEW` on its first
/// line, `crate::train::data::LineEdit`). `None` when the answer is malformed (no separator, or
/// OLD does not occur exactly once in the line) or the line is not in the file.
pub fn edit_answer(completion: &str, file_text: &str, line: u32) -> Option<String> {
    let old = file_text.lines().nth(line.checked_sub(1)? as usize)?;
    let old = old.strip_suffix('\r').unwrap_or(old);
    let new = data::apply_edit(completion, old)?;
    if new.trim().is_empty() {
        return None;
    }
    line_answer(&new, file_text, line)
}

/// The file changed by a `diff` answer: a unified diff of `file` (fenced or not) applied to
/// it, or the anchored function rewritten whole (a code block holding its `def`). `None` when
/// the completion is neither.
pub fn diff_answer(completion: &str, file_text: &str, file: &str, function: Option<&FunctionView>) -> Option<String> {
    let body = fenced(completion).unwrap_or(completion);
    if body.lines().any(|l| l.starts_with("@@")) {
        let patch = Patch::parse(body).ok()?;
        let fp = patch.files.iter().find(|f| f.old_path().as_deref() == Some(file))?;
        return fp.apply(file_text).ok();
    }
    let function = function?;
    let name = function.code.lines().next()?.split('(').next()?.trim();
    if !body.lines().any(|l| l.trim_start().starts_with(name)) {
        return None;
    }
    let at = file_text.find(&function.code)?;
    let mut out = file_text[..at].to_string();
    out.push_str(body.trim_end_matches('\n'));
    out.push_str(&file_text[at + function.code.len()..]);
    Some(out)
}

/// The body of the first fenced code block.
fn fenced(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    let end = body.find("\n```").map_or(body.len(), |e| e + 1);
    Some(&body[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_answer_replaces_the_marked_line_keeping_its_indentation() {
        let file = "def f(a, b):\n    if a <= b:\n        return 1\n    return 0\n";
        let want = "def f(a, b):\n    if a < b:\n        return 1\n    return 0\n";
        assert_eq!(line_answer("    if a < b:", file, 2).as_deref(), Some(want));
        assert_eq!(line_answer("if a < b:\nmore", file, 2).as_deref(), Some(want), "indentation restored");
        assert_eq!(line_answer("```python\n>>>     if a < b:\n```", file, 2).as_deref(), Some(want));
        assert_eq!(line_answer("   \n", file, 2), None, "blank");
        assert_eq!(line_answer("x", file, 9), None, "outside the file");
    }

    #[test]
    fn an_edit_example_answers_with_the_minimal_edit_and_its_answer_makes_the_same_fix() {
        let t = crate::export::tests::export_task("t-abc");
        let bugged = "def f(a, b):\n    return a <= b\n";
        let function = FunctionView { code: "def f(a, b):\n    return a <= b".into(), start_line: 1 };
        let row = data::example(&t.task, &t.fix, Some(&function), AnswerFormat::Edit).unwrap();
        assert_eq!(row.messages[0].content, data::SYSTEM_EDIT);
        let user = &row.messages[1].content;
        assert!(user.contains(">>>     return a <= b") && user.ends_with("It now reads:\n    return a <= b"), "{user}");
        assert!(!user.contains("a < b"), "the fix is not in the prompt: {user}");
        assert_eq!(row.messages[2].content, "<= => <\n");
        // Solving builds the same turns for the same marked line.
        assert_eq!(data::edit_messages(&t.task, &function, 2).unwrap(), row.messages[..2].to_vec());
        // The answer, as the model would write it (no newline: generation stops at it), makes
        // the file the fix makes.
        let fixed = crate::diff::Patch::parse(&t.fix).unwrap().files[0].apply(bugged).unwrap();
        let answer = row.messages[2].content.trim_end();
        assert_eq!(edit_answer(answer, bugged, 2).as_deref(), Some(fixed.as_str()));
        assert_eq!(conversation(&row.messages[..2], answer, AnswerFormat::Edit)[2].content, row.messages[2].content);
    }

    #[test]
    fn a_malformed_edit_answer_is_no_change() {
        let file = "def f(a, b):\n    return a <= b or a <= 0\n";
        let want = "def f(a, b):\n    return a <= b or a < 0\n";
        assert_eq!(edit_answer("a <= 0 => a < 0", file, 2).as_deref(), Some(want));
        assert_eq!(edit_answer("a <= 0 => a < 0\nmore text", file, 2).as_deref(), Some(want), "first line only");
        for bad in ["", "<= <", "<= => <", "x => y", " => <", "return a <= b"] {
            assert_eq!(edit_answer(bad, file, 2), None, "{bad:?}: no separator, absent or ambiguous OLD");
        }
        assert_eq!(edit_answer("a <= 0 => a < 0", file, 9), None, "outside the file");
        assert_eq!(edit_answer("return a <= b or a <= 0 =>  ", file, 2), None, "a blank line is no change");
    }

    #[test]
    fn a_diff_answer_is_a_patch_or_the_function_rewritten() {
        let file = "import os\n\ndef f(a, b):\n    return a <= b\n";
        let function = FunctionView { code: "def f(a, b):\n    return a <= b".into(), start_line: 3 };
        let want = "import os\n\ndef f(a, b):\n    return a < b\n";
        let patch = "--- a/m.py\n+++ b/m.py\n@@ -3,2 +3,2 @@\n def f(a, b):\n-    return a <= b\n+    return a < b\n";
        assert_eq!(diff_answer(patch, file, "m.py", Some(&function)).as_deref(), Some(want));
        let fenced_patch = format!("Here:\n```diff\n{patch}```\n");
        assert_eq!(diff_answer(&fenced_patch, file, "m.py", Some(&function)).as_deref(), Some(want));
        let rewritten = "```python\ndef f(a, b):\n    return a < b\n```";
        assert_eq!(diff_answer(rewritten, file, "m.py", Some(&function)).as_deref(), Some(want));
        assert_eq!(diff_answer("no idea", file, "m.py", Some(&function)), None);
        assert_eq!(diff_answer("@@ garbage", file, "m.py", Some(&function)), None);
    }

    #[test]
    fn ranking_keeps_the_function_lines_in_order() {
        let function = FunctionView { code: "def f():\n\n    x = 1\n    return x".into(), start_line: 10 };
        let s = |file: &str, line: u32| baseline::Suspect { file: file.into(), line, score: 1.0, tests: vec![] };
        let suspects = [s("m.py", 3), s("m.py", 13), s("o.py", 12), s("m.py", 11), s("m.py", 12)];
        let ranked: Vec<u32> = rank_in_function(&suspects, "m.py", &function).iter().map(|s| s.line).collect();
        assert_eq!(ranked, vec![13, 12], "blank line 11 and other files left out");
    }

    #[test]
    fn names_carry_both_hashes() {
        assert_eq!(solver_name("0123456789abcdef", None), "lm:01234567");
        assert_eq!(solver_name("0123456789abcdef", Some("fedcba9876543210")), "lm:01234567+fedcba98");
    }
}
