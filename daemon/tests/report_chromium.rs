//! `socratic report --html` end to end: rounds, tasks, verdicts, scores and Solver results
//! written into a real store with the store API, the page written by the binary, then opened in
//! headless Chromium (Debian's `chromium`; `.ci/run` installs it): the rendered DOM must hold
//! every plot and the browser must log no console message (the page has no script, so any
//! console line is an error: a blocked load, a parse problem).
//!
//! Chromium comes from `CHROMIUM_BIN`, else `chromium` / `chromium-browser` on the PATH. Without
//! one the browser tests are skipped locally and fail under CI.

use socratic::model::{
    EvalReport, Outcome, RejectStage, Round, RoundInputs, RoundStep, Score, Site, SolveResult, SourceFormat, Task,
    TaskStage, Verdict, VerdictOutcome,
};
use socratic::store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::socratic;

fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("CHROMIUM_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain(["chromium", "chromium-browser"].map(PathBuf::from))
        .collect();
    candidates.into_iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

fn chromium_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "chromium is missing under CI (apt-get install chromium)");
        eprintln!("skipped: no chromium (apt-get install chromium)");
    }
    found
}

/// What headless Chromium made of a page: the serialised DOM, and the console lines it logged.
struct Rendered {
    dom: String,
    console: Vec<String>,
}

fn render(chromium: &Path, page: &Path) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    let console =
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    Rendered { dom: String::from_utf8_lossy(&out.stdout).to_string(), console }
}

fn task(id: &str, operator: &str, skill: Option<&str>, round: u32) -> Task {
    Task {
        id: id.into(),
        repo: "/src/tallyho".into(),
        base_commit: "0123456789abcdef0123456789abcdef01234567".into(),
        operator: operator.into(),
        skill: skill.map(str::to_string),
        site: Site {
            file: "tallyho/money.py".into(),
            start_byte: 0,
            end_byte: 4,
            start_line: 3,
            start_col: 0,
            end_line: 3,
            end_col: 4,
            node_kind: "comparison_operator".into(),
            scope: "Money.add".into(),
            query: operator.into(),
            capture: "op".into(),
        },
        bug_patch: format!("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a{id}\n+b{id}\n"),
        enclosing: "Money.add".into(),
        problem_statement: "wrong".into(),
        fail_to_pass: vec![],
        pass_to_pass: vec![],
        image: None,
        stage: TaskStage::Candidate,
        decision: Default::default(),
        anchor: Default::default(),
        seed: 0,
        round: Some(round),
    }
}

const OPERATORS: [&str; 3] = ["flip_comparison", "remove_none_guard", "off_by_one"];
const SKILLS: [Option<&str>; 3] = [Some("changed-comparison"), Some("added-none-guard <b>&\"</b>"), None];

/// Two finished rounds of 12 candidates each, verdicts, scores, and two solvers' results.
fn fill(home: &Path) {
    let mut store = Store::open(home).unwrap();
    for number in 1..=2u32 {
        let tasks: Vec<Task> =
            (0..12).map(|i| task(&format!("t-{number}-{i}"), OPERATORS[i % 3], SKILLS[i % 3], number)).collect();
        store.insert_tasks(&tasks).unwrap();
        let mut kept = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            let valid = i % 4 != 0;
            let mut t = t.clone();
            t.stage = if valid { TaskStage::Valid } else { TaskStage::Invalid("fail-to-pass".into()) };
            let verdict = Verdict {
                task_id: t.id.clone(),
                outcome: if valid { VerdictOutcome::Valid } else { VerdictOutcome::Rejected(RejectStage::FailToPass) },
                reason: String::new(),
                fail_to_pass: vec!["tests/test_money.py::test_add".into()],
                pass_to_pass: vec![],
                duration_ms: 40,
            };
            store.record_verdict(&t, &verdict).unwrap();
            if valid {
                let reward = 0.02 * i as f64 + 0.01 * number as f64;
                store
                    .save_score(&Score {
                        task_id: t.id.clone(),
                        validity: 1.0,
                        cosine: reward,
                        reward: Some(reward),
                        no_reward: None,
                        reference_set: "failures".into(),
                        model_hash: "m".into(),
                    })
                    .unwrap();
                if kept.len() < 4 {
                    kept.push(t.id.clone());
                }
            }
        }
        for (k, id) in kept.iter().enumerate() {
            for solver in ["baseline", "oracle"] {
                if solver == "oracle" && number == 2 {
                    continue;
                }
                let resolved = solver == "oracle" || (k + number as usize) % 2 == 0;
                let outcome = if resolved { Outcome::Resolved } else { Outcome::Unresolved };
                store
                    .save_solve_result(&SolveResult {
                        task_id: id.clone(),
                        round: number,
                        solver: solver.into(),
                        report: EvalReport {
                            instance_id: id.clone(),
                            source: SourceFormat::Solver,
                            resolved,
                            outcome,
                            failure: None,
                            fail_to_pass_success: vec![],
                            fail_to_pass_failure: vec![],
                            pass_to_pass_success: vec![],
                            pass_to_pass_failure: vec![],
                            run: None,
                            patch: None,
                            origin: "solve".into(),
                        },
                        diff: String::new(),
                        trace_id: format!("tr-{id}-{solver}"),
                        duration_ms: 100,
                    })
                    .unwrap();
            }
        }
        store
            .save_round(&Round {
                number,
                inputs: RoundInputs {
                    repo: "/src/tallyho".into(),
                    head: "0123456789abcdef0123456789abcdef01234567".into(),
                    seed: number as u64,
                    budget: 12,
                    keep: 4,
                    max_skill_share: 0.5,
                    trace_ids: vec![],
                    skill_versions: Default::default(),
                    model_hash: Some("m".into()),
                    reference_set: Some("failures".into()),
                    adapter_hash: None,
                },
                step: RoundStep::Done,
                candidates: 12,
                valid: 9,
                kept,
                timings_ms: [
                    ("distill", 800),
                    ("generate", 1500),
                    ("validate", 42_000 + 1000 * number as u64),
                    ("score", 9_000),
                    ("select", 5),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            })
            .unwrap();
    }
    store
        .save_training_run(&socratic::model::TrainingRun {
            model_hash: "m".repeat(64),
            adapter_hash: "a1b2c3d4e5f6".repeat(5),
            adapter_dir: "adapters/round-2".into(),
            method: "sft".into(),
            source: "round 2 curriculum".into(),
            round: Some(2),
            data_ids: vec!["t-2-1".into(), "t-2-2".into()],
            settings: serde_json::json!({"lora": {"rank": 16, "alpha": 32.0, "targets": ["q_proj"]}, "lr": 0.0002}),
            device: "cpu".into(),
            losses: (0..30).map(|i| 6.0 / (1.0 + i as f64)).collect(),
            tokens: 12_000,
            seconds: 20.0,
            tokens_per_second: 600.0,
        })
        .unwrap();
}

const TITLES: [&str; 8] = [
    "Candidates, valid and kept tasks per round",
    "Yield by operator (valid ÷ validated)",
    "Yield by skill (valid ÷ validated)",
    "Reward of the 18 scored tasks (validity × cosine)",
    "Resolve rate by skill across rounds — solver baseline",
    "Resolve rate by skill across rounds — solver oracle",
    "Time spent per stage per round (seconds)",
    "Loss per step — run 1 (sft, round 2 curriculum)",
];

#[test]
fn report_opens_in_chromium_with_every_plot_and_no_console_error() {
    let home = tempfile::tempdir().unwrap();
    fill(home.path());
    let out_dir = tempfile::tempdir().unwrap();
    let page = out_dir.path().join("report.html");
    let out = socratic(home.path(), &["report", "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 rounds, 24 tasks, 18 scored, 1 training runs"), "{stdout}");
    assert!(stdout.contains("training run 1: sft on round 2 curriculum (2 examples), 30 steps, loss 6.0000 -> 0.2000"));
    let html = std::fs::read_to_string(&page).unwrap();
    for needle in ["<script", "http://", "https://", "@import", "url("] {
        let links = html.matches(needle).count()
            - if needle == "http://" { html.matches("http://www.w3.org/2000/svg").count() } else { 0 };
        assert_eq!(links, 0, "the page refers to {needle}");
    }

    let Some(chromium) = chromium_or_skip() else { return };
    let rendered = render(&chromium, &page);
    assert!(rendered.console.is_empty(), "console messages: {:#?}", rendered.console);
    let dom = &rendered.dom;
    assert_eq!(dom.matches("<svg ").count(), 8, "{dom}");
    for title in TITLES {
        assert!(dom.contains(&format!("-title\">{title}</title>")), "missing plot {title:?}");
    }
    // Rounds: 2 × 3 bars; stages: 2 × 5; the skill name is text, not markup.
    let chart = |id: &str| {
        let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no {id}"));
        &dom[start..start + dom[start..].find("</svg>").unwrap()]
    };
    assert_eq!(chart("chart-rounds").matches("class=\"bar\"").count(), 6);
    assert_eq!(chart("chart-stages").matches("class=\"bar\"").count(), 10);
    assert_eq!(chart("chart-yield-operator").matches("class=\"bar\"").count(), 3);
    assert!(chart("chart-solver-0").contains("<polyline"));
    // The loss curve: one line of 30 steps, falling (SVG y grows downwards).
    let loss = chart("chart-loss-1");
    let points = loss.split("class=\"loss\"").nth(1).and_then(|s| s.split("points=\"").nth(1)).unwrap();
    let ys: Vec<f64> =
        points.split('"').next().unwrap().split(' ').map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(ys.len(), 30);
    assert!(ys.windows(2).all(|w| w[0] < w[1]), "{ys:?}");
    assert!(dom.contains("<td>a1b2c3d4e5f6</td>") && dom.contains("<td>600</td>"));
    assert!(dom.contains("added-none-guard &lt;b&gt;&amp;\"&lt;/b&gt;"), "escaped skill name");
    assert!(!dom.contains("<b>"));
}

#[test]
fn console_errors_are_caught() {
    // The check above must be able to fail: a page that loads something logs a CSP violation.
    let Some(chromium) = chromium_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    let html = socratic::report::html::render(&socratic::report::ReportData::default())
        .replace("</body>", "<img src=\"http://127.0.0.1:9/x.png\"></body>");
    std::fs::write(&page, html).unwrap();
    let rendered = render(&chromium, &page);
    assert_eq!(rendered.console.len(), 1, "{:#?}", rendered.console);
    assert!(rendered.console[0].contains("Content Security Policy"), "{}", rendered.console[0]);
}

#[test]
fn empty_store_gives_a_page_that_says_nothing_yet() {
    let home = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let page = out_dir.path().join("empty.html");
    let out = socratic(home.path(), &["report", "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to show yet"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Nothing yet"));

    let bad = out_dir.path().join("missing/report.html");
    let out = socratic(home.path(), &["report", "--html", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot write {}", bad.display())));

    let Some(chromium) = chromium_or_skip() else { return };
    let rendered = render(&chromium, &page);
    assert!(rendered.console.is_empty(), "{:#?}", rendered.console);
    assert!(rendered.dom.contains("Nothing yet") && !rendered.dom.contains("<svg"));
}
