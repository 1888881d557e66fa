//! The setup agent of `env build` and the install recipe it writes, end to end: the real binary,
//! a real Docker engine and real git. The fixture (`tests/fixtures/repos/vendored`) imports a
//! module that only `pip install ./third_party/blobs/gizmo` provides, which nothing in the
//! project's metadata names: the rules (and their repair loop) cannot build it.
//!
//! The "model" is a stub OpenAI-compatible server on 127.0.0.1 (a thread of this test, the only
//! fake: it stands in for a hosted LLM) that records each request (headers and body) and answers
//! from a script. With a helpful script the build passes on the agent's second turn, the recipe
//! file holds that command, `env show` says where the recipe came from, and a later build in a
//! fresh home (the recipe committed) installs from `.socratic/env.toml` with no endpoint at all.
//! With a useless script the build is refused after the turns it was given, naming them, and no
//! recipe is written. A bad recipe file is an error naming the file and the key.
//!
//! Needs a running engine, the base image (`socratic env bootstrap`) and access to PyPI from the
//! build container. Never skips.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod common;
use common::{commit_all, copy_dir, socratic_cmd, stdout_json};

const KEY: &str = "sk-setup-stub-0123456789abcdef0123456789";
const INSTALL: &str = "python3 -m pip install --break-system-packages ./third_party/blobs/gizmo";

/// One request the stub saw: its lower-cased headers and its JSON body.
#[derive(Debug, Clone)]
struct Seen {
    headers: BTreeMap<String, String>,
    body: Value,
}

type Script = Box<dyn Fn(usize) -> String + Send>;

/// A chat server on 127.0.0.1 answering request `n` with `script(n)` as the assistant's
/// content; every request is kept in the returned list.
fn stub(script: Script) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let request = read_request(&stream);
            log.lock().unwrap().push(request);
            let text = json!({"choices": [{"message": {"role": "assistant", "content": script(n)}}],
                              "usage": {"prompt_tokens": 100, "completion_tokens": 10}})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.flush();
        }
    });
    (url, seen)
}

fn read_request(stream: &std::net::TcpStream) -> Seen {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut headers = BTreeMap::new();
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if first {
            headers.insert(":request".to_string(), line.trim().to_string());
            first = false;
        } else if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut buf = vec![0u8; length];
    let _ = reader.read_exact(&mut buf);
    Seen { headers, body: serde_json::from_slice(&buf).unwrap_or(Value::Null) }
}

fn bash(command: &str) -> String {
    format!("THOUGHT: next step.\n\n```bash\n{command}\n```\n")
}

fn fixture_repo(dir: &Path, name: &str) -> (PathBuf, String) {
    let root = dir.join(name);
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repos/vendored"), &root);
    let head = commit_all(&root);
    (root, head)
}

/// Add everything and commit on top of HEAD; the new commit id.
fn commit_more(root: &Path) -> String {
    let repo = git2::Repository::open(root).expect("open");
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("tree")).expect("find tree");
    let parent = repo.head().expect("head").peel_to_commit().expect("commit");
    let sig = git2::Signature::now("Test", "test@example.com").expect("sig");
    repo.commit(Some("HEAD"), &sig, &sig, "the install recipe", &tree, &[&parent]).expect("commit").to_string()
}

fn run(home: &Path, args: &[&str]) -> std::process::Output {
    socratic_cmd(home, args).env("STUB_KEY", KEY).output().expect("run socratic")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Remove the environment images a run made (by name), whatever happened.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = std::process::Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}

#[test]
fn the_setup_agent_repairs_a_build_the_rules_refuse_and_its_recipe_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut images = Images(Vec::new());
    let (root, _) = fixture_repo(dir.path(), "vendored");
    let repo = root.to_str().unwrap();

    // Turn 1 only looks (no test run after it, not kept); turn 2 installs the vendored folder.
    let (url, seen) = stub(Box::new(|n| if n == 0 { bash("ls -R third_party") } else { bash(INSTALL) }));
    let home = dir.path().join("home");
    let args = [
        "env",
        "build",
        "--repo",
        repo,
        "--agent-endpoint",
        &url,
        "--model",
        "stub-setup-model",
        "--agent-turns",
        "4",
        "--api-key-env",
        "STUB_KEY",
        "--json",
    ];
    let started = std::time::Instant::now();
    let out = run(&home, &args);
    let agent_s = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "env build with the agent failed: {}", text(&out.stderr));
    let env = stdout_json(&out);
    images.0.push(env["image"].as_str().unwrap().to_string());
    assert_eq!(env["passing"], 3, "{env}");
    assert_eq!(
        env["recipe_source"],
        json!({"kind": "agent", "model": "stub-setup-model", "turns": 2, "commands": [INSTALL]}),
        "{env}"
    );
    assert_eq!(env["install_commands"].as_array().unwrap().last().unwrap(), INSTALL, "{env}");

    // What the stub saw: two requests of the expected shape.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for s in &seen {
        assert_eq!(s.headers[":request"], "POST /v1/chat/completions HTTP/1.1");
        assert_eq!(s.headers["authorization"], format!("Bearer {KEY}"));
        assert_eq!(s.body["model"], "stub-setup-model");
    }
    let messages = seen[1].body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    let facts = messages[1]["content"].as_str().unwrap();
    assert!(facts.contains("socratic_fixture_vendored_gizmo"), "the refusal's cause is shown: {facts}");
    assert!(facts.contains("third_party/blobs/gizmo/pyproject.toml"), "the file list is shown: {facts}");
    assert!(facts.contains("--- pyproject.toml (head) ---\n[project]"), "config heads are shown: {facts}");
    let observation = messages[3]["content"].as_str().unwrap();
    assert!(
        observation.starts_with("exit code 0\noutput:\n") && observation.contains("socratic_fixture_vendored_gizmo")
    );
    assert!(observation.contains("only looked"), "{observation}");
    assert!(!text(&out.stderr).contains(KEY) && !text(&out.stdout).contains(KEY), "the key is never printed");

    // The recipe file: the install commands that worked, the agent's last.
    let recipe_path = root.join(".socratic/env.toml");
    let recipe = std::fs::read_to_string(&recipe_path).expect("the recipe file is written");
    assert!(recipe.contains("Written by the setup agent (stub-setup-model, 2 turns)"), "{recipe}");
    let parsed =
        socratic::sandbox::recipe_file::RecipeFile::parse(&recipe, "env.toml").expect("the written recipe parses");
    assert_eq!(parsed.install.last().map(String::as_str), Some(INSTALL), "{recipe}");
    assert!(!parsed.install.iter().any(|c| c.starts_with("ls")), "looking commands are not kept: {recipe}");

    let show = run(&home, &["env", "show", "--repo", repo]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    let show = text(&show.stdout);
    assert!(show.contains("install recipe: setup agent (stub-setup-model, 2 turns, 1 command kept"), "{show}");

    // The user adds pytest words and a variable, and commits the recipe; a fresh home builds
    // from it with no endpoint.
    std::fs::write(
        &recipe_path,
        format!("{recipe}pytest_args = [\"-p\", \"no:doctest\"]\n[env]\nGIZMO_MODE = \"fast\"\n"),
    )
    .unwrap();
    let head = commit_more(&root);
    let fresh = dir.path().join("fresh-home");
    let started = std::time::Instant::now();
    let out = run(&fresh, &["env", "build", "--repo", repo, "--json"]);
    let recipe_s = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "the recipe build failed: {}", text(&out.stderr));
    let env = stdout_json(&out);
    images.0.push(env["image"].as_str().unwrap().to_string());
    assert_eq!(env["head"], head.as_str());
    assert_eq!(env["passing"], 3, "{env}");
    assert_eq!(env["recipe_source"], json!({"kind": "file"}), "{env}");
    assert_eq!(env["install_commands"], json!(parsed.install), "{env}");
    let show = text(&run(&fresh, &["env", "show", "--repo", repo]).stdout);
    assert!(show.contains("install recipe: .socratic/env.toml"), "{show}");
    let record = stdout_json(&run(&fresh, &["env", "show", "--repo", repo, "--json"]));
    assert_eq!(record["pytest_args"], json!(["-p", "no:doctest"]), "{record}");
    // The variable is in the image, so every container started from it (workers, Solvers) has it.
    let image = env["image"].as_str().unwrap();
    let inspect = std::process::Command::new("docker")
        .args(["image", "inspect", "-f", "{{json .Config.Env}}", image])
        .output()
        .expect("docker image inspect");
    assert!(text(&inspect.stdout).contains("\"GIZMO_MODE=fast\""), "{}", text(&inspect.stdout));
    println!("bench: env build with the setup agent (2 turns) {agent_s:.1} s; from its recipe {recipe_s:.1} s");

    // A recipe that cannot be read is an error naming the file and the key (and builds nothing).
    std::fs::write(&recipe_path, "install = \"pip install x\"\n").unwrap();
    let out = run(&fresh, &["env", "build", "--repo", repo, "--rebuild"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(".socratic/env.toml: key `install`: expected an array of strings"), "{err}");
}

#[test]
fn a_useless_agent_leaves_the_build_refused_after_its_turns() {
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = fixture_repo(dir.path(), "vendored");
    let repo = root.to_str().unwrap();
    // Turn 1 runs something that succeeds but helps nothing (the suite runs again); turn 2 gives
    // no command at all.
    let (url, seen) =
        stub(Box::new(|n| if n == 0 { bash("python3 -m pip --version") } else { "I am not sure.".to_string() }));
    let home = dir.path().join("home");
    let out = run(
        &home,
        &["env", "build", "--repo", repo, "--agent-endpoint", &url, "--model", "useless-model", "--agent-turns", "2"],
    );
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("the setup agent (useless-model) did not make the suite pass in 2 turns"), "{err}");
    assert!(err.contains("1: `python3 -m pip --version` exit 0; 2: no command"), "{err}");
    assert!(err.contains("socratic_fixture_vendored_gizmo"), "the refusal still names the cause: {err}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(!seen[0].headers.contains_key("authorization"), "no key was configured");
    let last = seen[1].body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
    assert!(last.contains("The test suite ran again and the build is still refused"), "{last}");
    assert!(!root.join(".socratic").exists(), "nothing is written when the agent fails");
    let show = run(&home, &["env", "show", "--repo", repo]);
    assert!(!show.status.success(), "no environment was stored");
}
