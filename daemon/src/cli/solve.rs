//! `socratic solve`: a Solver attempts a round's curriculum; each attempt is graded in the
//! task's container and stored as a trace. Prints the outcome per operator (and, for `--solver
//! lm`, how many tasks each sample index resolved: pass@k).

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_OK};
use crate::engine::agent::AgentConfig;
use crate::engine::lm_solver::{self, LmConfig};
use crate::engine::solve::{solve, SolveOptions, SolveSummary, Solver};
use crate::store::Store;
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// The round whose curriculum is attempted (default: the latest finished one).
    #[arg(long)]
    pub round: Option<u32>,
    /// A built-in Solver: `oracle` (applies the fix), `baseline` (fault localisation + repair
    /// templates), `agent` (a model behind --endpoint; its commands run in the task's container,
    /// network off) or `lm` (a local model folder, --model DIR, writes the fix).
    #[arg(long, conflicts_with = "agent", value_parser = ["oracle", "baseline", "agent", "lm"])]
    pub solver: Option<String>,
    /// An external agent: a shell command template with {workdir}, {problem_file},
    /// {trajectory_out} and {instance_id}. It runs on THIS machine in the checkout, unsandboxed,
    /// with your rights: use it only with agents you trust (`--solver agent` runs in containers).
    #[arg(long, value_name = "TEMPLATE")]
    pub agent: Option<String>,
    /// Name the agent's results are kept under (one result per task, round and name).
    #[arg(long, default_value = "agent")]
    pub name: String,
    /// Seconds an agent may take per task.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    /// `--solver agent`: the OpenAI-compatible endpoint (base URL or full /chat/completions URL).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// `--solver agent`: the model name sent to the endpoint. `--solver lm`: the model folder
    /// (Hugging Face layout).
    #[arg(long, value_name = "NAME|DIR")]
    pub model: Option<String>,
    /// `--solver lm`: a LoRA adapter folder (PEFT layout) applied to the model.
    #[arg(long, value_name = "DIR")]
    pub adapter: Option<std::path::PathBuf>,
    /// `--solver lm`: `line` (the model rewrites the line fault localisation marks), `edit` (it
    /// writes that line's minimal edit, `OLD => NEW`) or `diff` (it writes a unified diff); use
    /// the format the adapter was trained with.
    #[arg(long, default_value = "line", value_parser = ["line", "edit", "diff"])]
    pub answer: String,
    /// `--solver lm`: `free` (the model writes its answer) or `candidates` (line and edit
    /// formats: the model ranks the mutation catalogue's one-line repairs of the fault-localised
    /// lines by how likely it is to write each; sample i is the i-th best).
    #[arg(long, default_value = "free", value_parser = ["free", "candidates"])]
    pub decode: String,
    /// `--solver lm`: samples per task; the first that resolves it is kept (pass@k).
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// `--solver lm`: 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// `--solver lm`: nucleus sampling mass.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// `--solver lm`: tokens per answer at most.
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// `--solver lm`: prompt + answer tokens at most (the prompt keeps its end), as `train --max-len`.
    #[arg(long, default_value_t = 1024)]
    pub max_len: usize,
    /// `--solver lm`: sample i is drawn with seed S + i.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `--solver lm`: cpu or cuda (cuda needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// `--solver agent`: the environment variable holding the API key (sent as a Bearer token).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// `--solver agent`: model calls per task at most.
    #[arg(long, default_value_t = 50)]
    pub step_limit: u32,
    /// `--solver agent`: USD per task at most (0 = no limit); cost comes from the response's
    /// `usage.cost`, else from --price-in / --price-out.
    #[arg(long, default_value_t = 3.0)]
    pub cost_limit: f64,
    /// `--solver agent`: USD per million prompt tokens.
    #[arg(long, default_value_t = 0.0)]
    pub price_in: f64,
    /// `--solver agent`: USD per million completion tokens.
    #[arg(long, default_value_t = 0.0)]
    pub price_out: f64,
    /// `--solver agent`: seconds one command may run in the container.
    #[arg(long, default_value_t = 60)]
    pub command_timeout: u64,
    /// `--solver agent`: extra attempts of a request after HTTP 429 / 5xx or a lost connection
    /// (waits 0.5 s, then doubling).
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

impl SolveArgs {
    pub fn solver(&self) -> anyhow::Result<Solver> {
        Ok(match (&self.agent, self.solver.as_deref()) {
            (Some(template), _) => {
                Solver::Agent { name: self.name.clone(), template: template.clone(), timeout_s: self.timeout }
            }
            (None, Some("oracle")) => Solver::Oracle,
            (None, Some("agent")) => Solver::ModelAgent(Box::new(self.agent_config()?)),
            (None, Some("lm")) => Solver::Lm(Box::new(self.lm_config()?)),
            _ => Solver::Baseline,
        })
    }

    fn lm_config(&self) -> anyhow::Result<LmConfig> {
        let model =
            self.model.clone().ok_or_else(|| anyhow::anyhow!("--solver lm needs --model DIR (a model folder)"))?;
        let model = std::path::PathBuf::from(model);
        let cfg = LmConfig {
            name: String::new(),
            adapter: self.adapter.clone(),
            answer: self.answer.parse().map_err(anyhow::Error::msg)?,
            decode: self.decode.parse().map_err(anyhow::Error::msg)?,
            samples: self.samples,
            temperature: self.temperature,
            top_p: self.top_p,
            max_new_tokens: self.max_new_tokens,
            max_len: self.max_len,
            seed: self.seed,
            device: self.device.parse().map_err(anyhow::Error::msg)?,
            model,
        };
        lm_solver::check(&cfg)?;
        let name = lm_solver::name_of(&cfg.model, cfg.adapter.as_deref())?;
        Ok(LmConfig { name, ..cfg })
    }

    fn agent_config(&self) -> anyhow::Result<AgentConfig> {
        let endpoint = self.endpoint.clone().ok_or_else(|| anyhow::anyhow!("--solver agent needs --endpoint URL"))?;
        let model = self.model.clone().ok_or_else(|| anyhow::anyhow!("--solver agent needs --model NAME"))?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            anyhow::bail!("--endpoint {endpoint}: expected an http:// or https:// URL");
        }
        if self.cost_limit < 0.0 || self.price_in < 0.0 || self.price_out < 0.0 {
            anyhow::bail!("--cost-limit, --price-in and --price-out cannot be negative");
        }
        let cfg = AgentConfig {
            name: self.name.clone(),
            endpoint,
            model,
            api_key_env: self.api_key_env.clone(),
            step_limit: self.step_limit,
            cost_limit: self.cost_limit,
            command_timeout_s: self.command_timeout.max(1),
            timeout_s: self.timeout,
            usd_per_mtok_in: self.price_in,
            usd_per_mtok_out: self.price_out,
            retries: self.retries,
            ..AgentConfig::default()
        };
        cfg.client()?;
        Ok(cfg)
    }
}

pub fn run(home: &Path, args: SolveArgs) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    let opts = SolveOptions {
        round: args.round,
        solver: args.solver()?,
        image: args.image.options(),
        progress: super::progress::terminal(!args.json),
    };
    let summary = runtime()?.block_on(solve(&mut store, home, &opts))?;
    if args.json {
        print_json(&summary)?;
    } else {
        print_summary(&summary);
    }
    Ok(EXIT_OK)
}

/// Outcomes and the resolve rate per operator.
pub fn print_summary(s: &SolveSummary) {
    let outcomes: Vec<String> = s.by_outcome.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "{} on round {}: {} attempted ({} already done); {}",
        s.solver,
        s.round,
        s.attempted,
        s.already_done,
        if outcomes.is_empty() { "nothing new".into() } else { outcomes.join(" ") }
    );
    for (op, (resolved, total)) in &s.by_operator {
        println!("  {:28} {}/{} resolved", op, resolved, total);
    }
    if let Some(note) = &s.note {
        println!("  note: {note}");
    }
    for (i, n) in &s.resolved_at_sample {
        println!("  resolved by sample {i}: {n} (pass@{})", i + 1);
    }
    for (task, why) in &s.errors {
        println!("  {task}: ended early: {why}");
    }
}
