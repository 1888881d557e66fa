//! `socratic report --html` end to end: rounds, tasks, verdicts, scores and Solver results
//! written into a real store with the store API, the page written by the binary, then opened in
//! headless Chromium (Debian's `chromium`; `.ci/run` installs it): the rendered DOM must hold
//! every plot and the browser must log no console message (the page has no script, so any
//! console line is an error: a blocked load, a parse problem). Then the layout, measured by
//! Chromium itself: a copy of the page with a measuring script (the page proper forbids
//! scripts) writes every legend entry's box and every task's `<details>` contents into the DOM;
//! each legend entry must lie inside its SVG's box and each kept task's details must hold its
//! bug diff.
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
        problem_statement: format!("Money.add gives the wrong total ({id})."),
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
const SKILLS: [Option<&str>; 5] = [
    Some("changed-comparison"),
    Some("added-none-guard <b>&\"</b>"),
    None,
    Some("an-unusually-long-skill-name-about-rounding-currency-amounts-half-even"),
    Some("off-by-one-in-range-bounds-of-the-ledger-loops"),
];

/// Two finished rounds of 12 candidates each, verdicts, scores, and two solvers' results.
fn fill(home: &Path) {
    let mut store = Store::open(home).unwrap();
    for number in 1..=2u32 {
        let tasks: Vec<Task> =
            (0..12).map(|i| task(&format!("t-{number}-{i}"), OPERATORS[i % 3], SKILLS[i % 5], number)).collect();
        store.insert_tasks(&tasks).unwrap();
        let mut kept = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            let valid = i % 4 != 0;
            let mut t = t.clone();
            t.stage = if valid { TaskStage::Valid } else { TaskStage::Invalid("fail-to-pass".into()) };
            if valid {
                t.fail_to_pass = vec!["tests/test_money.py::test_add".into()];
                t.pass_to_pass = vec!["tests/test_money.py::test_sub".into()];
            }
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

const TITLES: [&str; 10] = [
    "Candidates, valid and kept tasks per round",
    "Yield by operator (valid ÷ validated)",
    "Yield by skill (valid ÷ validated)",
    "Reward of round 1&#39;s 9 scored tasks (reference set failures)",
    "Reward of round 2&#39;s 9 scored tasks (reference set failures)",
    "Resolve rate per round (k/n, 95% Wilson interval)",
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
    assert_eq!(dom.matches("<svg ").count(), 10, "{dom}");
    for title in TITLES {
        let title = title.replace("&#39;", "'");
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
    // The task browser: 4 kept tasks per round, one <details> each; k/n per round and solver.
    assert_eq!(dom.matches("<details class=\"task\"").count(), 8);
    assert_eq!(chart("chart-resolve").matches("class=\"interval\"").count(), 3, "baseline twice, oracle once");

    // Layout, measured by Chromium.
    let m = measure(&chromium, &html);
    let legends = m["legend"].as_array().unwrap();
    let charts_with_legends: std::collections::BTreeSet<&str> =
        legends.iter().map(|e| e["svg"].as_str().unwrap()).collect();
    assert!(charts_with_legends.len() >= 8, "{charts_with_legends:?}");
    let solver_legend: Vec<&serde_json::Value> = legends.iter().filter(|e| e["svg"] == "chart-solver-0").collect();
    assert_eq!(solver_legend.len(), 4, "one entry per skill attempted");
    let rows: std::collections::BTreeSet<i64> =
        solver_legend.iter().map(|e| e["top"].as_f64().unwrap() as i64).collect();
    assert!(rows.len() >= 2, "the long skill names wrap onto a second row: {solver_legend:#?}");
    for e in legends {
        assert_eq!(e["inside"], true, "legend entry outside its SVG: {e:#}");
    }
    let details = m["tasks"].as_object().unwrap();
    assert_eq!(details.len(), 8);
    let store = Store::open(home.path()).unwrap();
    for round in store.rounds().unwrap() {
        for id in &round.kept {
            let task = store.task(id).unwrap().unwrap();
            let shown = &details[&format!("task-{}-{id}", round.number)];
            assert_eq!(shown["diff"].as_str().unwrap(), task.bug_patch, "{id}'s details hold its bug diff");
            assert!(shown["text"].as_str().unwrap().contains(&task.problem_statement));
            assert!(shown["text"].as_str().unwrap().contains("tests/test_money.py::test_add"));
            assert_eq!(shown["open"], false, "closed until clicked");
        }
    }
}

/// The script that measures the page: every legend entry's box against its SVG's (both in
/// page pixels, and the entry's user-space box against the viewBox), and every task's details.
const MEASURE: &str = r#"<script>
const out = { legend: [], tasks: {} };
for (const svg of document.querySelectorAll('svg.chart')) {
  const box = svg.getBoundingClientRect();
  const view = svg.viewBox.baseVal;
  for (const e of svg.querySelectorAll('.legend-entry')) {
    const b = e.getBoundingClientRect();
    const u = e.getBBox();
    const inside = b.left >= box.left - 0.5 && b.right <= box.right + 0.5 && b.top >= box.top - 0.5
      && b.bottom <= box.bottom + 0.5 && u.x >= 0 && u.x + u.width <= view.width && u.y + u.height <= view.height;
    out.legend.push({ svg: svg.id, text: e.textContent, inside, left: b.left, right: b.right, top: b.top,
      bottom: b.bottom, svg_right: box.right, svg_bottom: box.bottom });
  }
}
for (const d of document.querySelectorAll('details.task')) {
  out.tasks[d.id] = { diff: d.querySelector('pre.diff').textContent, text: d.textContent, open: d.open };
}
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"#;

/// The measurements of `html` (a copy with the measuring script and without the CSP).
fn measure(chromium: &Path, html: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("measured.html");
    let csp = html.find("<meta http-equiv=\"Content-Security-Policy\"").expect("the page has a CSP");
    let html = format!("{}{}", &html[..csp], &html[csp + html[csp..].find('>').unwrap() + 1..]);
    std::fs::write(&page, html.replace("</body>", &format!("{MEASURE}</body>"))).unwrap();
    let rendered = render(chromium, &page);
    assert!(rendered.console.is_empty(), "{:#?}", rendered.console);
    let start = rendered.dom.find("<pre id=\"measured\">").expect("the script ran") + "<pre id=\"measured\">".len();
    let json = &rendered.dom[start..start + rendered.dom[start..].find("</pre>").unwrap()];
    let json = json.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn a_legend_outside_its_chart_is_caught() {
    // The measurement must be able to fail: the old layout drew entries past the right edge.
    let Some(chromium) = chromium_or_skip() else { return };
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"c\" width=\"760\" height=\"100\" \
               viewBox=\"0 0 760 100\"><g class=\"legend-entry\"><text class=\"legend\" x=\"60\" y=\"90\">in</text></g>\
               <g class=\"legend-entry\"><text class=\"legend\" x=\"941\" y=\"90\">out</text></g></svg>";
    let html = socratic::report::html::render(&socratic::report::ReportData::default())
        .replace("</body>", &format!("{svg}</body>"));
    let m = measure(&chromium, &html);
    let inside: Vec<(String, bool)> = m["legend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["text"].as_str().unwrap().to_string(), e["inside"].as_bool().unwrap()))
        .collect();
    assert_eq!(inside, [("in".to_string(), true), ("out".to_string(), false)]);
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

#[test]
fn json_and_csv_hold_the_pages_figures() {
    let home = tempfile::tempdir().unwrap();
    fill(home.path());
    let out_dir = tempfile::tempdir().unwrap();
    let (json, csv) = (out_dir.path().join("report.json"), out_dir.path().join("tasks.csv"));
    let out = socratic(home.path(), &["report", "--json", json.to_str().unwrap(), "--csv", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(2 rounds, 8 kept tasks)") && stdout.contains("(8 kept tasks)"), "{stdout}");
    let d: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rounds = d["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[0]["rejected"], serde_json::json!({"fail-to-pass": 3}));
    assert_eq!(rounds[0]["reference_set"], "failures");
    let baseline = &rounds[0]["resolve"][0];
    assert_eq!((baseline["solver"].as_str(), baseline["attempted"].as_u64()), (Some("baseline"), Some(4)));
    assert!(baseline["low"].as_f64().unwrap() < baseline["high"].as_f64().unwrap());
    let task = &rounds[1]["tasks"][0];
    assert_eq!(task["id"], "t-2-1");
    assert!(task["bug_patch"].as_str().unwrap().contains("+bt-2-1"));
    assert_eq!(task["fail_to_pass"], serde_json::json!(["tests/test_money.py::test_add"]));
    assert_eq!(task["outcomes"][0]["solver"], "baseline");
    assert_eq!(d["rewards"].as_array().unwrap().len(), 18);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8, "{csv}");
    assert!(
        csv.lines().nth(5).unwrap().starts_with("2,t-2-1,\"added-none-guard <b>&\"\"</b>\",remove_none_guard,"),
        "{csv}"
    );

    let out = socratic(home.path(), &["report", "--json", out_dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("it is a folder"));
}
