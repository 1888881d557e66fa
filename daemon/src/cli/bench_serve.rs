//! `socratic bench serve`: the grading service under load, beside a fresh container per grade.
//!
//! In: the home's gradable tasks (the first `--tasks`), a count of requests per level, client
//! counts (default 1, 8, 32), a time cap per level, the container-per-grade sample size, the
//! service's workers (default: the cores). Out: per level grades/s, p50 / p99 / max latency,
//! errors and 429s of a service started in this process on a loopback port (gold, empty and
//! wrong patches in turn, over HTTP with the token); then the same grades each in a fresh
//! container of the environment image (the SWE-bench harness's way: a container started, the
//! runner brought up, the grade run, the container removed), the throughput ratio, and the
//! check that every request was answered exactly once (none lost, none twice: the service's own
//! grade count agrees) with the verdict the fresh container gives (gold resolved, empty
//! no-patch, wrong unresolved).
//!
//! Every gold and wrong patch carries a comment naming its request, so no two are alike and the
//! service's verdict cache never answers them: the levels measure grading. One more level, the
//! cache row, sends the same patches again and again (as an RL group that agrees does) at the
//! largest client count: answered from the cache, counted as hits.

use super::env::runtime;
use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::diff::{unified_diff, Patch};
use crate::engine::grade;
use crate::sandbox::worker::Worker;
use crate::sandbox::Limits;
use crate::serve::catalog::Gradable;
use crate::serve::{self, combine, ServeConfig};
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct ServeBenchArgs {
    /// Gradable tasks to use (the first N the service lists).
    #[arg(long, default_value_t = 4)]
    pub tasks: usize,
    /// Requests per concurrency level.
    #[arg(long, default_value_t = 96)]
    pub requests: usize,
    /// Concurrent clients, one level each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub clients: Vec<usize>,
    /// Seconds a level may take; requests not sent by then are left out (and said).
    #[arg(long, default_value_t = 120)]
    pub max_seconds: u64,
    /// Worker containers of the service (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Grades through a fresh container each (every task × kind at least once, in turn).
    #[arg(long, default_value_t = 12)]
    pub cold: usize,
    /// Leave out the cache row.
    #[arg(long)]
    pub no_cache_level: bool,
    #[arg(long)]
    pub json: bool,
}

/// The patches sent for a task.
const KINDS: [&str; 3] = ["gold", "empty", "wrong"];

/// One concurrency level.
#[derive(Debug, Serialize)]
pub struct Level {
    pub clients: usize,
    pub sent: usize,
    pub answered: usize,
    pub errors: usize,
    pub busy_429: usize,
    pub wall_ms: u64,
    pub grades_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Requests answered with another verdict than the fresh container's for the same patch.
    pub wrong_verdicts: usize,
    /// Requests never answered, and answered more than once.
    pub lost: usize,
    pub duplicated: usize,
    /// Grades the service counted (`/metrics`) during the level: equal to the 200 answers when
    /// none was graded twice or lost inside it.
    pub service_grades: u64,
    /// Answers that came from the verdict cache.
    pub cached: usize,
    /// The cache row (repeated patches), not a measure of grading.
    pub repeated_patches: bool,
    /// Median latency per kind of patch (gold, empty, wrong), ms.
    pub p50_ms_by_kind: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize)]
pub struct ServeBench {
    pub tasks: usize,
    pub workers: usize,
    pub levels: Vec<Level>,
    pub cold_grades: usize,
    pub cold_grades_per_s: f64,
    pub cold_p50_ms: f64,
    pub cold_p99_ms: f64,
    /// Warm grades/s at each level / container-per-grade grades/s.
    pub ratio: Vec<(usize, f64)>,
    /// Every request answered exactly once, every verdict equal to the fresh container's.
    pub all_answered_once: bool,
    pub verdicts_agree: bool,
    /// The verdict (outcome) of each kind of patch, per task, in a fresh container.
    pub cold_verdicts: BTreeMap<String, String>,
}

/// A request to send: a task and a kind of patch; `patch(n)` is its patch for request `n`
/// (`None`: the same patch every time).
struct Job {
    instance_id: String,
    kind: &'static str,
    /// The patched file's path, its bugged text and the text the patch makes (gold: clean,
    /// wrong: bugged), before the request's comment; other files the gold patch restores.
    file: Option<(String, String, String)>,
    rest: String,
}

impl Job {
    fn patch(&self, n: Option<usize>) -> String {
        let Some((path, bugged, target)) = &self.file else { return String::new() };
        let comment = match n {
            Some(n) => format!("# {} patch, request {n}\n", self.kind),
            None => format!("# {} patch, repeated\n", self.kind),
        };
        format!("{}{}", unified_diff(path, bugged, &format!("{target}{comment}")), self.rest)
    }

    fn body(&self, n: Option<usize>) -> String {
        serde_json::json!({"instance_id": self.instance_id, "patch": self.patch(n)}).to_string()
    }
}

pub fn run(home: &Path, args: ServeBenchArgs) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let workers = args.workers.unwrap_or_else(serve::default_workers).max(1);
    let config = ServeConfig {
        addr: "127.0.0.1:0".parse()?,
        workers,
        queue: 64,
        max_body: serve::DEFAULT_MAX_BODY,
        prewarm: true,
        cache: serve::cache::DEFAULT_CAPACITY,
    };
    let bound = rt.block_on(serve::bind(home, &config))?;
    let (addr, service) = (bound.addr, bound.service.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(serve::run(bound, async move {
        let _ = stop_rx.await;
    }));
    let gradables: Vec<Arc<Gradable>> = service
        .catalog
        .list(None)?
        .iter()
        .take(args.tasks)
        .map(|t| service.catalog.lookup(&t.task_id))
        .collect::<Result<_, _>>()?;
    if gradables.is_empty() {
        anyhow::bail!(
            "no gradable task in this home: validate some first (`socratic round` or `socratic tasks validate`)"
        );
    }
    let jobs = jobs(&gradables)?;
    let client = Client { base: format!("http://{addr}"), token: service.token.clone() };
    // Warm-up: every job once (workers started, code paths loaded; the cache row's patches
    // kept), not timed.
    for job in &jobs {
        client.post(&job.body(None))?;
    }
    let cold = rt.block_on(cold_path(&service, &gradables, &jobs, args.cold))?;
    let mut levels = Vec::new();
    let cap = Duration::from_secs(args.max_seconds);
    let mut first = 0;
    for &clients in &args.clients {
        let sending = Sending { clients, requests: args.requests, first, cap, repeat: false };
        let level = level(&client, &service, &jobs, &sending, &cold.verdicts);
        first += level.sent;
        levels.push(level);
    }
    if !args.no_cache_level {
        let clients = args.clients.iter().copied().max().unwrap_or(8);
        let sending = Sending { clients, requests: args.requests, first, cap, repeat: true };
        levels.push(level(&client, &service, &jobs, &sending, &cold.verdicts));
    }
    let _ = stop_tx.send(());
    rt.block_on(server)??;
    let ratio = levels
        .iter()
        .filter(|l| !l.repeated_patches)
        .map(|l| (l.clients, l.grades_per_s / cold.grades_per_s.max(1e-9)))
        .collect();
    let all_answered_once = levels.iter().all(|l| l.answered == l.sent && l.lost == 0 && l.duplicated == 0);
    let verdicts_agree = levels.iter().all(|l| l.wrong_verdicts == 0);
    let bench = ServeBench {
        tasks: gradables.len(),
        workers,
        levels,
        cold_grades: cold.grades,
        cold_grades_per_s: cold.grades_per_s,
        cold_p50_ms: cold.p50_ms,
        cold_p99_ms: cold.p99_ms,
        ratio,
        all_answered_once,
        verdicts_agree,
        cold_verdicts: cold.verdicts.iter().map(|((id, kind), o)| (format!("{id} {kind}"), o.clone())).collect(),
    };
    if args.json {
        print_json(&bench)?;
    } else {
        print!("{}", table(&bench));
    }
    Ok(if all_answered_once && verdicts_agree { EXIT_OK } else { EXIT_FAILED })
}

/// Gold, empty and wrong (the bug left in) patches for each task.
fn jobs(gradables: &[Arc<Gradable>]) -> anyhow::Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for g in gradables {
        let (gold, wrong) = patched_files(g)?;
        jobs.push(Job { instance_id: g.instance_id.clone(), kind: "gold", file: Some(gold.0), rest: gold.1 });
        jobs.push(Job { instance_id: g.instance_id.clone(), kind: "empty", file: None, rest: String::new() });
        jobs.push(Job { instance_id: g.instance_id.clone(), kind: "wrong", file: Some(wrong), rest: String::new() });
    }
    Ok(jobs)
}

type FileEdit = (String, String, String);

/// The bug patch's first file as (path, bugged text, clean text) with the patch restoring the
/// bug's other files (gold), and (path, bugged, bugged) (wrong: the bug left in).
fn patched_files(g: &Gradable) -> anyhow::Result<((FileEdit, String), FileEdit)> {
    let bug = Patch::parse(&g.task.bug_patch)?;
    let repo = crate::diff::git::Repo::open(Path::new(&g.task.repo))?;
    let mut files = Vec::new();
    for file in &bug.files {
        let path = file.path().ok_or_else(|| anyhow::anyhow!("{}: a bug patch file without a path", g.task.id))?;
        let clean =
            String::from_utf8_lossy(&repo.blob_at(&g.task.base_commit, &path)?.unwrap_or_default()).into_owned();
        let bugged = file.apply(&clean)?;
        files.push((path, bugged, clean));
    }
    let Some((path, bugged, clean)) = files.first().cloned() else { anyhow::bail!("{}: empty bug patch", g.task.id) };
    let rest: String = files.iter().skip(1).map(|(p, bugged, clean)| unified_diff(p, bugged, clean)).collect();
    Ok((((path.clone(), bugged.clone(), clean), rest), (path, bugged.clone(), bugged)))
}

/// A blocking HTTP client with the token.
struct Client {
    base: String,
    token: String,
}

/// What the service answered a grade request.
struct Reply {
    status: u16,
    outcome: String,
    cached: bool,
}

impl Client {
    /// POST /v1/grade.
    fn post(&self, body: &str) -> anyhow::Result<Reply> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        let mut response = agent
            .post(&format!("{}/v1/grade", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        let value = serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default();
        Ok(Reply {
            status,
            outcome: value["outcome"].as_str().unwrap_or_default().to_string(),
            cached: value["cached"].as_bool().unwrap_or(false),
        })
    }
}

/// How a level sends: `requests` grades from `clients` threads, jobs in turn; request numbers
/// (in the patches' comments) from `first`; `repeat`: the same patch for every request of a job.
struct Sending {
    clients: usize,
    requests: usize,
    first: usize,
    cap: Duration,
    repeat: bool,
}

fn level(
    client: &Client,
    service: &serve::Service,
    jobs: &[Job],
    how: &Sending,
    expected: &BTreeMap<(String, String), String>,
) -> Level {
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<(usize, Reply, f64)>> = Mutex::new(Vec::new());
    let graded_before = service.metrics.grades_total();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..how.clients.max(1) {
            s.spawn(|| loop {
                if started.elapsed() >= how.cap {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= how.requests {
                    break;
                }
                let job = &jobs[i % jobs.len()];
                let body = job.body((!how.repeat).then_some(how.first + i));
                let t = Instant::now();
                let reply = client.post(&body).unwrap_or(Reply { status: 0, outcome: String::new(), cached: false });
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if let Ok(mut a) = answers.lock() {
                    a.push((i, reply, ms));
                }
            });
        }
    });
    let wall = started.elapsed();
    let service_grades = service.metrics.grades_total() - graded_before;
    let answers = answers.into_inner().unwrap_or_default();
    let sent = next.load(Ordering::Relaxed).min(how.requests);
    let mut seen = vec![0usize; sent];
    answers.iter().for_each(|(i, ..)| seen[*i] += 1);
    let answered = seen.iter().filter(|n| **n == 1).count();
    let ok: Vec<&(usize, Reply, f64)> = answers.iter().filter(|a| a.1.status == 200).collect();
    let wrong_verdicts = ok
        .iter()
        .filter(|(i, reply, _)| {
            let job = &jobs[i % jobs.len()];
            expected.get(&(job.instance_id.clone(), job.kind.to_string())).is_some_and(|e| *e != reply.outcome)
        })
        .count();
    let mut ms: Vec<f64> = ok.iter().map(|a| a.2).collect();
    ms.sort_by(f64::total_cmp);
    let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, _, t) in &ok {
        by_kind.entry(jobs[i % jobs.len()].kind.to_string()).or_default().push(*t);
    }
    let p50_ms_by_kind = by_kind
        .into_iter()
        .map(|(kind, mut t)| {
            t.sort_by(f64::total_cmp);
            (kind, percentile(&t, 0.50))
        })
        .collect();
    Level {
        clients: how.clients,
        sent,
        answered,
        errors: answers.iter().filter(|a| a.1.status != 200 && a.1.status != 429).count(),
        busy_429: answers.iter().filter(|a| a.1.status == 429).count(),
        wall_ms: wall.as_millis() as u64,
        grades_per_s: ok.len() as f64 / wall.as_secs_f64().max(1e-9),
        p50_ms: percentile(&ms, 0.50),
        p99_ms: percentile(&ms, 0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
        wrong_verdicts,
        lost: seen.iter().filter(|n| **n == 0).count(),
        // Asked once, answered twice; or counted twice by the service.
        duplicated: seen.iter().filter(|n| **n > 1).count() + (service_grades as usize).saturating_sub(ok.len()),
        service_grades,
        cached: ok.iter().filter(|a| a.1.cached).count(),
        repeated_patches: how.repeat,
        p50_ms_by_kind,
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

struct Cold {
    grades: usize,
    grades_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// (instance id, kind) → outcome.
    verdicts: BTreeMap<(String, String), String>,
}

/// Every job (and more, in turn, up to `limit`) in a fresh container each.
async fn cold_path(
    service: &serve::Service,
    gradables: &[Arc<Gradable>],
    jobs: &[Job],
    limit: usize,
) -> anyhow::Result<Cold> {
    let engine =
        crate::sandbox::Engine::connect(&service.catalog.with_store(|s| crate::sandbox::owner_of_home(s.home())))
            .await?;
    let mut verdicts = BTreeMap::new();
    let mut ms = Vec::new();
    let started = Instant::now();
    for (n, job) in jobs.iter().enumerate().cycle().take(limit.max(jobs.len())) {
        let g = &gradables[n / KINDS.len()];
        let patch = job.patch(Some(n));
        let t = Instant::now();
        let mut worker = Worker::start(&engine, &g.env.image, &Limits::default(), &g.env.run_env()).await?;
        let combined = if patch.trim().is_empty() {
            String::new()
        } else {
            let repo = crate::diff::git::Repo::open(Path::new(&g.task.repo))?;
            combine::combined_patch(&g.task.bug_patch, &patch, |p| {
                let blob = repo.blob_at(&g.task.base_commit, p).map_err(|e| e.to_string())?;
                Ok(blob.map(|b| String::from_utf8_lossy(&b).into_owned()))
            })?
        };
        let graded = grade::grade(&mut worker, &g.env, &g.task, &patch, &combined, "bench").await;
        let _ = worker.shutdown().await;
        let (report, _) = graded?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        verdicts.insert((job.instance_id.clone(), job.kind.to_string()), report.outcome.as_str().to_string());
    }
    let wall = started.elapsed().as_secs_f64();
    ms.sort_by(f64::total_cmp);
    Ok(Cold {
        grades: ms.len(),
        grades_per_s: ms.len() as f64 / wall.max(1e-9),
        p50_ms: percentile(&ms, 0.50),
        p99_ms: percentile(&ms, 0.99),
        verdicts,
    })
}

fn table(b: &ServeBench) -> String {
    let mut out = format!(
        "socratic serve on loopback, {} worker(s), {} task(s) × gold / empty / wrong patches\n\n",
        b.workers, b.tasks
    );
    out.push_str("clients  sent  answered  lost  twice  errors  429  cached  grades/s   p50 ms   p99 ms   max ms\n");
    for l in &b.levels {
        let clients = if l.repeated_patches { format!("{} (rep)", l.clients) } else { l.clients.to_string() };
        out.push_str(&format!(
            "{:>7} {:>5} {:>9} {:>5} {:>6} {:>7} {:>4} {:>7} {:>9.1} {:>8.0} {:>8.0} {:>8.0}\n",
            clients,
            l.sent,
            l.answered,
            l.lost,
            l.duplicated,
            l.errors,
            l.busy_429,
            l.cached,
            l.grades_per_s,
            l.p50_ms,
            l.p99_ms,
            l.max_ms
        ));
    }
    for l in &b.levels {
        let kinds: Vec<String> = l.p50_ms_by_kind.iter().map(|(k, ms)| format!("{k} {ms:.0}")).collect();
        let what = if l.repeated_patches { " (repeated patches: the cache row)" } else { "" };
        out.push_str(&format!("p50 ms by patch at {} client(s){what}: {}\n", l.clients, kinds.join(", ")));
    }
    out.push_str(&format!(
        "\ncontainer per grade (sequential): {} grades, {:.2} grades/s, p50 {:.0} ms, p99 {:.0} ms\n",
        b.cold_grades, b.cold_grades_per_s, b.cold_p50_ms, b.cold_p99_ms
    ));
    for (clients, r) in &b.ratio {
        out.push_str(&format!("throughput ratio at {clients} client(s), every patch unique: {r:.1}×\n"));
    }
    out.push_str(&format!(
        "every request answered exactly once: {}; verdicts equal to the fresh container's: {}\n",
        if b.all_answered_once { "yes" } else { "NO" },
        if b.verdicts_agree { "yes" } else { "NO" }
    ));
    out
}
