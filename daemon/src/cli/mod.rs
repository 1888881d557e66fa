//! Command line: clap definitions and thin glue from subcommands to the library stages.
//!
//! In: argv. Out: an exit code (0 ok, 1 some input rejected or a command failed, 2 usage error),
//! human output on stdout (or one stable JSON document with `--json`), logs on stderr.

mod bench;
mod bench_serve;
mod bench_store;
mod bench_train;
mod bench_validate;
mod cluster;
mod daemon;
mod demo;
mod env;
mod evolve;
mod experiment;
mod export;
mod lsp;
mod progress;
mod repo;
mod report;
mod round;
mod score;
mod serve;
mod skills;
mod solve;
mod tasks;
mod traces;
mod train;
mod validate;

use clap::{Parser, Subcommand};
pub(crate) use progress::progress_bar;
use std::path::PathBuf;

/// Exit code: everything went through.
pub const EXIT_OK: i32 = 0;
/// Exit code: some input was rejected or a command failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, Parser)]
#[command(name = "socratic", version, about = "Turn a coding agent's traces into targeted, validated repair tasks")]
pub struct Cli {
    /// Home folder holding the store (default: $SOCRATIC_HOME, else the XDG data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import, list and inspect Solver traces.
    #[command(subcommand)]
    Traces(traces::TracesCmd),
    /// Index a Python repository (the anchor stage).
    #[command(subcommand)]
    Repo(repo::RepoCmd),
    /// Distill, list, show and export skills.
    #[command(subcommand)]
    Skills(skills::SkillsCmd),
    /// Generate, list and show repair tasks.
    #[command(subcommand)]
    Tasks(tasks::TasksCmd),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Base and environment images (Docker).
    #[command(subcommand)]
    Env(env::EnvCmd),
    /// Language server for editors (through the daemon, or `--standalone`).
    Lsp(lsp::LspArgs),
    /// The daemon that owns the store and serves editors over a Unix socket.
    Daemon(daemon::DaemonArgs),
    /// Model files for the score stage (a tiny random model for tests and benchmarks).
    #[command(subcommand)]
    Model(score::ModelCmd),
    /// Run one round of the loop (distill, generate, validate, score, select), or resume the unfinished one.
    Round(round::RoundArgs),
    /// The kept tasks of a round, and accept / reject decisions.
    #[command(subcommand)]
    Curriculum(round::CurriculumCmd),
    /// A Solver (oracle, baseline, or an external agent) attempts a round's curriculum.
    Solve(solve::SolveArgs),
    /// Run the loop on the embedded example (imports the example traces, prints their stats).
    Demo(demo::DemoArgs),
    /// Write the curriculum (or every valid task) as SWE-bench, SWE-smith or Harbor tasks.
    Export(export::ExportArgs),
    /// Write a self-contained HTML report of the rounds (inline SVG plots).
    Report(report::ReportArgs),
    /// Fine-tune the Solver's model with LoRA on the curriculum; writes a PEFT adapter folder.
    Train(train::TrainArgs),
    /// The closed loop: N rounds of round → solve → held-out evaluation → train (resumable).
    Evolve(evolve::EvolveArgs),
    /// Grade Solver patches over HTTP for RL trainers (warm workers, bearer token, bounded queue).
    Serve(serve::ServeArgs),
    /// Does targeting help? Held-out efficacy experiments of the loop's arms at equal budget.
    #[command(subcommand)]
    Experiment(experiment::ExperimentCmd),
    /// Fan work out over machines: shard files, one shard on a node, a Ray job (`submit`).
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
}

/// Where the store lives: `--home`, else `$SOCRATIC_HOME`, else `<XDG data dir>/socratic`.
pub fn resolve_home(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(h) = flag {
        return Ok(h);
    }
    if let Some(h) = std::env::var_os("SOCRATIC_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::data_dir()
        .map(|d| d.join("socratic"))
        .ok_or_else(|| anyhow::anyhow!("no home folder: pass --home DIR or set SOCRATIC_HOME"))
}

/// Parse argv, set up logging, run, and map the result to an exit code.
pub fn main_exit_code() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    init_logging();
    exit_quietly_when_stdout_closes();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILED
        }
    };
    // Containers whose guards were dropped on an error path are being removed on threads of
    // their own: let them finish before the process ends.
    crate::sandbox::wait_for_removals(std::time::Duration::from_secs(30));
    code
}

/// `socratic ... | head`: when the reader of stdout goes away, a `println!` fails with EPIPE and
/// panics; end the process there with code 0 and no message, as ripgrep does. Every other
/// panic keeps the default report.
fn exit_quietly_when_stdout_closes() {
    let default_hook = std::panic::take_hook();
    let broken_pipe = format!("failed printing to stdout: {}", std::io::Error::from_raw_os_error(libc::EPIPE));
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        if message == Some(broken_pipe.as_str()) {
            std::process::exit(EXIT_OK);
        }
        default_hook(info)
    }));
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Run one command; `Ok` carries the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let home = resolve_home(cli.home)?;
    match cli.command {
        Command::Traces(cmd) => traces::run(&home, cmd),
        Command::Env(cmd) => env::run(&home, cmd),
        Command::Demo(args) => demo::run(&home, args),
        Command::Round(args) => round::run_round_cmd(&home, args),
        Command::Curriculum(cmd) => round::run_curriculum(&home, cmd),
        Command::Solve(args) => solve::run(&home, args),
        Command::Repo(cmd) => repo::run(cmd),
        Command::Tasks(cmd) => tasks::run(&home, cmd),
        Command::Skills(cmd) => skills::run(&home, cmd),
        Command::Bench(cmd) => bench::run(&home, cmd),
        Command::Lsp(args) => lsp::run(&home, args),
        Command::Daemon(args) => daemon::run(&home, args),
        Command::Model(cmd) => score::run_model(cmd),
        Command::Export(args) => export::run(&home, args),
        Command::Report(args) => report::run(&home, args),
        Command::Train(args) => train::run(&home, args),
        Command::Evolve(args) => evolve::run(&home, args),
        Command::Experiment(cmd) => experiment::run(&home, cmd),
        Command::Cluster(cmd) => cluster::run(&home, cmd),
        Command::Serve(args) => serve::run(&home, args),
    }
}

/// Print a value as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        // The reader went away (`| head`): nothing left to say, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
