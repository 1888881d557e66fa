//! `socratic serve` end to end: the example repository validated in real containers, the real
//! binary serving it on a free loopback port, plain HTTP requests. Gold / empty / regressing /
//! hanging patches, the token, bad input, the body limit, the bounded queue (429), a worker
//! container killed with `docker kill`, batch = singles, the verdict cache, `/metrics`, and a
//! small `socratic bench serve`.
//!
//! Needs a running Docker engine and the base image (`.ci/run` provides both); never skips.

use serde_json::{json, Value};
use socratic::diff::{unified_diff, Patch};
use socratic::model::Task;
use socratic::sandbox::Engine;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

mod common;
#[path = "common/serve.rs"]
mod serve_support;
use serve_support::Server;

/// A gradable instance as `/v1/tasks` lists it, with its stored task.
struct Instance {
    id: String,
    task: Task,
}

fn instances(server: &Server, home: &Path) -> Vec<Instance> {
    let reply = server.request("GET", "/v1/tasks", None, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let store = socratic::store::Store::open(home).unwrap();
    reply.json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Instance {
            id: t["instance_id"].as_str().unwrap().to_string(),
            task: store.task(t["task_id"].as_str().unwrap()).unwrap().unwrap(),
        })
        .collect()
}

fn gold(task: &Task) -> String {
    socratic::diff::reverse(&task.bug_patch).unwrap()
}

/// The text of each file a patch touches at the base commit.
fn clean_texts(task: &Task, files: &BTreeSet<String>) -> BTreeMap<String, String> {
    let repo = socratic::diff::git::Repo::open(Path::new(&task.repo)).unwrap();
    files
        .iter()
        .map(|f| {
            let blob = repo.blob_at(&task.base_commit, f).unwrap().unwrap_or_default();
            (f.clone(), String::from_utf8(blob).unwrap())
        })
        .collect()
}

fn apply(patch: &str, texts: &mut BTreeMap<String, String>) {
    for f in Patch::parse(patch).unwrap().files {
        let path = f.path().unwrap();
        let text = f.apply(&texts[&path]).unwrap();
        texts.insert(path, text);
    }
}

/// A patch on `a`'s bugged tree that fixes `a` and brings in `b`'s bug.
fn fix_and_break(a: &Task, b: &Task) -> String {
    let files: BTreeSet<String> =
        [&a.bug_patch, &b.bug_patch].iter().flat_map(|p| Patch::parse(p).unwrap().paths()).collect();
    let mut bugged = clean_texts(a, &files);
    apply(&a.bug_patch, &mut bugged);
    let mut target = clean_texts(a, &files);
    apply(&b.bug_patch, &mut target);
    files.iter().map(|f| unified_diff(f, &bugged[f], &target[f])).collect()
}

/// A patch on the bugged tree that makes the task's function loop forever.
fn hang(task: &Task) -> String {
    let file = task.site.file.clone();
    let mut texts = clean_texts(task, &BTreeSet::from([file.clone()]));
    apply(&task.bug_patch, &mut texts);
    let bugged = texts[&file].clone();
    let name = task.enclosing.rsplit('.').next().unwrap();
    let lines: Vec<&str> = bugged.split_inclusive('\n').collect();
    let def = lines.iter().position(|l| l.trim_start().starts_with(&format!("def {name}("))).expect("the function");
    // The body starts after the signature (which may span lines): the first line indented deeper.
    let def_indent = lines[def].len() - lines[def].trim_start().len();
    let body = (def + 1..lines.len())
        .find(|&i| {
            let l = lines[i];
            !l.trim().is_empty()
                && l.len() - l.trim_start().len() > def_indent
                && !lines[i - 1].trim_end().ends_with(',')
        })
        .unwrap();
    let indent = &lines[body][..lines[body].len() - lines[body].trim_start().len()];
    let mut hung: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    hung.insert(body, format!("{indent}while True:\n{indent}    pass\n"));
    unified_diff(&file, &bugged, &hung.concat())
}

/// The gold patch with a comment added to the bug's first file: the same fix, another patch.
fn gold_noted(task: &Task, note: &str) -> String {
    let files: Vec<String> = Patch::parse(&task.bug_patch).unwrap().paths().into_iter().collect();
    let clean = clean_texts(task, &files.iter().cloned().collect());
    let mut bugged = clean.clone();
    apply(&task.bug_patch, &mut bugged);
    let mut target = clean;
    target.get_mut(&files[0]).unwrap().push_str(&format!("# {note}\n"));
    files.iter().map(|f| unified_diff(f, &bugged[f], &target[f])).collect()
}

/// The gold fix plus a module-level pause of `secs` (so a grade of it provably runs that long:
/// the import pauses in every run of the tests), no change to what the tests see.
fn gold_slowed(task: &Task, secs: f64) -> String {
    let files: Vec<String> = Patch::parse(&task.bug_patch).unwrap().paths().into_iter().collect();
    let clean = clean_texts(task, &files.iter().cloned().collect());
    let mut bugged = clean.clone();
    apply(&task.bug_patch, &mut bugged);
    let mut target = clean;
    target.get_mut(&files[0]).unwrap().push_str(&format!("import time as _pause\n_pause.sleep({secs})\n"));
    files.iter().map(|f| unified_diff(f, &bugged[f], &target[f])).collect()
}

/// A grade's answer without what differs between equal grades: the time, and whether it came
/// from the verdict cache.
fn without_duration(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("duration_ms");
    v.as_object_mut().unwrap().remove("cached");
    v
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn containers_of(home: &Path) -> Vec<String> {
    let label = format!("label=socratic.owner={}", socratic::sandbox::owner_of_home(home));
    docker(&["ps", "-q", "--filter", &label]).split_whitespace().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_grades_like_solve_and_holds_its_limits() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let example = common::validated_example_home(dir.path(), &engine, 12, 5).await;
    let home = example.home.clone();
    tokio::task::spawn_blocking(move || service_checks(&home)).await.unwrap();
}

fn service_checks(home: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start(home, &["--workers", "2", "--queue", "8", "--max-body", "200000"]);
    let mode = std::fs::metadata(home.join("serve.token")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is the owner's only");

    let all = instances(&server, home);
    assert!(all.len() >= 2, "{} gradable instances", all.len());
    let a = &all[0];
    let b = all
        .iter()
        .skip(1)
        .find(|b| b.task.fail_to_pass.iter().all(|t| !a.task.fail_to_pass.contains(t)))
        .expect("a second task failing other tests");

    // Gold → resolved, reward 1, every test listed as passing.
    let reply = server.grade(&a.id, &gold(&a.task));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let gold_a = reply.json();
    assert_eq!(gold_a["resolved"], true, "{gold_a}");
    assert_eq!(gold_a["reward"], 1.0);
    assert_eq!(gold_a["instance_id"], a.id.as_str());
    assert_eq!(gold_a["fail_to_pass"]["passed"].as_array().unwrap().len(), a.task.fail_to_pass.len());
    assert!(gold_a["fail_to_pass"]["failed"].as_array().unwrap().is_empty());
    let p2p = gold_a["pass_to_pass"]["passed"].as_array().unwrap().len();
    assert!(p2p > 50, "the whole passing suite is PASS_TO_PASS ({p2p})");
    assert!(gold_a["pass_to_pass"]["failed"].as_array().unwrap().is_empty());
    assert_eq!(gold_a["cached"], false, "the first grade of a patch runs in a worker");
    // The plain task id names the same instance; the same patch again is answered from the
    // verdict cache, with the same verdict.
    let again = server.grade(&a.task.id, &gold(&a.task)).json();
    assert_eq!(again["cached"], true, "{again}");
    for field in ["resolved", "outcome", "failure", "fail_to_pass", "pass_to_pass", "reward"] {
        assert_eq!(again[field], gold_a[field], "{field}");
    }
    // Another patch (a comment added) is graded, not taken from the cache.
    let noted = server.grade(&a.id, &gold_noted(&a.task, "another patch")).json();
    assert_eq!((noted["cached"].clone(), noted["resolved"].clone()), (json!(false), json!(true)), "{noted}");
    let m = server.metrics();
    assert_eq!((m["socratic_cache_hits_total"], m["socratic_cache_misses_total"]), (1.0, 2.0), "{m:?}");

    // Empty → not resolved, without running anything.
    let empty = server.grade(&a.id, "").json();
    assert_eq!(
        (empty["resolved"].clone(), empty["outcome"].clone(), empty["reward"].clone()),
        (json!(false), json!("no-patch"), json!(0.0))
    );

    // Fixing the bug but breaking an unrelated test → not resolved; the broken tests are named.
    let broken = server.grade(&a.id, &fix_and_break(&a.task, &b.task)).json();
    assert_eq!(broken["resolved"], false, "{broken}");
    assert_eq!(broken["reward"], 0.0);
    let p2p_failed: Vec<&str> =
        broken["pass_to_pass"]["failed"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(!p2p_failed.is_empty(), "{broken}");
    assert!(p2p_failed.iter().all(|t| b.task.fail_to_pass.contains(&t.to_string())), "{p2p_failed:?}");
    assert!(broken["fail_to_pass"]["failed"].as_array().unwrap().is_empty(), "the fix itself works: {broken}");

    // A patch that hangs the tests is killed at the task's timeout and graded unresolved.
    let started = std::time::Instant::now();
    let hung = server.grade(&a.id, &hang(&a.task)).json();
    assert_eq!((hung["resolved"].clone(), hung["failure"].clone()), (json!(false), json!("time-limit")), "{hung}");
    assert!(started.elapsed().as_secs() < 120, "{:?}", started.elapsed());

    // The token.
    assert_eq!(server.request("GET", "/healthz", None, None).status, 200);
    for token in ["", "not-the-token"] {
        let r = server.request("GET", "/healthz", None, Some(token));
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
        let body = json!({"instance_id": a.id, "patch": gold(&a.task)}).to_string();
        assert_eq!(server.request("POST", "/v1/grade", Some(body.as_bytes()), Some(token)).status, 401);
    }

    // Bad input: 4xx naming the field.
    let r = server.grade("tallyho.t-nosuchtask", "");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["field"], "instance_id");
    assert!(r.json()["error"].as_str().unwrap().contains("tallyho.t-nosuchtask"), "{}", r.body);
    let r = server.grade(&a.id, "this is not a diff\n");
    assert_eq!((r.status, r.json()["field"].clone()), (422, json!("patch")), "{}", r.body);
    let stale: String = gold(&a.task)
        .split_inclusive('\n')
        .map(|l| {
            if l.starts_with('-') && !l.starts_with("---") {
                format!("-# not in the file {}", &l[1..])
            } else {
                l.to_string()
            }
        })
        .collect();
    let r = server.grade(&a.id, &stale);
    assert_eq!((r.status, r.json()["field"].clone()), (422, json!("patch")), "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("does not apply"), "{}", r.body);
    let r = server.post_json("/v1/grade", &json!({"instance_id": a.id}));
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("patch")), "{}", r.body);
    let r = server.post_json("/v1/grade", &json!({"instance_id": 7, "patch": ""}));
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("instance_id")), "{}", r.body);
    let r = server.request("POST", "/v1/grade", Some(b"{\"instance_id\": "), None);
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("body")), "{}", r.body);
    let huge = json!({"instance_id": a.id, "patch": "x".repeat(300_000)}).to_string();
    let r = server.request("POST", "/v1/grade", Some(huge.as_bytes()), None);
    assert_eq!((r.status, r.json()["field"].clone()), (413, json!("body")), "{}", r.body);
    assert_eq!(server.request("GET", "/v1/tasks?round=x", None, None).status, 400);
    assert_eq!(server.request("GET", "/v1/nothing", None, None).status, 404);

    // Batch = singles, in order; a bad item answers in its place.
    let items = [
        (&a.id, gold(&a.task)),
        (&b.id, gold(&b.task)),
        (&a.id, String::new()),
        (&b.id, fix_and_break(&b.task, &a.task)),
    ];
    let batch = json!(items.iter().map(|(id, p)| json!({"instance_id": id, "patch": p})).collect::<Vec<_>>());
    let r = server.post_json("/v1/grade/batch", &batch);
    assert_eq!(r.status, 200, "{}", r.body);
    let answers: Vec<Value> = r.json().as_array().unwrap().iter().cloned().map(without_duration).collect();
    let singles: Vec<Value> = items.iter().map(|(id, p)| without_duration(server.grade(id, p).json())).collect();
    assert_eq!(answers, singles);
    assert_eq!(
        answers.iter().map(|v| v["resolved"].as_bool().unwrap()).collect::<Vec<_>>(),
        [true, true, false, false]
    );
    let mixed = json!([{"instance_id": "nope.t-0", "patch": ""}, {"instance_id": a.id, "patch": ""}]);
    let r = server.post_json("/v1/grade/batch", &mixed).json();
    assert_eq!(
        (r[0]["status"].clone(), r[0]["field"].clone(), r[1]["outcome"].clone()),
        (json!(404), json!("[0].instance_id"), json!("no-patch"))
    );

    // A worker container killed mid-grade: the grade is retried on a new worker; later grades
    // stay correct. The patch pauses 2 s at import, so the kill at 0.5 s lands inside the grade
    // however fast the machine is.
    let before = containers_of(home);
    assert!(!before.is_empty(), "warm workers are running");
    let kill_soon = {
        let home = home.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            for id in containers_of(&home) {
                docker(&["kill", &id]);
            }
        })
    };
    let during = server.grade(&a.id, &gold_slowed(&a.task, 2.0));
    kill_soon.join().unwrap();
    assert_eq!((during.status, during.json()["resolved"].clone()), (200, json!(true)), "{}", during.body);
    let after = server.grade(&b.id, &gold(&b.task)).json();
    assert_eq!(after["resolved"], true, "{after}");
    let after = server.grade(&a.id, &fix_and_break(&a.task, &b.task)).json();
    assert_eq!(without_duration(after), without_duration(broken.clone()));
    let m = server.metrics();
    assert!(m["socratic_worker_restarts_total"] >= 1.0, "{m:?}");

    // /metrics counts what was graded.
    let graded: f64 = ["resolved", "partial", "unresolved", "no-patch"]
        .iter()
        .map(|o| m[&format!("socratic_grades_total{{outcome=\"{o}\"}}")])
        .sum();
    assert_eq!(graded, 18.0, "every grade counted once: {m:?}");
    assert_eq!(m["socratic_grade_duration_seconds_count"], graded);
    assert_eq!(m["socratic_grade_duration_seconds_bucket{le=\"+Inf\"}"], graded);
    assert!(m["socratic_bad_requests_total"] >= 9.0, "{m:?}");
    assert_eq!(m["socratic_queue_depth"], 0.0);

    assert!(server.stop().success());
    assert!(containers_of(home).is_empty(), "the service removes its workers when it stops");

    // The bounded queue: one worker, one waiting place; concurrent grades beyond that get 429
    // (the cache off: every request needs a worker).
    let server = Server::start(home, &["--workers", "1", "--queue", "1", "--cache", "0"]);
    let replies: Vec<serve_support::Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| server.grade(&a.id, &gold(&a.task)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let busy: Vec<&serve_support::Reply> = replies.iter().filter(|r| r.status == 429).collect();
    let done: Vec<&serve_support::Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(busy.len() + done.len(), 6, "{replies:?}");
    assert!(!busy.is_empty() && done.len() >= 2, "{replies:?}");
    assert!(busy.iter().all(|r| r.retry_after.as_deref().is_some_and(|s| s.parse::<u64>().unwrap() >= 1)), "{busy:?}");
    assert!(done.iter().all(|r| r.json()["resolved"] == true && r.json()["cached"] == false), "{done:?}");
    assert_eq!(server.metrics()["socratic_requests_rejected_total"], busy.len() as f64);
    assert!(server.stop().success());

    bench_checks(home);
}

/// `socratic bench serve`, small: unique patches are graded by workers (never the cache), the
/// repeated ones of the cache row all come from the cache, none lost or answered twice, and the
/// verdicts equal a fresh container's.
fn bench_checks(home: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_socratic"))
        .arg("--home")
        .arg(home)
        .args(["bench", "serve", "--tasks", "1", "--requests", "6", "--clients", "2", "--cold", "3", "--workers", "1"])
        .arg("--json")
        .output()
        .expect("socratic bench serve");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((b["all_answered_once"].clone(), b["verdicts_agree"].clone()), (json!(true), json!(true)), "{b}");
    let outcomes: BTreeSet<&str> =
        b["cold_verdicts"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(outcomes, BTreeSet::from(["resolved", "no-patch", "unresolved"]), "{b}");
    let levels = b["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2, "one level and the cache row: {b}");
    for (level, repeated) in levels.iter().zip([false, true]) {
        assert_eq!(level["repeated_patches"], repeated, "{level}");
        assert_eq!((level["sent"].clone(), level["answered"].clone()), (json!(6), json!(6)), "{level}");
        assert_eq!((level["lost"].clone(), level["duplicated"].clone()), (json!(0), json!(0)), "{level}");
        assert_eq!(level["service_grades"], 6, "{level}");
        // 6 requests: 2 gold, 2 empty, 2 wrong; only repeated patches come from the cache.
        assert_eq!(level["cached"], if repeated { 4 } else { 0 }, "{level}");
    }
}
