//! `socratic bench store`: the store at scale.
//!
//! In: a task count (default 1,000,000). Out: the figures the store is held to, measured on a
//! scratch home: `tasks show ID` (the store lookups in-process, and the whole command as a
//! process), `curriculum list` of a round that kept 100 tasks, language-server diagnostics after
//! `didOpen` of a file with 200 tasks, the insert rate, and the store file size per task.
//!
//! The store holds the example repository's real generated tasks (one of its files padded to
//! 200 tasks) plus generated rows spread over 100 repositories, 2,000 files, 50 rounds, every
//! stage and a few decisions, so each query has to find its few rows among all of them.

use super::bench::{percentiles, Percentiles};
use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::model::{Decision, Task, TaskStage};
use crate::store::{Store, TaskQuery};
use crate::tasks::{generate, GenerateConfig};
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct StoreBenchArgs {
    /// Tasks in the store.
    #[arg(long, default_value_t = 1_000_000)]
    pub tasks: usize,
    /// Lookups timed per figure.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    #[arg(long)]
    pub json: bool,
}

/// One figure with its target.
#[derive(Debug, Serialize)]
pub struct Figure {
    pub name: &'static str,
    pub latency: Percentiles,
    /// The p99 target, milliseconds.
    pub target_p99_ms: f64,
    pub met: bool,
}

#[derive(Debug, Serialize)]
pub struct StoreBench {
    pub tasks: usize,
    pub insert_seconds: f64,
    pub inserts_per_second: f64,
    pub store_bytes: u64,
    pub bytes_per_task: f64,
    pub figures: Vec<Figure>,
    /// `socratic tasks show ID` as a whole process (start, open, lookup, print), milliseconds.
    pub tasks_show_process_ms: f64,
    /// The file the language-server figure opened, and its task count.
    pub lsp_file: String,
    pub lsp_file_tasks: usize,
}

const FILE_TASKS: usize = 200;
const KEPT: usize = 100;
const BATCH: usize = 20_000;

pub fn run(args: StoreBenchArgs) -> anyhow::Result<i32> {
    let home = std::env::temp_dir().join(format!("socratic-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home)?;
    let result = measure(&home, &args);
    let _ = std::fs::remove_dir_all(&home);
    let bench = result?;
    if args.json {
        print_json(&bench)?;
    } else {
        print!("{}", text(&bench));
    }
    Ok(if bench.figures.iter().all(|f| f.met) { EXIT_OK } else { EXIT_FAILED })
}

fn measure(home: &Path, args: &StoreBenchArgs) -> anyhow::Result<StoreBench> {
    let repo = home.join("tallyho");
    crate::examples::write_example_repo(&repo).map_err(anyhow::Error::msg)?;
    let (real, lsp_file) = real_tasks(&repo)?;
    let mut store = Store::open(home)?;
    let started = Instant::now();
    store.insert_tasks(&real)?;
    let filler = args.tasks.saturating_sub(real.len());
    let mut i = 0;
    while i < filler {
        let batch: Vec<Task> = (i..(i + BATCH).min(filler)).map(|n| synthetic(&real[n % real.len()], n)).collect();
        store.insert_tasks(&batch)?;
        i += batch.len();
    }
    let insert_seconds = started.elapsed().as_secs_f64();
    let tasks = store.count_tasks(&TaskQuery::default())?;
    let kept: Vec<String> = store
        .tasks_where(&TaskQuery { round: Some(7), limit: Some(KEPT), ..TaskQuery::valid() })?
        .into_iter()
        .map(|t| t.id)
        .collect();
    store.save_round(&kept_round(&repo, kept))?;
    drop(store);
    let store_bytes = file_size(&home.join("socratic.db")) + file_size(&home.join("socratic.db-wal"));

    let ids = sample_ids(filler, args.samples);
    anyhow::ensure!(!ids.is_empty(), "no filler rows to sample (--tasks is below the real tasks)");
    let show = time_each(&ids, |id| {
        let store = Store::open(home)?;
        let task = store.task(&id[..12])?.ok_or_else(|| anyhow::anyhow!("no task {id}"))?;
        store.verdict(&task.id)?;
        Ok(())
    })?;
    let tasks_show_process_ms = show_process(home, &ids[0])?;
    let store = Store::open(home)?;
    let round = store.round(7)?.ok_or_else(|| anyhow::anyhow!("round 7 is missing"))?;
    let curriculum = time_each(&ids, |_| {
        let entries = crate::engine::curriculum::load(&store, &round)?;
        anyhow::ensure!(entries.len() >= round.kept.len(), "curriculum of {} tasks", entries.len());
        Ok(())
    })?;
    drop(store);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let lsp = rt.block_on(crate::lsp::bench::run(&repo, home, args.samples, 0))?;
    anyhow::ensure!(
        lsp.file_tasks == FILE_TASKS,
        "the language server opened {} with {} tasks, not a {FILE_TASKS}-task file like {lsp_file}",
        lsp.file,
        lsp.file_tasks
    );
    let lsp_file = lsp.file.clone();
    let open: Vec<Duration> = lsp.open_to_diagnostics_us.iter().map(|us| Duration::from_secs_f64(us / 1e6)).collect();
    let figures = vec![
        figure("tasks show ID (store lookups)", show, 10.0),
        figure("curriculum list of 100", curriculum, 50.0),
        figure("didOpen of a 200-task file -> diagnostics", open, 50.0),
    ];
    Ok(StoreBench {
        tasks,
        insert_seconds,
        inserts_per_second: tasks as f64 / insert_seconds.max(1e-9),
        store_bytes,
        bytes_per_task: store_bytes as f64 / tasks.max(1) as f64,
        figures,
        tasks_show_process_ms,
        lsp_file,
        lsp_file_tasks: lsp.file_tasks,
    })
}

/// The example repository's generated tasks with no file holding more than 200 tasks, and its
/// busiest file holding exactly 200 (padded with copies of its tasks under new ids, anchored at
/// the same sites). Returns the tasks and that file.
fn real_tasks(repo: &Path) -> anyhow::Result<(Vec<Task>, String)> {
    let (generated, _) = generate(repo, &GenerateConfig { budget: 2_000, ..Default::default() })?;
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    let mut tasks = Vec::new();
    for t in generated {
        let n = per_file.entry(t.site.file.clone()).or_default();
        if *n < FILE_TASKS {
            *n += 1;
            tasks.push(t);
        }
    }
    let file = per_file
        .iter()
        .max_by_key(|(f, n)| (**n, std::cmp::Reverse((*f).clone())))
        .map(|(f, _)| f.clone())
        .ok_or_else(|| anyhow::anyhow!("no task generated in the example repository"))?;
    let of_file: Vec<Task> = tasks.iter().filter(|t| t.site.file == file).cloned().collect();
    for n in of_file.len()..FILE_TASKS {
        let mut copy = of_file[n % of_file.len()].clone();
        copy.id = format!("t-pad{:011x}", n);
        tasks.push(copy);
    }
    Ok((tasks, file))
}

/// Row `n` of the filler: a real task's content under another id, repository, file and round.
fn synthetic(template: &Task, n: usize) -> Task {
    let mut t = template.clone();
    t.id = format!("t-{:016x}", splitmix(n as u64));
    t.repo = format!("/bench/repo-{:03}", n % 100);
    t.site.file = format!("pkg/mod_{:04}.py", (n / 100) % 2_000);
    t.round = Some(1 + (n % 50) as u32);
    t.stage = match n % 4 {
        0 => TaskStage::Candidate,
        1 => TaskStage::Valid,
        2 => TaskStage::Invalid("fail-to-pass: all selected tests still pass".into()),
        _ => TaskStage::Scored,
    };
    t.decision = match n % 5_000 {
        0 => Decision::Accepted,
        1 => Decision::Rejected,
        _ => Decision::None,
    };
    t
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `samples` ids of filler rows spread over the whole table.
fn sample_ids(filler: usize, samples: usize) -> Vec<String> {
    if filler == 0 {
        return Vec::new();
    }
    (0..samples.max(1))
        .map(|i| splitmix(i as u64 ^ 0x5eed) as usize % filler)
        .map(|n| format!("t-{:016x}", splitmix(n as u64)))
        .collect()
}

/// A finished round 7 that kept `kept`.
fn kept_round(repo: &Path, kept: Vec<String>) -> crate::model::Round {
    use crate::model::{Round, RoundInputs, RoundStep};
    Round {
        number: 7,
        inputs: RoundInputs {
            repo: repo.display().to_string(),
            head: String::new(),
            seed: 7,
            budget: kept.len(),
            keep: kept.len(),
            max_skill_share: 1.0,
            trace_ids: vec![],
            skill_versions: BTreeMap::new(),
            model_hash: None,
            reference_set: None,
            adapter_hash: None,
        },
        step: RoundStep::Done,
        candidates: kept.len(),
        valid: kept.len(),
        kept,
        timings_ms: BTreeMap::new(),
    }
}

fn time_each(ids: &[String], mut f: impl FnMut(&str) -> anyhow::Result<()>) -> anyhow::Result<Vec<Duration>> {
    ids.iter()
        .map(|id| {
            let started = Instant::now();
            f(id)?;
            Ok(started.elapsed())
        })
        .collect()
}

/// Wall time of `socratic --home HOME tasks show ID` (this binary), milliseconds.
fn show_process(home: &Path, id: &str) -> anyhow::Result<f64> {
    let exe: PathBuf = std::env::current_exe()?;
    let started = Instant::now();
    let out = std::process::Command::new(exe).arg("--home").arg(home).args(["tasks", "show", id]).output()?;
    anyhow::ensure!(out.status.success(), "tasks show {id}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

fn figure(name: &'static str, mut samples: Vec<Duration>, target_p99_ms: f64) -> Figure {
    let latency = percentiles(&mut samples);
    Figure { name, met: latency.p99_us <= target_p99_ms * 1e3, latency, target_p99_ms }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn text(b: &StoreBench) -> String {
    let mut s = format!(
        "tasks: {}  inserted in {:.1} s ({:.0}/s)  store: {:.1} MiB ({:.0} bytes per task)\n",
        b.tasks,
        b.insert_seconds,
        b.inserts_per_second,
        b.store_bytes as f64 / (1024.0 * 1024.0),
        b.bytes_per_task
    );
    s.push_str(&format!("{:44} {:>10} {:>10} {:>10} {:>10}\n", "", "p50 ms", "p99 ms", "target", "met"));
    for f in &b.figures {
        s.push_str(&format!(
            "{:44} {:>10.2} {:>10.2} {:>10} {:>10}\n",
            f.name,
            f.latency.p50_us / 1e3,
            f.latency.p99_us / 1e3,
            format!("<= {}", f.target_p99_ms),
            if f.met { "yes" } else { "NO" }
        ));
    }
    s.push_str(&format!("tasks show ID as a process: {:.1} ms\n", b.tasks_show_process_ms));
    s.push_str(&format!("language-server file: {} ({} tasks)\n", b.lsp_file, b.lsp_file_tasks));
    s
}
