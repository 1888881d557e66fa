//! The model agent Solver (`solve --solver agent`) end to end: a real round on the example
//! repository, real Docker containers, and a stub OpenAI-compatible server on 127.0.0.1 whose
//! thread scripts the "model". Runs that fix the bug (resolved, after a 429 retried), loop to
//! the step limit, send malformed replies, hit a 401, and lose the server mid-run (each task's
//! attempt ends with the error recorded and the other tasks go on); a hostile "model" (network,
//! writing a host path, `rm -rf /`) changes nothing outside its container. Trajectories are
//! mini-swe-agent files that our importer reads back with the graded patch. Prints the agent
//! loop's steps/s against the stub.

use serde_json::{json, Value};
use socratic::model::{Outcome, Record, SolveResult};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod common;
use common::socratic_cmd;

/// What the stub answers to one request.
enum Answer {
    /// A 200 completion with this content.
    Say(String),
    Status(u16),
    /// Close the connection unanswered and stop listening (the server dies).
    Die,
}

type Script = Box<dyn Fn(usize, &Value) -> Answer + Send>;

/// A chat server on 127.0.0.1 answering each request (index, JSON body) through `script`.
fn stub(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let body = read_request(&stream);
            let (status, text) = match script(n, &body) {
                Answer::Say(content) => (
                    200,
                    json!({"choices": [{"message": {"role": "assistant", "content": content}}],
                           "usage": {"prompt_tokens": 1000, "completion_tokens": 50}})
                    .to_string(),
                ),
                Answer::Status(s) => (s, json!({"error": {"message": "scripted"}}).to_string()),
                Answer::Die => return,
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.flush();
        }
    });
    url
}

fn read_request(stream: &std::net::TcpStream) -> Value {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut buf = vec![0u8; length];
    let _ = reader.read_exact(&mut buf);
    serde_json::from_slice(&buf).unwrap_or(Value::Null)
}

/// How many replies the model already gave in this conversation.
fn turns(body: &Value) -> usize {
    body["messages"].as_array().map_or(0, |m| m.iter().filter(|m| m["role"] == "assistant").count())
}

fn bash(command: &str) -> String {
    format!("THOUGHT: next step.\n\n```bash\n{command}\n```")
}

const SUBMIT: &str = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";

/// A command that writes every fix into the container and applies the ones that fit.
fn fix_command(fixes: &[String]) -> String {
    let mut cmd = String::from("mkdir -p /tmp/fixes\n");
    for (i, f) in fixes.iter().enumerate() {
        cmd.push_str(&format!("cat > /tmp/fixes/{i}.patch <<'SOCRATIC_FIX'\n{}SOCRATIC_FIX\n", f));
    }
    cmd.push_str("for p in /tmp/fixes/*.patch; do git apply \"$p\" 2>/dev/null && echo \"applied $p\"; done; true");
    cmd
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
    round: u32,
    kept: Vec<String>,
    fixes: Vec<String>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let home = path.join("home");
    let repo = path.join("tallyho");
    socratic::examples::write_example_repo(&repo).unwrap();
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces");
    let out = socratic_cmd(&home, &["traces", "import", traces.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let round =
        run_json(&home, &["round", "--repo", repo.to_str().unwrap(), "--budget", "12", "--keep", "3", "--json"]);
    let kept: Vec<String> = round["kept"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert!(kept.len() >= 2, "{round}");
    let conn = rusqlite::Connection::open(home.join("socratic.db")).unwrap();
    let fixes = kept
        .iter()
        .map(|id| {
            let text: String = conn.query_row("SELECT json FROM tasks WHERE id = ?1", [id], |r| r.get(0)).unwrap();
            let task: socratic::model::Task = serde_json::from_str(&text).unwrap();
            socratic::diff::reverse(&task.bug_patch).unwrap()
        })
        .collect();
    Fixture { _dir: dir, dir: path, home, round: round["number"].as_u64().unwrap_or(1) as u32, kept, fixes }
}

fn run_json(home: &Path, args: &[&str]) -> Value {
    let out = socratic_cmd(home, args).env("STUB_KEY", "sk-stub-0123456789abcdef0123456789abcdef").output().unwrap();
    assert!(
        out.status.success(),
        "socratic {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn solve(f: &Fixture, url: &str, name: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "solve",
        "--solver",
        "agent",
        "--endpoint",
        url,
        "--model",
        "stub-model",
        "--api-key-env",
        "STUB_KEY",
        "--name",
        name,
        "--command-timeout",
        "20",
        "--json",
    ];
    args.extend_from_slice(extra);
    run_json(&f.home, &args)
}

fn results(f: &Fixture, name: &str) -> Vec<SolveResult> {
    socratic::store::Store::open(&f.home).unwrap().solve_results_of(f.round, name).unwrap()
}

fn trajectory(f: &Fixture, name: &str, task: &str) -> (Value, PathBuf) {
    let path = f.home.join("solve").join(format!("round-{}", f.round)).join(name).join(task).join("agent.traj.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (serde_json::from_str(&text).unwrap(), path)
}

/// (steps, seconds) of the agent loops of a Solver's trajectories.
fn loop_time(f: &Fixture, name: &str) -> (f64, f64) {
    f.kept.iter().fold((0.0, 0.0), |(s, t), id| {
        let (doc, _) = trajectory(f, name, id);
        (
            s + doc["info"]["model_stats"]["api_calls"].as_f64().unwrap_or(0.0),
            t + doc["info"]["wall_s"].as_f64().unwrap_or(0.0),
        )
    })
}

fn user_texts(doc: &Value) -> Vec<String> {
    doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn the_agent_solver_runs_sandboxed_against_a_scripted_endpoint() {
    let f = fixture();
    let n = f.kept.len();

    // Bad arguments are refused with a clear error.
    let out = socratic_cmd(&f.home, &["solve", "--solver", "agent", "--model", "m"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--endpoint"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = socratic_cmd(
        &f.home,
        &[
            "solve",
            "--solver",
            "agent",
            "--endpoint",
            "http://127.0.0.1:9",
            "--model",
            "m",
            "--api-key-env",
            "SOCRATIC_NO_SUCH_VAR",
        ],
    )
    .output()
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOCRATIC_NO_SUCH_VAR"));

    // 1. The model fixes each bug and submits; the very first request gets a 429 and is retried.
    let fixes = fix_command(&f.fixes);
    let url = stub(Box::new(move |i, body| match (i, turns(body)) {
        (0, _) => Answer::Status(429),
        (_, 0) => Answer::Say(bash(&fixes)),
        _ => Answer::Say(bash(SUBMIT)),
    }));
    let fixed = solve(&f, &url, "agent-fix", &[]);
    assert_eq!(fixed["by_outcome"]["resolved"], n, "{fixed}");
    assert!(fixed.get("errors").is_none(), "{fixed}");
    for r in results(&f, "agent-fix") {
        assert_eq!(r.report.outcome, Outcome::Resolved);
        // The stored trajectory is mini-swe-agent's format; our importer gives back the graded patch.
        let (doc, path) = trajectory(&f, "agent-fix", &r.task_id);
        assert_eq!(doc["trajectory_format"], "mini-swe-agent-1");
        assert_eq!(doc["info"]["exit_status"], "Submitted");
        assert_eq!(doc["info"]["model_stats"]["api_calls"], 2);
        assert!(!doc.to_string().contains("sk-stub-0123"), "the key never reaches the trajectory");
        let bytes = std::fs::read(&path).unwrap();
        let (format, records) = socratic::traces::parse_file(&path, &bytes).unwrap();
        assert_eq!(format, "mini-swe-agent");
        let Some(Record::Trace(t)) = records.into_iter().next() else { panic!("no trace in {}", path.display()) };
        assert_eq!(t.final_patch.as_deref(), Some(r.diff.as_str()));
        assert!(
            r.diff.lines().filter(|l| l.starts_with("diff --git")).all(|l| !l.contains("test")),
            "test files stay out of the diff: {}",
            r.diff
        );
        assert_eq!(t.task.instance_id.as_deref(), Some(r.task_id.as_str()));
        assert!(t.events.iter().any(|e| e.kind() == "submit"));
    }

    // 2. A model that never submits stops at the step limit: graded with what it has.
    let url = stub(Box::new(|_, _| Answer::Say(bash("ls -la && git status --short"))));
    let looped = solve(&f, &url, "agent-loop", &["--step-limit", "3"]);
    assert_eq!(looped["by_outcome"]["no-patch"], n, "{looped}");
    for id in &f.kept {
        let (doc, _) = trajectory(&f, "agent-loop", id);
        assert_eq!(doc["info"]["exit_status"], "LimitsExceeded");
        assert_eq!(doc["info"]["model_stats"]["api_calls"], 3);
        assert_eq!(doc["info"]["model_stats"]["prompt_tokens"], 3000);
        assert!(user_texts(&doc).iter().any(|t| t.starts_with("<returncode>0</returncode>")), "{doc}");
    }
    let (steps, secs) = loop_time(&f, "agent-loop");
    let (fix_steps, fix_secs) = loop_time(&f, "agent-fix");
    println!(
        "bench: agent loop against the stub: {:.1} steps/s ({} steps in {:.2} s; fix runs {:.1} steps/s)",
        steps / secs,
        steps,
        secs,
        fix_steps / fix_secs
    );

    // The cost limit stops a run too (usage tokens priced per million).
    let url = stub(Box::new(|_, _| Answer::Say(bash("true"))));
    solve(&f, &url, "agent-cost", &["--cost-limit", "0.02", "--price-in", "10", "--step-limit", "10"]);
    let (doc, _) = trajectory(&f, "agent-cost", &f.kept[0]);
    assert_eq!(doc["info"]["exit_status"], "CostLimitExceeded");
    assert_eq!(doc["info"]["model_stats"]["api_calls"], 2, "two calls at 0.01 USD reach 0.02 USD");

    // 3. Malformed replies get mini-swe-agent's format error, then the step limit ends the run.
    let url = stub(Box::new(|i, _| {
        Answer::Say(if i % 2 == 0 {
            "I think I will look around.".into()
        } else {
            format!("{}\n{}", bash("ls"), bash("pwd"))
        })
    }));
    let bad = solve(&f, &url, "agent-bad", &["--step-limit", "2"]);
    assert_eq!(bad["by_outcome"]["no-patch"], n, "{bad}");
    let (doc, _) = trajectory(&f, "agent-bad", &f.kept[0]);
    let users = user_texts(&doc);
    assert!(users.iter().any(|t| t.contains("found 0 actions")), "{users:?}");
    assert!(users.iter().any(|t| t.contains("found 2 actions")), "{users:?}");
    assert_eq!(doc["info"]["exit_status"], "LimitsExceeded");

    // 4. A 401 is not retried and names the endpoint.
    let url = stub(Box::new(|_, _| Answer::Status(401)));
    let denied = solve(&f, &url, "agent-401", &[]);
    assert_eq!(denied["errors"].as_object().map(|e| e.len()), Some(n), "{denied}");
    let why = denied["errors"][&f.kept[0]].as_str().unwrap();
    assert!(why.contains("HTTP 401") && why.contains(&url), "{why}");

    // 5. The server dies mid-run: each attempt ends with the error recorded, every task is
    //    still attempted and graded, and the command succeeds.
    let url = stub(Box::new(|i, _| if i == 0 { Answer::Say(bash("ls")) } else { Answer::Die }));
    let died = solve(&f, &url, "agent-dies", &["--retries", "1"]);
    assert_eq!(died["attempted"], n, "{died}");
    assert_eq!(died["errors"].as_object().map(|e| e.len()), Some(n), "{died}");
    assert!(died["errors"][&f.kept[0]].as_str().unwrap().contains(&url), "{died}");
    let (doc, _) = trajectory(&f, "agent-dies", &f.kept[0]);
    assert_eq!(doc["info"]["exit_status"], "AgentError");
    assert_eq!(doc["info"]["model_stats"]["api_calls"], 1);
    let conn = rusqlite::Connection::open(f.home.join("socratic.db")).unwrap();
    let stored: i64 =
        conn.query_row("SELECT count(*) FROM solve_results WHERE solver = 'agent-dies'", [], |r| r.get(0)).unwrap();
    assert_eq!(stored as usize, n);

    // 6. A hostile model on the first task: network, a host path, `rm -rf /`. Nothing outside
    //    its container changes; the other tasks are graded as usual.
    let host_file = f.dir.join("host-file.txt");
    std::fs::write(&host_file, "untouched\n").unwrap();
    let started = Arc::new(Mutex::new(false));
    let fixes = fix_command(&f.fixes);
    let host = host_file.display().to_string();
    let url = stub(Box::new(move |_, body| {
        // The first conversation is the hostile one; later turns of it carry its first command.
        let hostile = if turns(body) == 0 {
            !std::mem::replace(&mut *started.lock().unwrap(), true)
        } else {
            body.to_string().contains("curl -sS -m 5")
        };
        Answer::Say(bash(&match (hostile, turns(body)) {
            (true, 0) => "curl -sS -m 5 http://example.com; echo curl=$?; \
                          python3 -c \"import urllib.request; urllib.request.urlopen('http://93.184.215.14', timeout=5)\"; echo py=$?"
                .to_string(),
            (true, 1) => format!("mkdir -p $(dirname {host}) && echo pwned > {host}; cat {host}"),
            (true, 2) => "rm -rf --no-preserve-root / 2>/dev/null; echo survived".to_string(),
            (true, _) => SUBMIT.to_string(),
            (false, 0) => fixes.clone(),
            (false, _) => SUBMIT.to_string(),
        }))
    }));
    let hostile = solve(&f, &url, "agent-hostile", &[]);
    assert_eq!(hostile["attempted"], n, "{hostile}");
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "untouched\n", "the host file changed");
    let by_task: std::collections::BTreeMap<String, SolveResult> =
        results(&f, "agent-hostile").into_iter().map(|r| (r.task_id.clone(), r)).collect();
    let hostile_task = f
        .kept
        .iter()
        .find(|id| {
            let (doc, _) = trajectory(&f, "agent-hostile", id);
            user_texts(&doc).iter().any(|t| t.contains("curl="))
        })
        .expect("one task got the hostile script")
        .clone();
    let (doc, _) = trajectory(&f, "agent-hostile", &hostile_task);
    let net = user_texts(&doc).into_iter().find(|t| t.contains("curl=")).unwrap();
    assert!(!net.contains("curl=0") && !net.contains("py=0"), "the network answered inside the container: {net}");
    assert_ne!(by_task[&hostile_task].report.outcome, Outcome::Resolved);
    for id in f.kept.iter().filter(|id| **id != hostile_task) {
        assert_eq!(by_task[id].report.outcome, Outcome::Resolved, "{id} after the hostile task");
    }
    // The Docker engine still works and the grading of an untouched Solver is unchanged.
    let oracle = run_json(&f.home, &["solve", "--solver", "oracle", "--json"]);
    assert_eq!(oracle["by_outcome"]["resolved"], n, "{oracle}");
}
