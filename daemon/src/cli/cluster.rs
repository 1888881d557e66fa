//! `socratic cluster shards|run-shard|submit`: work fanned out over machines (Ray).
//!
//! In: a kind of work and its flags (`validate`, `grade`, `env-build`, `score`), shard files, a Ray head's
//! dashboard address. Out: shard files and a JSON list of them (`shards`, on the head), a result
//! file (`run-shard`, on a node: no store needed), or a Ray job running the `socratic_ray`
//! driver (`submit`: the package uploaded through the Jobs REST API, the job polled and its logs
//! streamed with `--wait`). Results go back into the head's store with `tasks import-results`.
//!
//! Why `cluster run-shard --input FILE` rather than `tasks validate --shard I/N`: a node holds
//! no store, so the shard file carries everything it needs (candidates, environment), and the
//! same two commands serve every kind of work.

use super::env::runtime;
use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::engine::shard::{self, ShardInput};
use crate::store::Store;
use crate::validate::run::ValidateConfig;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The driver package run by `submit`, compiled in (also installable from `integrations/ray`).
pub const DRIVER_FILES: [(&str, &str); 3] = [
    ("socratic_ray/__init__.py", include_str!("../../../integrations/ray/socratic_ray/__init__.py")),
    ("socratic_ray/__main__.py", include_str!("../../../integrations/ray/socratic_ray/__main__.py")),
    ("socratic_ray/driver.py", include_str!("../../../integrations/ray/socratic_ray/driver.py")),
];

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Cut work into shard files (on the head): prints them as JSON with --json.
    Shards(ShardsArgs),
    /// Run one shard file on this machine and write its result file (on a node).
    RunShard(RunShardArgs),
    /// Submit the work as a Ray job (the `socratic_ray` driver) to a Ray head's dashboard.
    Submit(SubmitArgs),
}

/// The work, and its flags.
#[derive(Debug, Subcommand)]
pub enum WorkCmd {
    /// Validate the stored candidates of a repository (its environment must be stored).
    Validate {
        #[arg(long)]
        repo: PathBuf,
        /// Shards (Ray tasks) to cut the candidates into.
        #[arg(long, default_value_t = 2)]
        shards: usize,
        /// At most this many candidates.
        #[arg(long)]
        limit: Option<usize>,
        /// Seconds the selected tests of one candidate may take.
        #[arg(long, default_value_t = ValidateConfig::default().timeout_s)]
        timeout: f64,
    },
    /// Build (or find) the repository's environment image on nodes (one shard each).
    EnvBuild {
        #[arg(long)]
        repo: PathBuf,
        /// How many nodes should hold the image.
        #[arg(long, default_value_t = 1)]
        shards: usize,
        /// Base image to build from (pulled if absent). Default: the bootstrapped one.
        #[arg(long)]
        base_image: Option<String>,
    },
    /// Grade a SWE-bench predictions file (JSON Lines: instance_id, model_name_or_path,
    /// model_patch) as `solve` grades; results stored as `solve` stores an attempt.
    Grade {
        #[arg(long)]
        predictions: PathBuf,
        /// Shards (Ray tasks) to cut each environment's predictions into.
        #[arg(long, default_value_t = 2)]
        shards: usize,
    },
    /// Gradient features of every stored task (and the reference texts) for `tasks score`'s
    /// cache: the model folder must be on the nodes (`--gpus` on submit asks Ray for GPUs).
    Score {
        #[command(flatten)]
        model: super::score::ModelArgs,
        /// A SWE-bench-format JSONL of reference fixes, or `failures` (as `tasks score`).
        #[arg(long, value_name = "FILE|failures")]
        reference: Option<String>,
        #[arg(long, default_value_t = 2)]
        shards: usize,
        /// At most this many tokens per text.
        #[arg(long, default_value_t = crate::score::DEFAULT_MAX_LEN)]
        max_len: usize,
    },
}

#[derive(Debug, Args)]
pub struct ShardsArgs {
    /// Folder the shard files are written to.
    #[arg(long)]
    pub out: PathBuf,
    /// Print the files as one JSON document.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub work: WorkCmd,
}

#[derive(Debug, Args)]
pub struct RunShardArgs {
    /// A shard file written by `cluster shards`.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the result file.
    #[arg(long)]
    pub out: PathBuf,
    /// Where this machine has the repository checked out (default: the head's path).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Warm containers working in parallel.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The Ray head's dashboard, e.g. http://HEAD:8265.
    #[arg(long)]
    pub address: String,
    /// Follow the job: stream its logs until it ends; exit 1 unless it succeeded.
    #[arg(long)]
    pub wait: bool,
    /// Python on the head that has `ray` installed.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// The socratic binary on the head (default: this one).
    #[arg(long)]
    pub socratic: Option<String>,
    /// The socratic binary on the nodes (default: the head's path).
    #[arg(long)]
    pub node_socratic: Option<String>,
    /// The socratic home on the nodes (default: each node's own).
    #[arg(long)]
    pub node_home: Option<String>,
    /// Where the nodes have the repository checked out (default: the head's path).
    #[arg(long)]
    pub node_repo: Option<String>,
    /// Warm containers per shard.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// GPUs each shard asks Ray for.
    #[arg(long, default_value_t = 0.0)]
    pub gpus: f64,
    /// Times Ray re-runs a shard whose worker or node died.
    #[arg(long, default_value_t = 3)]
    pub max_retries: u32,
    /// Give up waiting after this many seconds (the job goes on).
    #[arg(long, default_value_t = 3600)]
    pub wait_timeout: u64,
    #[command(subcommand)]
    pub work: WorkCmd,
}

pub fn run(home: &Path, cmd: ClusterCmd) -> anyhow::Result<i32> {
    match cmd {
        ClusterCmd::Shards(args) => shards(home, args),
        ClusterCmd::RunShard(args) => run_shard(home, args),
        ClusterCmd::Submit(args) => submit(home, args),
    }
}

/// The shard inputs of the work (no files written).
fn plan(home: &Path, work: &WorkCmd) -> anyhow::Result<Vec<ShardInput>> {
    match work {
        WorkCmd::Validate { repo, shards, limit, timeout } => {
            shard::plan_validate(&mut Store::open(home)?, repo, *shards, *limit, *timeout)
        }
        WorkCmd::EnvBuild { repo, shards, base_image } => shard::plan_env_build(repo, *shards, base_image.clone()),
        WorkCmd::Grade { predictions, shards } => crate::engine::shard_grade::plan_grade(home, predictions, *shards),
        WorkCmd::Score { model, reference, shards, max_len } => {
            let store = Store::open(home)?;
            let references = match reference {
                Some(r) => crate::engine::scoring::reference_texts(&store, r)?.1,
                None => vec![],
            };
            shard::plan_score(&store, &model_spec(model, *max_len), references, *shards)
        }
    }
}

fn shards(home: &Path, args: ShardsArgs) -> anyhow::Result<i32> {
    let ShardsArgs { out: folder, json: as_json, work } = args;
    let inputs = plan(home, &work)?;
    std::fs::create_dir_all(&folder).map_err(|e| anyhow::anyhow!("{}: {e}", folder.display()))?;
    let mut files = Vec::new();
    for input in &inputs {
        let path = folder.join(format!("shard-{:04}-of-{:04}.json", input.shard + 1, input.shards));
        shard::write_json(&path, input)?;
        files.push(path.display().to_string());
    }
    let candidates: usize = inputs
        .iter()
        .map(|i| match &i.work {
            shard::Work::Validate { tasks, .. } => tasks.len(),
            shard::Work::Grade { predictions, .. } => predictions.len(),
            shard::Work::EnvBuild { .. } | shard::Work::Score { .. } => 0,
        })
        .sum();
    if as_json {
        print_json(&json!({ "kind": kind_of(&work), "files": files, "candidates": candidates }))?;
    } else {
        println!("{} {} shard(s), {candidates} candidate(s), in {}", files.len(), kind_of(&work), folder.display());
    }
    Ok(EXIT_OK)
}

fn model_spec(m: &super::score::ModelArgs, max_len: usize) -> shard::ModelSpec {
    shard::ModelSpec {
        model: std::path::absolute(&m.model).unwrap_or_else(|_| m.model.clone()).display().to_string(),
        device: m.device.clone(),
        params: m.params.clone(),
        dim: m.dim,
        seed: m.seed,
        max_len,
    }
}

fn kind_of(work: &WorkCmd) -> &'static str {
    match work {
        WorkCmd::Validate { .. } => "validate",
        WorkCmd::EnvBuild { .. } => "env-build",
        WorkCmd::Score { .. } => "score",
        WorkCmd::Grade { .. } => "grade",
    }
}

fn run_shard(home: &Path, args: RunShardArgs) -> anyhow::Result<i32> {
    let input = shard::read_input(&args.input)?;
    let result = runtime()?.block_on(shard::run_shard(home, &input, args.repo.as_deref(), args.workers))?;
    shard::write_json(&args.out, &result)?;
    eprintln!(
        "shard {}/{} ({}) on {}: {} candidate(s) in {} ms -> {}",
        result.shard + 1,
        result.shards,
        result.kind,
        result.node,
        result.candidates.len(),
        result.wall_ms,
        args.out.display()
    );
    Ok(EXIT_OK)
}

/// The work's flags as `cluster shards` takes them (the driver passes them on).
fn work_argv(work: &WorkCmd) -> Vec<String> {
    let mut v = vec![kind_of(work).to_string()];
    let abs = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()).display().to_string();
    match work {
        WorkCmd::Validate { repo, shards, limit, timeout } => {
            v.extend(["--repo".into(), abs(repo), "--shards".into(), shards.to_string()]);
            v.extend(["--timeout".into(), timeout.to_string()]);
            if let Some(l) = limit {
                v.extend(["--limit".into(), l.to_string()]);
            }
        }
        WorkCmd::EnvBuild { repo, shards, base_image } => {
            v.extend(["--repo".into(), abs(repo), "--shards".into(), shards.to_string()]);
            if let Some(b) = base_image {
                v.extend(["--base-image".into(), b.clone()]);
            }
        }
        WorkCmd::Grade { predictions, shards } => {
            v.extend(["--predictions".into(), abs(predictions), "--shards".into(), shards.to_string()]);
        }
        WorkCmd::Score { model, reference, shards, max_len } => {
            let spec = model_spec(model, *max_len);
            v.extend(["--model".into(), spec.model, "--device".into(), spec.device, "--params".into(), spec.params]);
            v.extend(["--dim".into(), spec.dim.to_string(), "--seed".into(), spec.seed.to_string()]);
            v.extend(["--shards".into(), shards.to_string(), "--max-len".into(), max_len.to_string()]);
            if let Some(r) = reference {
                let r = if r == "failures" { r.clone() } else { abs(Path::new(r)) };
                v.extend(["--reference".into(), r]);
            }
        }
    }
    v
}

/// The job's entrypoint: the driver with the head's binary and home, then the work.
pub fn entrypoint(home: &Path, args: &SubmitArgs) -> anyhow::Result<String> {
    let this = std::env::current_exe()?.display().to_string();
    let home = std::path::absolute(home)?.display().to_string();
    let mut words = vec![args.python.clone(), "-m".into(), "socratic_ray".into()];
    words.extend(["--socratic".into(), args.socratic.clone().unwrap_or(this), "--home".into(), home]);
    let optional =
        [("--node-socratic", &args.node_socratic), ("--node-home", &args.node_home), ("--node-repo", &args.node_repo)];
    for (flag, value) in optional {
        if let Some(v) = value {
            words.extend([flag.to_string(), v.clone()]);
        }
    }
    words.extend(["--workers".into(), args.workers.to_string(), "--max-retries".into(), args.max_retries.to_string()]);
    if args.gpus > 0.0 {
        words.extend(["--gpus".into(), args.gpus.to_string()]);
    }
    words.extend(work_argv(&args.work));
    shlex::try_join(words.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("the job's entrypoint cannot be written as a shell command: {e}"))
}

/// The driver package as a zip with `socratic_ray/` at its top (what Ray's `py_modules` wants)
/// and its content-addressed package name.
pub fn driver_package() -> anyhow::Result<(String, Vec<u8>)> {
    use sha2::Digest;
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default());
        for (name, text) in DRIVER_FILES {
            zip.start_file(name, opts)?;
            zip.write_all(text.as_bytes())?;
        }
        zip.finish()?;
    }
    let bytes = buf.into_inner();
    let hash = sha2::Sha256::digest(&bytes);
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok((format!("_ray_pkg_{hex}.zip"), bytes))
}

/// A client of one Ray dashboard; every error names the address.
struct Jobs {
    base: String,
    agent: ureq::Agent,
}

impl Jobs {
    fn new(address: &str) -> Jobs {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build();
        Jobs { base: address.trim_end_matches('/').to_string(), agent: agent.into() }
    }

    fn answer(
        &self,
        what: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<(u16, String)> {
        let mut resp = resp.map_err(|e| anyhow::anyhow!("Ray dashboard at {}: {what}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((status, body))
    }

    fn expect_ok(&self, what: &str, (status, body): (u16, String)) -> anyhow::Result<String> {
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let snippet: String = body.chars().take(400).collect();
        anyhow::bail!("Ray dashboard at {}: {what}: HTTP {status}: {snippet}", self.base)
    }

    /// Upload a package unless the cluster already has it; returns its `gcs://` URI.
    fn upload(&self, name: &str, bytes: &[u8]) -> anyhow::Result<String> {
        let url = format!("{}/api/packages/gcs/{name}", self.base);
        let (status, _) = self.answer("checking the driver package", self.agent.get(&url).call())?;
        if status != 200 {
            let put = self.agent.put(&url).header("Content-Type", "application/octet-stream").send(bytes);
            let answer = self.answer("uploading the driver package", put)?;
            self.expect_ok("uploading the driver package", answer)?;
        }
        Ok(format!("gcs://{name}"))
    }

    fn submit(&self, body: &Value) -> anyhow::Result<String> {
        let url = format!("{}/api/jobs/", self.base);
        let post = self.agent.post(&url).header("Content-Type", "application/json").send(body.to_string().as_bytes());
        let text = self.expect_ok("submitting the job", self.answer("submitting the job", post)?)?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("Ray dashboard at {}: submitting the job: {e}: {text}", self.base))?;
        v.get("submission_id").or_else(|| v.get("job_id")).and_then(Value::as_str).map(str::to_string).ok_or_else(
            || anyhow::anyhow!("Ray dashboard at {}: the job's answer has no submission_id: {text}", self.base),
        )
    }

    fn get_json(&self, what: &str, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let text = self.expect_ok(what, self.answer(what, self.agent.get(&url).call())?)?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("Ray dashboard at {}: {what}: {e}", self.base))
    }
}

/// Ray's job states that end a job.
fn finished(status: &str) -> bool {
    matches!(status, "SUCCEEDED" | "FAILED" | "STOPPED")
}

fn submit(home: &Path, args: SubmitArgs) -> anyhow::Result<i32> {
    let jobs = Jobs::new(&args.address);
    let (name, bytes) = driver_package()?;
    let module = jobs.upload(&name, &bytes)?;
    let body = json!({
        "entrypoint": entrypoint(home, &args)?,
        "runtime_env": { "py_modules": [module] },
        "metadata": { "socratic_kind": kind_of(&args.work) },
    });
    let id = jobs.submit(&body)?;
    println!("submitted Ray job {id} to {}", jobs.base);
    if !args.wait {
        return Ok(EXIT_OK);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(args.wait_timeout);
    let mut shown = 0;
    loop {
        let job = jobs.get_json("reading the job", &format!("/api/jobs/{id}"))?;
        let status = job.get("status").and_then(Value::as_str).unwrap_or("UNKNOWN").to_string();
        let logs = jobs.get_json("reading the job's logs", &format!("/api/jobs/{id}/logs"))?;
        let text = logs.get("logs").and_then(Value::as_str).unwrap_or("");
        // The logs endpoint answers the whole log so far: print what is new.
        if let Some(new) = text.get(shown..).filter(|t| !t.is_empty()) {
            print!("{new}");
            shown = text.len();
        }
        if finished(&status) {
            let message = job.get("message").and_then(Value::as_str).unwrap_or("");
            if status == "SUCCEEDED" {
                println!("Ray job {id} at {}: {status}", jobs.base);
                return Ok(EXIT_OK);
            }
            eprintln!("error: Ray job {id} at {}: {status}: {message}", jobs.base);
            return Ok(EXIT_FAILED);
        }
        if std::time::Instant::now() > deadline {
            eprintln!("error: Ray job {id} at {} still {status} after {} s (it goes on)", jobs.base, args.wait_timeout);
            return Ok(EXIT_FAILED);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_package_is_a_zip_with_the_module_at_its_top() {
        let (name, bytes) = driver_package().unwrap();
        assert!(name.starts_with("_ray_pkg_") && name.ends_with(".zip"), "{name}");
        assert_eq!(driver_package().unwrap().0, name, "the same bytes, the same name");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = (0..zip.len()).map(|i| zip.by_index(i).unwrap().name().to_string()).collect();
        assert_eq!(names, ["socratic_ray/__init__.py", "socratic_ray/__main__.py", "socratic_ray/driver.py"]);
    }

    #[test]
    fn finished_states_are_rays_terminal_ones() {
        assert!(finished("SUCCEEDED") && finished("FAILED") && finished("STOPPED"));
        assert!(!finished("PENDING") && !finished("RUNNING"));
    }
}
