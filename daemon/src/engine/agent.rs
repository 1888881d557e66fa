//! The agent Solver: a mini-swe-agent-style loop over an OpenAI-compatible chat endpoint whose
//! commands run inside a container of the task's environment image, never on this machine.
//!
//! Protocol (mini-swe-agent's text format): the model gets a system prompt and the problem
//! statement (never the fix) and answers each turn with exactly one ```` ```bash ```` block; a
//! reply with none or several gets a format-error observation. The command runs with `bash` in
//! the container's checkout (`/work/repo`, the bugged tree committed), network off, under a
//! per-command `timeout`; its output (stdout and stderr together, capped) comes back as
//! `<returncode>` / `<output>` (head and tail when long). A command whose output starts with
//! the line `COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` ends the run. So do the step limit, the
//! cost limit, the wall-clock limit, and an endpoint that fails for good (the error is kept).
//!
//! In: an `Engine`, the task's `Environment`, the task, its host `Checkout`, an `AgentConfig`.
//! Out: the Solver's diff (`git diff` in the container against the bugged commit, the task's
//! test files left out) applied to the host checkout, which the caller grades like any other
//! Solver's; the trajectory written (secrets redacted) as `agent.traj.json` in mini-swe-agent's
//! own format beside the checkout, and that file imported through our mini-swe-agent importer
//! as the attempt's trace.

use super::checkout::Checkout;
use crate::chat::{ChatClient, ChatError, Completion};
use crate::model::{Environment, Event, Record, Task, Trace};
use crate::sandbox::worker::REPO_DIR;
use crate::sandbox::{Container, Engine, Limits};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The line a command prints first to submit.
pub const SUBMIT_MARKER: &str = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";
/// Output characters an observation shows in full; longer output keeps its head and tail.
pub const OBSERVATION_CHARS: usize = 10_000;
/// Bytes of a command's output read back from the container at most.
const OUTPUT_CAP_BYTES: usize = 1_000_000;
/// The trajectory file written beside the checkout.
pub const TRAJECTORY_FILE: &str = "agent.traj.json";

/// The system prompt.
pub const SYSTEM_PROMPT: &str =
    "You are a helpful assistant that can interact multiple times with a computer shell to solve programming tasks.
Your response must contain exactly ONE bash code block with ONE command (or commands connected with && or ||).

Include a THOUGHT section before your command where you explain your reasoning process.
Format your response as shown in <format_example>.

<format_example>
THOUGHT: Your reasoning and analysis here

```bash
your_command_here
```
</format_example>

Failure to follow these rules will cause your response to be rejected.";

/// How the agent runs: the endpoint and model, its limits and prices.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Results are kept under this Solver name.
    pub name: String,
    pub endpoint: String,
    pub model: String,
    /// Environment variable holding the API key (read when the run starts; never stored).
    pub api_key_env: Option<String>,
    /// Model calls per task at most.
    pub step_limit: u32,
    /// USD per task at most (0 = no limit).
    pub cost_limit: f64,
    /// Seconds one command may run.
    pub command_timeout_s: u64,
    /// Seconds a whole task may take.
    pub timeout_s: u64,
    /// USD per million prompt / completion tokens, for servers that report no `usage.cost`.
    pub usd_per_mtok_in: f64,
    pub usd_per_mtok_out: f64,
    /// Extra attempts of a request after 429 / 5xx / connection errors, and the first wait.
    pub retries: u32,
    pub backoff_ms: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            name: "agent".into(),
            endpoint: String::new(),
            model: String::new(),
            api_key_env: None,
            step_limit: 50,
            cost_limit: 3.0,
            command_timeout_s: 60,
            timeout_s: 1800,
            usd_per_mtok_in: 0.0,
            usd_per_mtok_out: 0.0,
            retries: 4,
            backoff_ms: 500,
        }
    }
}

impl AgentConfig {
    /// The chat client, with the key read from the named variable (an unset variable is an
    /// error naming it).
    pub fn client(&self) -> anyhow::Result<ChatClient> {
        let api_key = crate::chat::api_key_from_env(self.api_key_env.as_deref())?;
        let mut client = ChatClient::new(&self.endpoint, api_key);
        client.retries = self.retries;
        client.backoff = Duration::from_millis(self.backoff_ms);
        client.timeout = Duration::from_secs(self.command_timeout_s.max(60) * 2);
        Ok(client)
    }

    fn cost_of(&self, c: &Completion) -> f64 {
        c.cost_usd.unwrap_or(
            (c.prompt_tokens as f64 * self.usd_per_mtok_in + c.completion_tokens as f64 * self.usd_per_mtok_out) / 1e6,
        )
    }
}

/// The first user message: the problem statement in mini-swe-agent's `<pr_description>` tags.
pub fn instance_prompt(problem: &str) -> String {
    format!(
        "<pr_description>
Consider the following PR description:
{problem}
</pr_description>

<instructions>
# Task Instructions

You are working in a Python repository at {REPO_DIR} (the current directory of every command).
Make changes to non-test files so that the issue in the PR description is resolved. Every
command runs in a new subshell (`cd` does not persist), without network access, and is killed
after a time limit; avoid interactive commands.

Recommended workflow: find the relevant code, write a script that reproduces the issue, fix the
source, check the fix, then submit.

When you are done, submit with exactly this command (nothing after it can be done):

```bash
echo {SUBMIT_MARKER}
```
</instructions>"
    )
}

/// The one bash command of a reply, or how many blocks it had (not one).
pub fn parse_action(content: &str) -> Result<String, usize> {
    static BLOCK: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"(?s)```bash\s*\n(.*?)\n```").expect("static pattern"));
    let blocks: Vec<&str> = BLOCK.captures_iter(content).filter_map(|c| c.get(1)).map(|m| m.as_str()).collect();
    match blocks.as_slice() {
        [one] => Ok(one.trim().to_string()),
        other => Err(other.len()),
    }
}

/// The observation sent after a reply without exactly one bash block.
pub fn format_error(blocks: usize) -> String {
    format!(
        "Please always provide EXACTLY ONE action in triple backticks, found {blocks} actions.

Please format your action in triple backticks as shown in <response_example>.

<response_example>
Here are some thoughts about why you want to perform the action.

```bash
<action>
```
</response_example>

If you have completed your assignment, please consult the first message about how to submit your solution (you will not be able to continue working on this task after that)."
    )
}

/// The observation of a finished command (mini-swe-agent's template: head and tail when long).
pub fn observation(exit_code: i64, output: &str) -> String {
    let n = output.chars().count();
    if n < OBSERVATION_CHARS {
        return format!("<returncode>{exit_code}</returncode>\n<output>\n{output}</output>");
    }
    let half = OBSERVATION_CHARS / 2;
    let head: String = output.chars().take(half).collect();
    let tail: String = output.chars().skip(n - half).collect();
    format!(
        "<returncode>{exit_code}</returncode>\n<warning>\nThe output of your last command was too long.\nPlease try a different command that produces less output.\n</warning>\n<output_head>\n{head}\n</output_head>\n<elided_chars>\n{} characters elided\n</elided_chars>\n<output_tail>\n{tail}\n</output_tail>",
        n - 2 * half
    )
}

/// The observation of a command killed at its time limit.
pub fn timeout_observation(command: &str, output: &str, secs: u64) -> String {
    let tail: String = output.chars().rev().take(OBSERVATION_CHARS / 2).collect::<Vec<_>>().into_iter().rev().collect();
    format!(
        "The last command <command>{command}</command> timed out after {secs} s and has been killed.\nThe output of the command was:\n<output>\n{tail}\n</output>\nPlease try another command and make sure to avoid those requiring interactive input."
    )
}

/// Whether a command's output submits (its first line is the marker).
pub fn is_submission(output: &str) -> bool {
    output.trim_start().lines().next().is_some_and(|l| l.trim() == SUBMIT_MARKER)
}

/// The test files of a task (the part of each test id before `::`): the Solver's changes to
/// them are left out of its diff, as the grading restores them.
pub fn test_files(task: &Task) -> Vec<String> {
    let mut files: Vec<String> = task
        .fail_to_pass
        .iter()
        .chain(&task.pass_to_pass)
        .filter_map(|t| t.split("::").next())
        .filter(|f| f.ends_with(".py"))
        .map(str::to_string)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// A container of the task's environment holding the bugged checkout, committed.
pub struct Session {
    container: Container,
    bugged_commit: String,
}

impl Session {
    /// Start a container (network off, default limits) and commit the bug in its checkout.
    pub async fn start(engine: &Engine, env: &Environment, task: &Task) -> anyhow::Result<Session> {
        let container = engine.start_container(&env.image, &Limits::default(), &env.run_env()).await?;
        container.write_file("/tmp/socratic-bug.patch", task.bug_patch.as_bytes(), 60).await?;
        let setup = format!(
            "cd {REPO_DIR} && git apply --whitespace=nowarn /tmp/socratic-bug.patch && rm -f /tmp/socratic-bug.patch \
             && git add -A && git -c user.name=socratic -c user.email=socratic@localhost commit -q --no-verify -m task \
             && git rev-parse HEAD"
        );
        let out = container.exec(&["bash", "-c", &setup], 120).await?;
        if out.exit_code != 0 {
            anyhow::bail!(
                "preparing the checkout of {} in its container: {}{}",
                task.id,
                out.stdout.trim(),
                out.stderr.trim()
            );
        }
        Ok(Session { container, bugged_commit: out.stdout.trim().to_string() })
    }

    /// Run one command in the checkout: (exit code, output, timed out). Output is stdout and
    /// stderr together, cut at `OUTPUT_CAP_BYTES`.
    pub async fn run(&self, command: &str, secs: u64) -> anyhow::Result<(i64, String, bool)> {
        let script =
            format!("set -o pipefail; cd {REPO_DIR} && bash -c \"$1\" 2>&1 < /dev/null | head -c {OUTPUT_CAP_BYTES}");
        let secs_s = secs.to_string();
        let argv = ["timeout", "-k", "2", &secs_s, "bash", "-c", &script, "socratic-agent", command];
        let started = Instant::now();
        let out = match self.container.exec(&argv, secs + 15).await {
            Ok(out) => out,
            Err(crate::sandbox::SandboxError::Timeout { .. }) => return Ok((-1, String::new(), true)),
            Err(e) => return Err(e.into()),
        };
        let timed_out = matches!(out.exit_code, 124 | 137) && started.elapsed() >= Duration::from_secs(secs);
        Ok((out.exit_code, format!("{}{}", out.stdout, out.stderr), timed_out))
    }

    /// The working tree against the bugged commit, untracked files included, test files out.
    pub async fn diff(&self, excluded: &[String]) -> anyhow::Result<String> {
        let mut spec = String::new();
        for f in excluded {
            spec.push(' ');
            spec.push_str(&shlex::try_quote(&format!(":(exclude){f}"))?);
        }
        let cmd = format!(
            "cd {REPO_DIR} && git add -A >/dev/null 2>&1; git diff --cached --no-color --no-ext-diff {} -- .{spec}",
            self.bugged_commit
        );
        let out = self.container.exec(&["bash", "-c", &cmd], 120).await?;
        if out.exit_code != 0 {
            anyhow::bail!("git diff in the container failed ({}): {}", out.exit_code, out.stderr.trim());
        }
        Ok(out.stdout)
    }

    pub async fn close(self) {
        if let Err(e) = self.container.remove().await {
            tracing::warn!("removing the agent's container: {e}");
        }
    }
}

/// How a run ended, in mini-swe-agent's `exit_status` words.
#[derive(Debug, Clone, PartialEq)]
pub enum Exit {
    Submitted,
    /// The step limit.
    LimitsExceeded,
    CostLimitExceeded,
    TimeoutError,
    /// The endpoint failed for good (or the container did): the message.
    Error(String),
}

impl Exit {
    pub fn status(&self) -> &'static str {
        match self {
            Exit::Submitted => "Submitted",
            Exit::LimitsExceeded => "LimitsExceeded",
            Exit::CostLimitExceeded => "CostLimitExceeded",
            Exit::TimeoutError => "TimeoutError",
            Exit::Error(_) => "AgentError",
        }
    }
}

/// The conversation and its accounting.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub messages: Vec<Value>,
    pub steps: u32,
    pub cost_usd: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub wall_s: f64,
}

fn message(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}

/// Run the loop until a submission or a limit; an endpoint or container failure ends it with
/// `Exit::Error` (what was done so far stays).
pub async fn run_loop(session: &Session, client: &ChatClient, cfg: &AgentConfig, task: &Task) -> (Run, Exit) {
    let started = Instant::now();
    let mut run = Run {
        messages: vec![message("system", SYSTEM_PROMPT), message("user", &instance_prompt(&task.problem_statement))],
        ..Run::default()
    };
    let exit = loop {
        if run.steps >= cfg.step_limit {
            break Exit::LimitsExceeded;
        }
        if cfg.cost_limit > 0.0 && run.cost_usd >= cfg.cost_limit {
            break Exit::CostLimitExceeded;
        }
        if started.elapsed() >= Duration::from_secs(cfg.timeout_s) {
            break Exit::TimeoutError;
        }
        let (c, model, messages) = (client.clone(), cfg.model.clone(), run.messages.clone());
        let reply = tokio::task::spawn_blocking(move || c.complete(&model, &messages)).await;
        let completion = match reply {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => break Exit::Error(chat_error_text(&e)),
            Err(e) => break Exit::Error(format!("the request thread failed: {e}")),
        };
        run.steps += 1;
        run.cost_usd += cfg.cost_of(&completion);
        run.prompt_tokens += completion.prompt_tokens;
        run.completion_tokens += completion.completion_tokens;
        run.messages.push(message("assistant", &completion.content));
        let command = match parse_action(&completion.content) {
            Ok(c) => c,
            Err(n) => {
                run.messages.push(message("user", &format_error(n)));
                continue;
            }
        };
        match session.run(&command, cfg.command_timeout_s).await {
            Ok((_, output, _)) if is_submission(&output) => break Exit::Submitted,
            Ok((_, output, true)) => {
                run.messages.push(message("user", &timeout_observation(&command, &output, cfg.command_timeout_s)))
            }
            Ok((code, output, false)) => run.messages.push(message("user", &observation(code, &output))),
            Err(e) => break Exit::Error(format!("running the command in the container: {e:#}")),
        }
    };
    run.wall_s = started.elapsed().as_secs_f64();
    (run, exit)
}

fn chat_error_text(e: &ChatError) -> String {
    format!("the model endpoint failed: {e}")
}

/// The trajectory in mini-swe-agent's format (`mini-swe-agent-1`), redacted.
pub fn trajectory(run: &Run, exit: &Exit, submission: &str, cfg: &AgentConfig, task: &Task, image: &str) -> Value {
    let mut info = json!({
        "exit_status": exit.status(),
        "submission": submission,
        "model_stats": {
            "instance_cost": run.cost_usd,
            "api_calls": run.steps,
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
        },
        "config": {
            "agent": {"step_limit": cfg.step_limit, "cost_limit": cfg.cost_limit},
            "model": {"model_name": cfg.model, "endpoint": cfg.endpoint},
            "environment": {"image": image, "network": false, "command_timeout_s": cfg.command_timeout_s},
        },
        "wall_s": run.wall_s,
    });
    if let Exit::Error(why) = exit {
        info["error"] = json!(why);
    }
    let mut doc = json!({
        "info": info,
        "messages": run.messages,
        "trajectory_format": "mini-swe-agent-1",
        "instance_id": task.id,
    });
    crate::redact::redact_value(&mut doc);
    doc
}

/// What the agent did for one task: the events and trace for the caller to grade and store.
pub struct AgentAttempt {
    /// The trajectory as our importer reads it back (the stored trace).
    pub imported: Option<Trace>,
    /// Events when the trajectory could not be imported, and the error of a failed run.
    pub events: Vec<Event>,
    /// Why the run ended early, if it failed.
    pub error: Option<String>,
}

/// Attempt `task`: run the loop in a container, bring its diff into `checkout`, write and
/// import the trajectory. Only a container that cannot be started or prepared is an error.
pub async fn attempt(
    engine: &Engine,
    env: &Environment,
    task: &Task,
    checkout: &Checkout,
    folder: &Path,
    cfg: &AgentConfig,
) -> anyhow::Result<AgentAttempt> {
    let client = cfg.client()?;
    let session = Session::start(engine, env, task).await?;
    let (run, mut exit) = run_loop(&session, &client, cfg, task).await;
    let diff = session.diff(&test_files(task)).await;
    session.close().await;
    let mut notes = Vec::new();
    match diff.map_err(|e| format!("{e:#}")).and_then(|d| bring_back(checkout, &d)) {
        Ok(()) => {}
        Err(e) => notes.push(format!("the agent's diff was not taken: {e}")),
    }
    let submission = checkout.solver_diff()?;
    if let (Exit::Submitted, Some(n)) = (&exit, notes.first()) {
        exit = Exit::Error(n.clone());
    }
    let doc = trajectory(&run, &exit, &submission, cfg, task, &env.image);
    let path = folder.join(TRAJECTORY_FILE);
    let bytes = serde_json::to_vec_pretty(&doc)?;
    std::fs::write(&path, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut events = Vec::new();
    let imported = match crate::traces::parse_file(&path, &bytes) {
        Ok((_, records)) => records.into_iter().find_map(|r| match r {
            Record::Trace(t) => Some(t),
            _ => None,
        }),
        Err(e) => {
            notes.push(format!("the agent's trajectory was not imported: {e}"));
            None
        }
    };
    let error = match &exit {
        Exit::Error(why) => Some(why.clone()),
        _ => None,
    };
    notes.extend(error.clone());
    for n in notes {
        events.push(Event::Message { role: "system".into(), text: crate::redact::redact(&n).into_owned() });
    }
    Ok(AgentAttempt { imported, events, error })
}

/// Apply the container's diff to the host checkout. Symbolic links are refused: the checkout
/// is read on this machine, and a link could point anywhere.
fn bring_back(checkout: &Checkout, diff: &str) -> Result<(), String> {
    if diff.trim().is_empty() {
        return Ok(());
    }
    if diff.lines().any(|l| (l.starts_with("new file mode") || l.starts_with("new mode")) && l.ends_with("120000")) {
        return Err("it creates a symbolic link".into());
    }
    let repo = crate::diff::git::Repo::open(&checkout.dir).map_err(|e| e.to_string())?;
    repo.apply_to_workdir(diff).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_needs_exactly_one_bash_block() {
        assert_eq!(parse_action("THOUGHT: x\n\n```bash\nls -la\n```\n"), Ok("ls -la".to_string()));
        assert_eq!(parse_action("no block here"), Err(0));
        assert_eq!(parse_action("```bash\nls\n```\n```bash\npwd\n```"), Err(2));
        assert_eq!(parse_action("```python\nprint(1)\n```"), Err(0));
        assert!(format_error(2).contains("found 2 actions"));
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        assert_eq!(observation(0, "hi\n"), "<returncode>0</returncode>\n<output>\nhi\n</output>");
        let long: String = (0..30_000).map(|i| if i % 100 == 99 { '\n' } else { 'x' }).collect::<String>() + "END";
        let o = observation(1, &long);
        assert!(
            o.contains("<output_head>") && o.contains("<output_tail>") && o.ends_with("END\n</output_tail>"),
            "{o}"
        );
        assert!(o.contains("20003 characters elided"), "{o}");
        assert!(o.len() < OBSERVATION_CHARS + 1_000);
    }

    #[test]
    fn submission_is_the_marker_on_the_first_line() {
        assert!(is_submission("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n"));
        assert!(is_submission("\nCOMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\ndiff --git a b"));
        assert!(!is_submission("grep: COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n"));
        assert!(!is_submission(""));
    }

    #[test]
    fn the_trajectory_round_trips_through_our_importer() {
        let task = crate::engine::curriculum::tests::task("t-9", 1, crate::model::Decision::None);
        let cfg = AgentConfig { model: "stub".into(), endpoint: "http://127.0.0.1:1".into(), ..Default::default() };
        let mut run = Run { steps: 2, cost_usd: 0.25, ..Default::default() };
        run.messages = vec![
            message("system", SYSTEM_PROMPT),
            message("user", &instance_prompt("the ledger total is off by one")),
            message("assistant", "THOUGHT: look\n\n```bash\ncat app.py\n```"),
            message("user", &observation(0, "x = 1\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")),
            message("assistant", &format!("done\n\n```bash\necho {SUBMIT_MARKER}\n```")),
        ];
        let patch = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n";
        let doc = trajectory(&run, &Exit::Submitted, patch, &cfg, &task, "img");
        let text = doc.to_string();
        assert!(!text.contains("wJalrXUtnFEMI"), "the secret is redacted: {text}");
        let (format, records) =
            crate::traces::parse_file(Path::new("agent.traj.json"), text.as_bytes()).expect("imports");
        assert_eq!(format, "mini-swe-agent");
        let Some(Record::Trace(t)) = records.into_iter().next() else { panic!("no trace") };
        assert_eq!(t.final_patch.as_deref(), Some(patch));
        assert_eq!(t.task.instance_id.as_deref(), Some("t-9"));
        assert_eq!(t.task.problem_statement.as_deref(), Some("the ledger total is off by one"));
        assert_eq!(t.cost_usd, Some(0.25));
        assert_eq!(t.model.as_deref(), Some("stub"));
        let kinds: Vec<&str> = t.events.iter().map(|e| e.kind()).collect();
        assert!(kinds.contains(&"command") && kinds.last() == Some(&"submit"), "{kinds:?}");
        let limited = trajectory(&run, &Exit::LimitsExceeded, "", &cfg, &task, "img");
        let (_, records) = crate::traces::parse_file(Path::new("a.traj.json"), limited.to_string().as_bytes()).unwrap();
        let Some(Record::Trace(t)) = records.into_iter().next() else { panic!("no trace") };
        assert!(t.label.reason.contains("LimitsExceeded"), "{}", t.label.reason);
    }
}
