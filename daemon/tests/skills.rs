//! End to end for the skills stage, with real tree-sitter, a real SQLite store and a real git
//! repository: distilling the fixture traces, recovering known skills from a synthetic Solver
//! that fails on chosen operators, targeted task generation, and the exported SKILL.md folders.

use socratic::diff;
use socratic::model::{Event, Instance, Label, Outcome, Record, SkillKind, SourceFormat, TaskRef, Trace};
use socratic::skills::distill::RuleDistiller;
use socratic::skills::{self, agent_skill, target};
use socratic::store::Store;
use socratic::tasks::{generate, GenerateConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn import(store: &mut Store, root: &Path) -> usize {
    let (files, _errors) = socratic::traces::collect_files(&[root.to_path_buf()]);
    let mut n = 0;
    for f in files {
        let Ok(bytes) = socratic::traces::read_input(&f) else { continue };
        if let Ok((_, records)) = socratic::traces::parse_file(&f, &bytes) {
            n += store.insert_records(&records).expect("insert").traces;
        }
    }
    n
}

fn fixture_roots() -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/traces"))];
    let shared = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/traces"));
    if shared.is_dir() {
        roots.push(shared);
    }
    roots
}

#[test]
fn fixture_traces_distill_into_skills_with_the_right_evidence() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(home.path()).expect("store");
    let mut imported = 0;
    for root in fixture_roots() {
        imported += import(&mut store, &root);
    }
    assert!(imported > 0);
    let (traces, instances) = (store.traces().expect("traces"), store.instances().expect("instances"));
    let result = skills::distill_with(&RuleDistiller, &traces, &instances, &[], 1).expect("distill");
    assert!(!result.skills.is_empty());
    for (st, o) in traces.iter().zip(skills::observe_all(&traces, &instances)) {
        let findings: Vec<String> = o
            .failure
            .iter()
            .flat_map(|c| c.findings.iter().map(|f| format!("{}{:?}", f.mode.name(), f.events)))
            .collect();
        eprintln!(
            "trace {} {:?} {} patterns {:?} failure {:?}",
            st.trace.id,
            st.trace.task.instance_id,
            st.effective_label.outcome.as_str(),
            o.patterns,
            findings
        );
    }
    store.upsert_skills(&result.skills).expect("store skills");
    let outcome: BTreeMap<&str, Outcome> =
        traces.iter().map(|t| (t.trace.id.as_str(), t.effective_label.outcome)).collect();
    for s in &result.skills {
        eprintln!(
            "skill {:44} {:?} rate {:.2} traces {} failures {} evidence {}",
            s.name,
            s.kind,
            s.stats.failure_rate,
            s.stats.traces,
            s.stats.failures,
            s.evidence.len()
        );
        assert!(s.evidence.iter().all(|id| outcome.contains_key(id.as_str())), "{}: unknown evidence", s.name);
        if s.kind == SkillKind::FailureMode {
            // Failure evidence is failed runs only.
            for id in &s.evidence {
                let o = outcome[id.as_str()];
                assert!(!matches!(o, Outcome::Resolved | Outcome::Unknown), "{}: {id} is {o:?}", s.name);
            }
        }
        assert!(s.stats.failures <= s.stats.traces);
    }
    // Every judged, failed trace is failure evidence of some skill unless it is a duplicate of
    // another failed run of the same instance.
    let in_failure_evidence: std::collections::BTreeSet<&str> = result
        .skills
        .iter()
        .filter(|s| s.kind == SkillKind::FailureMode)
        .flat_map(|s| s.evidence.iter().map(String::as_str))
        .collect();
    let failed: Vec<&socratic::store::StoredTrace> =
        traces.iter().filter(|t| !matches!(t.effective_label.outcome, Outcome::Resolved | Outcome::Unknown)).collect();
    assert!(!failed.is_empty());
    for t in &failed {
        let covered = in_failure_evidence.contains(t.trace.id.as_str())
            || failed.iter().any(|o| {
                o.trace.id != t.trace.id
                    && o.trace.task.instance_id == t.trace.task.instance_id
                    && in_failure_evidence.contains(o.trace.id.as_str())
            });
        assert!(covered, "failed trace {} ({:?}) is in no failure skill", t.trace.id, t.trace.task.instance_id);
    }
    // Resolved runs with a known fix are repair-pattern evidence.
    let export = tempfile::tempdir().expect("tempdir");
    let with_examples: Vec<_> =
        result.skills.iter().map(|s| (s.clone(), skills::examples(s, &traces, &instances, 3))).collect();
    agent_skill::export(export.path(), &with_examples).expect("export");
    assert_eq!(agent_skill::validate(export.path()), vec![]);
    // Re-distilling the same traces changes nothing.
    let stored = store.skills().expect("skills");
    let again = skills::distill_with(&RuleDistiller, &traces, &instances, &stored, 1).expect("distill");
    assert!(again.changed.is_empty(), "{:?}", again.changed);
    assert!(again.skills.iter().all(|s| s.version == 1));
}

/// Copy the example repository to a tempdir and commit it.
fn example_repo() -> tempfile::TempDir {
    let src = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/example_repo"));
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in walkdir::WalkDir::new(&src).into_iter().filter_map(Result::ok) {
        let rel = entry.path().strip_prefix(&src).expect("prefix");
        if rel.components().any(|c| matches!(c.as_os_str().to_str(), Some(".git" | "__pycache__" | ".pytest_cache"))) {
            continue;
        }
        let to = dir.path().join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
    let repo = git2::Repository::init(dir.path()).expect("init");
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("tree")).expect("find tree");
    let sig = git2::Signature::now("Test", "test@example.com").expect("sig");
    repo.commit(Some("HEAD"), &sig, &sig, "initial", &tree, &[]).expect("commit");
    dir
}

/// A Solver trace for a generated task: resolved with the reverse of the bug patch, or
/// unresolved with an empty patch.
fn solver_records(task: &socratic::model::Task, resolved: bool) -> Vec<Record> {
    let fix = diff::reverse(&task.bug_patch).unwrap();
    let instance = Instance {
        instance_id: task.id.clone(),
        source: SourceFormat::SweSmithInstance,
        repo: Some("example/tallyho".into()),
        base_commit: Some(task.base_commit.clone()),
        problem_statement: Some(task.problem_statement.clone()),
        gold_patch: Some(fix.clone()),
        bug_patch: Some(task.bug_patch.clone()),
        test_patch: None,
        fail_to_pass: vec![],
        pass_to_pass: vec![],
        image_name: None,
        origin: "synthetic".into(),
    };
    let (patch, label) = if resolved {
        (
            Some(fix),
            Label { outcome: Outcome::Resolved, failure: None, reason: "synthetic: resolved".into(), inferred: false },
        )
    } else {
        (
            Some(String::new()),
            Label { outcome: Outcome::Unresolved, failure: None, reason: "synthetic: gave up".into(), inferred: false },
        )
    };
    let mut trace = Trace {
        id: String::new(),
        source: SourceFormat::Solver,
        format_version: None,
        task: TaskRef {
            instance_id: Some(task.id.clone()),
            repo: Some("example/tallyho".into()),
            base_commit: Some(task.base_commit.clone()),
            problem_statement: None,
        },
        model: Some("synthetic-solver".into()),
        events: vec![
            Event::Command {
                command: format!("grep -n {} -r .", task.enclosing),
                exit_code: Some(0),
                output: String::new(),
            },
            Event::Submit { note: None },
        ],
        final_patch: patch,
        label,
        cost_usd: None,
        started_at: None,
        ended_at: None,
        origin: "synthetic".into(),
        messages: Vec::new(),
    };
    trace.id = trace.compute_id();
    vec![Record::Instance(instance), Record::Trace(trace)]
}

#[test]
fn synthetic_solver_failures_are_recovered_as_skills() {
    let repo = example_repo();
    let config = GenerateConfig {
        operators: Some(vec!["flip_comparison".into(), "remove_none_guard".into()]),
        budget: 12,
        seed: 11,
        ..Default::default()
    };
    let (tasks, _) = generate(repo.path(), &config).expect("generate");
    let flips = tasks.iter().filter(|t| t.operator == "flip_comparison").count();
    let guards = tasks.iter().filter(|t| t.operator == "remove_none_guard").count();
    assert!(flips >= 2 && guards >= 2, "flips {flips} guards {guards}");
    let home = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(home.path()).expect("store");
    for t in &tasks {
        // The Solver fails every flipped comparison and fixes every removed None guard.
        store.insert_records(&solver_records(t, t.operator == "remove_none_guard")).expect("insert");
    }
    let (traces, instances) = (store.traces().expect("traces"), store.instances().expect("instances"));
    let result = skills::distill_with(&RuleDistiller, &traces, &instances, &[], 2).expect("distill");
    let got: Vec<(String, usize, usize)> =
        result.skills.iter().map(|s| (s.name.clone(), s.stats.traces, s.stats.failures)).collect();
    assert_eq!(
        got,
        vec![
            ("added-none-guard".to_string(), guards, 0),
            ("changed-comparison".to_string(), flips, flips),
            ("changed-comparison-no-patch".to_string(), flips, flips),
        ]
    );
    let by_name: BTreeMap<&str, &socratic::model::Skill> = result.skills.iter().map(|s| (s.name.as_str(), s)).collect();
    assert_eq!(by_name["changed-comparison"].stats.failure_rate, 1.0);
    assert_eq!(by_name["added-none-guard"].stats.failure_rate, 0.0);
    assert_eq!(by_name["added-none-guard"].operators.first().map(String::as_str), Some("remove_none_guard"));
    assert!(by_name["changed-comparison"].operators.contains(&"flip_comparison".to_string()));
    // Evidence points at exactly the traces of those tasks.
    let trace_of = |op: &str| -> Vec<String> {
        let ids: Vec<&str> = tasks.iter().filter(|t| t.operator == op).map(|t| t.id.as_str()).collect();
        let mut v: Vec<String> = traces
            .iter()
            .filter(|t| t.trace.task.instance_id.as_deref().is_some_and(|i| ids.contains(&i)))
            .map(|t| t.trace.id.clone())
            .collect();
        v.sort();
        v
    };
    let mut ev = by_name["changed-comparison-no-patch"].evidence.clone();
    ev.sort();
    assert_eq!(ev, trace_of("flip_comparison"));
    let mut ev = by_name["added-none-guard"].evidence.clone();
    ev.sort();
    assert_eq!(ev, trace_of("remove_none_guard"));

    // Versioning: store, add one resolved flip (new evidence), re-distill: same names, stats
    // updated, versions unchanged (content is the same).
    store.upsert_skills(&result.skills).expect("store");
    let extra = tasks.iter().find(|t| t.operator == "flip_comparison").expect("a flip");
    let mut records = solver_records(extra, true);
    if let Some(Record::Trace(t)) = records.get_mut(1) {
        t.model = Some("second-solver".into());
        t.id = t.compute_id();
    }
    store.insert_records(&records).expect("insert");
    let traces = store.traces().expect("traces");
    let again = skills::distill_with(
        &RuleDistiller,
        &traces,
        &store.instances().expect("instances"),
        &store.skills().expect("skills"),
        2,
    )
    .expect("distill");
    let cmp = again.skills.iter().find(|s| s.name == "changed-comparison").expect("still there");
    assert_eq!((cmp.stats.traces, cmp.stats.failures, cmp.version), (flips + 1, flips, 1));
    assert_eq!(cmp.evidence.len(), flips + 1);

    // Exported skills validate.
    let out = tempfile::tempdir().expect("tempdir");
    let with_examples: Vec<_> =
        again.skills.iter().map(|s| (s.clone(), skills::examples(s, &traces, &instances, 2))).collect();
    agent_skill::export(out.path(), &with_examples).expect("export");
    assert_eq!(agent_skill::validate(out.path()), vec![]);
    assert!(out.path().join("changed-comparison/SKILL.md").is_file());
}

fn skill(name: &str, op: &str, rate: f64) -> socratic::model::Skill {
    socratic::model::Skill {
        name: name.into(),
        kind: SkillKind::RepairPattern,
        description: "d".into(),
        applicability: vec![],
        operations: vec![],
        anchor: op.into(),
        operators: vec![op.into()],
        evidence: vec![],
        stats: socratic::model::SkillStats { traces: 10, failures: (rate * 10.0).round() as usize, failure_rate: rate },
        version: 1,
    }
}

#[test]
fn targeted_generation_follows_skill_weights() {
    let repo = example_repo();
    let skills =
        [skill("changed-comparison", "flip_comparison", 0.9), skill("added-none-guard", "remove_none_guard", 0.1)];
    let weights = target::operator_weights(&skills, &[]);
    let config = GenerateConfig { budget: 20, seed: 5, operator_weights: Some(weights), ..Default::default() };
    let (tasks, _) = generate(repo.path(), &config).expect("generate");
    let count = |op: &str| tasks.iter().filter(|t| t.operator == op).count();
    let (flips, guards) = (count("flip_comparison"), count("remove_none_guard"));
    eprintln!("targeted: flip_comparison {flips}, remove_none_guard {guards}, other {}", tasks.len() - flips - guards);
    assert_eq!((flips, guards), (18, 2));
    assert_eq!(tasks.len(), 20);
    // Deterministic for a seed.
    let (again, _) = generate(repo.path(), &config).expect("generate");
    assert_eq!(tasks.iter().map(|t| &t.id).collect::<Vec<_>>(), again.iter().map(|t| &t.id).collect::<Vec<_>>());
    // Untargeted: every operator gets a turn.
    let (plain, _) =
        generate(repo.path(), &GenerateConfig { budget: 20, seed: 5, ..Default::default() }).expect("generate");
    let ops: std::collections::BTreeSet<&str> = plain.iter().map(|t| t.operator.as_str()).collect();
    eprintln!("untargeted: {} operators among 20 candidates", ops.len());
    assert!(ops.len() > 5);
}

#[test]
fn cli_distill_list_show_export() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_socratic");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(bin).arg("--home").arg(home.path()).args(args).output().expect("run");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let roots = fixture_roots();
    let root = roots[0].to_str().expect("utf8");
    let (code, _, err) = run(&["traces", "import", root]);
    assert!(code == 0 || code == 1, "{err}");
    let (code, stdout, err) = run(&["skills", "distill", "--min-traces", "1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let names: Vec<String> = doc["skills"]
        .as_array()
        .expect("skills")
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    assert!(!names.is_empty());
    let (code, stdout, _) = run(&["skills", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).expect("json").as_array().map(Vec::len),
        Some(names.len())
    );
    let (code, stdout, _) = run(&["skills", "show", &names[0]]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("---\nname: "), "{stdout}");
    assert_eq!(run(&["skills", "show", "no-such-skill"]).0, 1);
    let (code, _, err) = run(&["skills", "export", out.path().to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(agent_skill::validate(out.path()), vec![]);
    assert_eq!(run(&["skills", "distill", "--min-traces", "0"]).0, 2);
    assert_eq!(run(&["skills", "distill", "--llm-url", "http://127.0.0.1:9"]).0, 2);
}

#[test]
fn cli_tasks_generate_with_skills_spreads_the_budget_by_weight() {
    let repo = example_repo();
    let home = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_socratic");
    let generate = |extra: &[&str]| {
        let o = std::process::Command::new(bin)
            .arg("--home")
            .arg(home.path())
            .args(["tasks", "generate", "--repo"])
            .arg(repo.path())
            .args(["--budget", "10", "--seed", "3", "--json"])
            .args(extra)
            .output()
            .expect("run");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    // No skills stored yet: nothing to target.
    let (code, _, err) = generate(&["--skills"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("skills distill"), "{err}");
    {
        let mut store = Store::open(home.path()).expect("store");
        store
            .upsert_skills(&[
                skill("changed-comparison", "flip_comparison", 0.9),
                skill("added-none-guard", "remove_none_guard", 0.1),
            ])
            .expect("upsert");
    }
    let (code, stdout, err) = generate(&["--skills"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let ops: Vec<&str> =
        doc["tasks"].as_array().expect("tasks").iter().filter_map(|t| t["operator"].as_str()).collect();
    let count = |op: &str| ops.iter().filter(|o| **o == op).count();
    assert_eq!((count("flip_comparison"), count("remove_none_guard"), ops.len()), (9, 1, 10));
    assert!((doc["operator_weights"]["flip_comparison"].as_f64().unwrap_or(0.0) - 0.9).abs() < 1e-9);
    // --untargeted ignores the skills; both flags together are a usage error.
    let (code, stdout, _) = generate(&["--untargeted"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert!(doc["operator_weights"].is_null());
    assert_eq!(generate(&["--skills", "--untargeted"]).0, 2);
}

/// The inverse relation holds on real operator output: the reverse of each bug patch the
/// catalogue makes on the example repository classifies as a pattern that names its operator.
#[test]
fn reversed_bug_patches_classify_as_the_inverse_pattern() {
    let repo = example_repo();
    let (tasks, _) =
        generate(repo.path(), &GenerateConfig { budget: 27 * 6, seed: 2, ..Default::default() }).expect("generate");
    let mut per_op: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misses: Vec<String> = Vec::new();
    for t in &tasks {
        let fix = diff::reverse(&t.bug_patch).unwrap();
        let patterns = skills::pattern::classify_patch(&fix);
        let hit = patterns.first().is_some_and(|p| p.operators().contains(&t.operator.as_str()));
        let e = per_op.entry(t.operator.as_str()).or_default();
        e.0 += 1;
        if hit {
            e.1 += 1;
        } else {
            misses.push(format!("{} -> {:?}", t.operator, patterns.first()));
            if std::env::var_os("SHOW_MISSES").is_some() {
                eprintln!("{fix}");
            }
        }
    }
    let (total, hits) = per_op.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
    for (op, (n, h)) in &per_op {
        eprintln!("{op:26} {h}/{n}");
    }
    eprintln!("overall {hits}/{total}; misses: {misses:?}");
    assert!(total > 50);
    assert!(hits * 100 >= total * 95, "only {hits}/{total} reversed bug patches classify as their operator's pattern");
}

/// A one-shot HTTP/1.1 stub on 127.0.0.1 answering a chat completion whose content is `content`.
fn llm_stub(content: String) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let (mut head, mut length) = (String::new(), 0usize);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        let reply =
            serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]}).to_string();
        let mut stream = stream;
        let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len());
        format!("{head}\n{}", String::from_utf8_lossy(&body))
    });
    (url, handle)
}

#[test]
fn cli_llm_distiller_against_a_local_stub() {
    let home = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_socratic");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(bin)
            .arg("--home")
            .arg(home.path())
            .args(args)
            .env("SOCRATIC_LLM_API_KEY", "sk-test-key")
            .output()
            .expect("run");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let roots = fixture_roots();
    run(&["traces", "import", roots[0].to_str().expect("utf8")]);
    let answer = serde_json::json!({"skills": [{"group": 0, "name": "submit-before-the-budget-ends", "description": "Finish and submit an edit before the cost limit.", "applicability": ["long explorations"], "operations": ["edit early", "submit"]}]});
    let (url, server) = llm_stub(answer.to_string());
    let (code, stdout, err) =
        run(&["skills", "distill", "--min-traces", "1", "--llm-url", &url, "--llm-model", "stub", "--json"]);
    let request = server.join().expect("stub");
    assert_eq!(code, 0, "{err}");
    assert!(request.to_lowercase().contains("authorization: bearer sk-test-key"));
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let names: Vec<&str> =
        doc["skills"].as_array().expect("skills").iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.contains(&"submit-before-the-budget-ends"), "{names:?}");
    assert!(names.len() > 1, "groups the model skipped keep their rule-based skill: {names:?}");
    let out = tempfile::tempdir().expect("tempdir");
    assert_eq!(run(&["skills", "export", out.path().to_str().expect("utf8")]).0, 0);
    assert_eq!(agent_skill::validate(out.path()), vec![]);
    // A response that breaks the schema is refused with the field named; nothing is stored.
    let (url, server) = llm_stub(serde_json::json!({"skills": [{"group": 0, "name": "NoGood"}]}).to_string());
    let (code, _, err) = run(&["skills", "distill", "--min-traces", "1", "--llm-url", &url, "--llm-model", "stub"]);
    let _ = server.join();
    assert_eq!(code, 1);
    assert!(err.contains("/skills/0/name") && err.contains("description"), "{err}");
}
