//! The setup agent: when an environment build would be refused, an OpenAI-compatible chat model
//! is shown the repository's facts and proposes one shell command per turn; each runs in the
//! build's install container (root, network on, as the rules' installs do; never on the host)
//! and, when it succeeded and may have changed something, the clean suite is measured again.
//! The first turn after which the build passes ends it; at most `turns` turns.
//!
//! In: the build in progress (its install container), what was installed, why the build is
//! refused, the endpoint / model / key / turns. Out: the `Environment` (install commands
//! extended with the agent's, `RecipeSource::Agent` with the model, turns and the commands
//! kept) named after the recipe those commands make ([`agent_recipe`], which the caller writes
//! to `.socratic/env.toml`), or the refusal naming every turn. The prompt, the reply's command
//! and what is fed back are plain functions; `help` is the loop and its IO.

use super::image::{judge_build, measure, Build, EnvConfig, Installed};
use super::recipe_file::{RecipeFile, MAX_COMMAND_CHARS};
use super::{Result, SandboxError};
use crate::chat::ChatClient;
use crate::model::{Environment, RecipeSource};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::LazyLock;

/// The endpoint, model and limits of the setup agent.
#[derive(Clone)]
pub struct SetupAgentConfig {
    /// Base URL or full `/chat/completions` URL.
    pub endpoint: String,
    pub model: String,
    /// Sent as a Bearer token (read by the caller from the variable the user named).
    pub api_key: Option<String>,
    /// Model calls at most.
    pub turns: u32,
    /// Seconds one command may run (then it is killed in the container).
    pub command_timeout_s: u64,
    /// Extra attempts of a request after 429 / 5xx / connection errors.
    pub retries: u32,
}

impl std::fmt::Debug for SetupAgentConfig {
    /// The key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupAgentConfig")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("turns", &self.turns)
            .field("command_timeout_s", &self.command_timeout_s)
            .finish()
    }
}

impl Default for SetupAgentConfig {
    fn default() -> Self {
        SetupAgentConfig {
            endpoint: String::new(),
            model: String::new(),
            api_key: None,
            turns: 6,
            command_timeout_s: 600,
            retries: 2,
        }
    }
}

/// What the agent is asked to repair.
pub(super) struct Ask<'a> {
    pub repo: &'a Path,
    pub head: &'a str,
    /// The image name the build started with (replaced by the recipe's on success).
    pub image: &'a str,
    pub cfg: &'a EnvConfig,
    pub installed: &'a Installed,
    /// The recipe file the build installed from, if any (kept in the recipe written).
    pub recipe: Option<&'a RecipeFile>,
    /// Why the build is refused.
    pub problem: String,
}

/// Bytes of a command's output fed back: its head and its tail.
const OUTPUT_HEAD: usize = 1500;
const OUTPUT_TAIL: usize = 2500;

const SYSTEM_PROMPT: &str = "You set up the test environment of a Python repository. You work in a Debian \
container as root with the network on; the repository is the current folder (/repo). The system Python is \
`python3`; pip needs `--break-system-packages`. After each command of yours that succeeds, the repository's \
test suite runs again (`python3 -m pytest`, network off, as an unprivileged user) and you are told the result. \
Install what the tests need; do not edit the repository's tracked files (edits are undone). Reply with \
exactly ONE ```bash code block holding one command (commands may be joined with && or ;). Say nothing else \
that matters: only the command is run.";

/// Let the model try to make the refused build pass. On success the environment (not yet
/// committed: the caller commits it under `env.image`).
pub(super) async fn help(build: &mut Build<'_>, agent: &SetupAgentConfig, ask: Ask<'_>) -> Result<Environment> {
    let mut client = ChatClient::new(&agent.endpoint, agent.api_key.clone());
    client.retries = agent.retries;
    let mut messages = vec![message("system", SYSTEM_PROMPT), message("user", &facts(&ask))];
    let mut problem = ask.problem.clone();
    let mut kept: Vec<String> = Vec::new();
    let mut log: Vec<String> = Vec::new();
    for turn in 1..=agent.turns {
        let (c, model, history) = (client.clone(), agent.model.clone(), messages.clone());
        let reply = tokio::task::spawn_blocking(move || c.complete(&model, &history))
            .await
            .map_err(|e| SandboxError::Other(format!("the setup agent's request thread failed: {e}")))?
            .map_err(|e| {
                SandboxError::Other(format!("{problem}; the setup agent's endpoint failed on turn {turn}: {e}"))
            })?;
        messages.push(message("assistant", &reply.content));
        let command = match parse_command(&reply.content) {
            Ok(c) => c,
            Err(why) => {
                log.push(format!("{turn}: no command ({why})"));
                messages.push(message("user", &why));
                continue;
            }
        };
        let (code, output) = run_command(build, &command, agent.command_timeout_s).await?;
        let undone = undo_tracked_edits(build).await?;
        log.push(format!("{turn}: `{}` exit {code}", shorten(&command, 80)));
        let remeasure = code == 0 && !read_only(&command);
        if remeasure {
            kept.push(command.clone());
            let measured = measure(build, ask.repo, ask.cfg, ask.installed).await;
            match judge_build(ask.repo, ask.head, ask.image, ask.cfg, measured)? {
                Ok(env) => return Ok(succeeded(env, &ask, agent, turn, kept)),
                Err(now) => problem = now,
            }
        }
        messages.push(message("user", &observation(code, &output, &undone, remeasure.then_some(problem.as_str()))));
    }
    Err(SandboxError::Other(format!(
        "{problem}; the setup agent ({}) did not make the suite pass in {} turn{}: {}",
        agent.model,
        agent.turns,
        if agent.turns == 1 { "" } else { "s" },
        if log.is_empty() { "no turn".to_string() } else { log.join("; ") }
    )))
}

/// The environment after the agent's turn `turn` made the build pass: its commands after the
/// install commands, its record, and the name of the image the written recipe will build.
fn succeeded(env: Environment, ask: &Ask<'_>, agent: &SetupAgentConfig, turn: u32, kept: Vec<String>) -> Environment {
    let mut install_commands = ask.installed.commands.clone();
    install_commands.extend(kept.iter().cloned());
    let env = Environment {
        install_commands,
        recipe_source: RecipeSource::Agent { model: agent.model.clone(), turns: turn, commands: kept },
        ..env
    };
    let recipe = agent_recipe(&env, ask.recipe);
    let repo_name = ask.repo.file_name().and_then(|n| n.to_str()).unwrap_or("repo");
    let image = super::image::env_image_name_for(repo_name, ask.head, &ask.cfg.base_image, Some(&recipe));
    Environment { image, ..env }
}

/// The recipe an agent-made environment stands for: every install command that worked (the
/// rules' or the old recipe's, then the agent's), with the old recipe's image, words and
/// variables.
pub fn agent_recipe(env: &Environment, old: Option<&RecipeFile>) -> RecipeFile {
    let old = old.cloned().unwrap_or_default();
    RecipeFile {
        base_image: old.base_image,
        apt: vec![],
        install: env.install_commands.clone(),
        pip: vec![],
        pytest_args: old.pytest_args,
        env: old.env,
    }
}

/// The header of a recipe file the agent's success wrote.
pub fn recipe_header(env: &Environment) -> String {
    let who = match &env.recipe_source {
        RecipeSource::Agent { model, turns, .. } => format!("the setup agent ({model}, {turns} turns)"),
        _ => "socratic".to_string(),
    };
    format!(
        "socratic's install recipe for this repository: `socratic env build` installs from it instead of\n\
         guessing from the project's files. Written by {who} at commit {}.\n\
         Edit it and commit it. Keys: base_image, apt, install, pip, pytest_args, [env] (see the README).",
        &env.head[..12.min(env.head.len())]
    )
}

fn message(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}

/// The first user message: why the build is refused, what was installed, the repository's
/// files and the heads of its packaging and test configuration files.
fn facts(ask: &Ask<'_>) -> String {
    let mut s = format!("The environment build was refused:\n{}\n\n", ask.problem);
    if !ask.installed.commands.is_empty() {
        s.push_str("Install commands that ran (in /repo, as root):\n");
        for c in &ask.installed.commands {
            s.push_str(&format!("  {c}\n"));
        }
    }
    if !ask.installed.notes.is_empty() {
        s.push_str("Install steps that failed:\n");
        for n in &ask.installed.notes {
            s.push_str(&format!("  {}\n", shorten(n, 600)));
        }
    }
    s.push_str(&format!("\nFiles of the repository:\n{}\n", file_list(ask.repo, 6, 300)));
    let mut budget = 12_000usize;
    for (name, text) in config_files(ask.repo) {
        let head: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
        let head = shorten(&head, 1500.min(budget));
        if head.is_empty() {
            break;
        }
        budget = budget.saturating_sub(head.len());
        s.push_str(&format!("\n--- {name} (head) ---\n{head}\n"));
    }
    s.push_str("\nPropose the first command.");
    s
}

/// The packaging and test configuration files worth showing, with their text.
fn config_files(repo: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = super::recipe::read_project(repo).into_iter().collect();
    for extra in ["noxfile.py", "Makefile", "conftest.py", "tests/conftest.py", "MANIFEST.in"] {
        if let Ok(text) = std::fs::read_to_string(repo.join(extra)) {
            files.push((extra.to_string(), text));
        }
    }
    files
}

/// Paths under `repo` down to `depth` (folders end in `/`), shallow ones first, caches and
/// `.git` left out, at most `max` (then a count of the rest).
fn file_list(repo: &Path, depth: usize, max: usize) -> String {
    let skip = [".git", "__pycache__", ".pytest_cache", ".venv", "node_modules", ".tox", ".mypy_cache"];
    let walk = walkdir::WalkDir::new(repo).min_depth(1).max_depth(depth);
    let mut entries: Vec<(usize, String)> = walk
        .into_iter()
        .filter_entry(|e| !skip.iter().any(|s| e.file_name() == *s))
        .flatten()
        .take(20_000)
        .map(|e| {
            let rel = e.path().strip_prefix(repo).unwrap_or(e.path()).display().to_string();
            (e.depth(), if e.file_type().is_dir() { format!("{rel}/") } else { rel })
        })
        .collect();
    entries.sort();
    let more = entries.len().saturating_sub(max);
    let mut shown: Vec<String> = entries.into_iter().take(max).map(|(_, p)| p).collect();
    shown.sort();
    let mut out: Vec<String> = shown.into_iter().map(|p| format!("  {p}")).collect();
    if more > 0 {
        out.push(format!("  ... and {more} more"));
    }
    out.join("\n")
}

/// The one command of a reply (a single ```bash / ```sh block), or what to tell the model.
pub fn parse_command(content: &str) -> std::result::Result<String, String> {
    static BLOCK: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"(?s)```(?:bash|sh|shell)[ \t]*\r?\n(.*?)```").expect("static pattern"));
    let blocks: Vec<&str> = BLOCK.captures_iter(content).filter_map(|c| c.get(1)).map(|m| m.as_str()).collect();
    match blocks.as_slice() {
        [one] if !one.trim().is_empty() => {
            let command = one.trim().to_string();
            if command.chars().count() > MAX_COMMAND_CHARS {
                Err(format!("The command is longer than {MAX_COMMAND_CHARS} characters; propose a shorter one."))
            } else {
                Ok(command)
            }
        }
        [_] => Err("The ```bash block is empty; put one command in it.".into()),
        other => Err(format!(
            "Found {} ```bash blocks; reply with exactly ONE ```bash block holding one command.",
            other.len()
        )),
    }
}

/// A command that only looks (lists, prints, searches) and writes nothing: no test run after it
/// and not kept in the recipe.
pub fn read_only(command: &str) -> bool {
    const LOOKERS: &[&str] = &[
        "ls", "cat", "head", "tail", "find", "grep", "pwd", "echo", "wc", "file", "which", "tree", "stat", "env",
        "printenv", "true", "id", "uname", "du", "df",
    ];
    let writes = [">", "|", ";", "&", "$(", "`", "\n", "-exec", "-delete"];
    let first = command.split_whitespace().next().unwrap_or("");
    LOOKERS.contains(&first) && !writes.iter().any(|w| command.contains(w))
}

/// What the model is told after a command: its exit code, its output (head and tail), edits
/// undone, and the suite's state when it ran again.
pub fn observation(code: i64, output: &str, undone: &str, suite: Option<&str>) -> String {
    let mut s = format!("exit code {code}");
    if code == 124 {
        s.push_str(" (timed out: the command was killed)");
    }
    s.push_str(&format!("\noutput:\n{}\n", if output.trim().is_empty() { "(none)" } else { output.trim_end() }));
    if !undone.is_empty() {
        s.push_str(&format!("Your edits to tracked files were undone: {undone}\n"));
    }
    match suite {
        Some(problem) => s.push_str(&format!("The test suite ran again and the build is still refused:\n{problem}\n")),
        None if code == 0 => s.push_str("(the command only looked, so the suite did not run again)\n"),
        None => s.push_str("(the command failed, so the suite did not run again)\n"),
    }
    s.push_str("Propose the next command.");
    s
}

/// Run one command in the install container (a `timeout` kills it there); its exit code and
/// its output, cut to its head and tail.
async fn run_command(build: &mut Build<'_>, command: &str, secs: u64) -> Result<(i64, String)> {
    let quoted = shlex::try_quote(command).map(|q| q.into_owned()).unwrap_or_else(|_| "''".into());
    let out = "/tmp/socratic-setup.out";
    let limit = OUTPUT_HEAD + OUTPUT_TAIL;
    let script = format!(
        "timeout -k 5 {secs} sh -c {quoted} >{out} 2>&1 </dev/null; code=$?; n=$(wc -c <{out}); \
         if [ \"$n\" -gt {limit} ]; then head -c {OUTPUT_HEAD} {out}; printf '\\n[... %s bytes cut ...]\\n' $((n - {limit})); \
         tail -c {OUTPUT_TAIL} {out}; else cat {out}; fi; rm -f {out}; exit $code"
    );
    let result = build.install_sh(&script, secs + 60).await?;
    Ok((result.exit_code, result.stdout))
}

/// Revert edits of tracked files (the environment is HEAD's); the files that were edited.
async fn undo_tracked_edits(build: &mut Build<'_>) -> Result<String> {
    let out = build.install_sh("git diff --name-only; git checkout -q -- .", 120).await?;
    let files: Vec<&str> = out.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    Ok(files.join(", "))
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_holds_exactly_one_command_block() {
        assert_eq!(
            parse_command("I will:\n```bash\npip install ./vendor/x\n```\n"),
            Ok("pip install ./vendor/x".into())
        );
        assert_eq!(parse_command("```sh\nls\n```"), Ok("ls".into()));
        assert!(parse_command("no block").unwrap_err().contains("Found 0"));
        assert!(parse_command("```bash\nls\n```\n```bash\npwd\n```").unwrap_err().contains("Found 2"));
        assert!(parse_command("```bash\n\n```").unwrap_err().contains("empty"));
        let long = format!("```bash\n{}\n```", "x".repeat(MAX_COMMAND_CHARS + 1));
        assert!(parse_command(&long).unwrap_err().contains("longer than"));
    }

    #[test]
    fn looking_commands_are_read_only() {
        assert!(read_only("ls -la vendor"));
        assert!(read_only("cat setup.cfg"));
        assert!(!read_only("cat a > b"));
        assert!(!read_only("ls; pip install x"));
        assert!(!read_only("python3 -m pip install ./vendor/x"));
        assert!(!read_only("find . -name '*.pyc' -delete"));
    }

    #[test]
    fn the_file_list_shows_shallow_paths_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b/c/d")).unwrap();
        std::fs::write(dir.path().join("a/b/c/d/deep.toml"), "").unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("top{i}.py")), "").unwrap();
        }
        let all = file_list(dir.path(), 6, 100);
        assert!(all.contains("  a/b/c/d/deep.toml") && !all.contains(".git"), "{all}");
        let few = file_list(dir.path(), 6, 6);
        assert!(few.contains("top4.py") && few.contains("  a/\n") && !few.contains("deep"), "{few}");
        assert!(few.ends_with("... and 4 more"), "{few}");
    }

    #[test]
    fn observations_say_what_happened() {
        let o = observation(0, "done\n", "", Some("refusing /r: no test ran"));
        assert!(o.starts_with("exit code 0\noutput:\ndone\n") && o.contains("still refused:\nrefusing /r"), "{o}");
        assert!(observation(1, "", "", None).contains("(none)") && observation(1, "", "", None).contains("failed"));
        assert!(
            observation(124, "x", "setup.py", None).contains("timed out")
                && observation(0, "", "setup.py", None).contains("undone: setup.py")
        );
    }

    #[test]
    fn an_agent_recipe_keeps_the_old_recipes_settings_and_every_command() {
        let old = RecipeFile {
            base_image: Some("python:3.12-slim".into()),
            pytest_args: vec!["-x".into()],
            env: [("TZ".to_string(), "UTC".to_string())].into(),
            pip: vec!["hypothesis".into()],
            ..Default::default()
        };
        let env: Environment = serde_json::from_value(json!({
            "repo": "/r", "head": "0123456789abcdef", "image": "i", "base_image": "b",
            "install_commands": ["pip install -e .", "pip install ./vendor/x"], "clean": {}, "coverage": {},
            "build_ms": 0,
            "recipe_source": {"kind": "agent", "model": "m", "turns": 2, "commands": ["pip install ./vendor/x"]}
        }))
        .unwrap();
        let r = agent_recipe(&env, Some(&old));
        assert_eq!(r.install, env.install_commands);
        assert!(r.pip.is_empty());
        assert_eq!((r.base_image, r.pytest_args, r.env), (old.base_image, old.pytest_args, old.env));
        let header = recipe_header(&env);
        assert!(header.contains("setup agent (m, 2 turns)") && header.contains("0123456789ab"), "{header}");
        assert_eq!(
            env.recipe_source.describe(),
            "setup agent (m, 2 turns, 1 command kept; saved to .socratic/env.toml)"
        );
    }
}
