//! The report page: a [`ReportData`] rendered as one HTML document with inline SVG charts.
//!
//! In: the figures. Out: the page as a `String` (pure). Sections: summary, rounds (table,
//! grouped bars, rejections per stage), the curriculum of each round as a task browser (a
//! `<details>` per kept task opening to its problem statement, bug diff and tests: readable with
//! no script), yield by operator and by skill (horizontal bars and tables), the reward
//! distribution per round (histograms only for rounds with a reference set), the Solver's
//! resolve rate per round (`k/n` with a 95% interval) and by skill across rounds, time per stage
//! per round (stacked bars), evolve and training runs. A store with nothing in it gives a page
//! that says so. Every text from the store is escaped.

use super::svg::{self, esc, Chart, Series, Unit};
use super::{ReportData, RewardPoint, RoundRow, YieldRow};
use crate::model::RoundStep;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 980px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
p.summary { color: #555; margin-top: 0; }
p.empty { color: #666; font-style: italic; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
svg.chart { display: block; margin: .8rem 0; max-width: 100%; height: auto; }
svg .chart-title { font-size: 14px; font-weight: 600; fill: #222; }
svg .tick, svg .label, svg .legend, svg .note { font-size: 11px; fill: #444; }
svg .count { font-size: 10px; fill: #333; }
svg .empty { font-size: 13px; fill: #777; }
h3 { font-size: 1rem; margin: 1.4rem 0 .3rem; }
.tasks { margin: .6rem 0; font-size: .88rem; }
.tasks .row, details.task > summary { display: grid; grid-template-columns: 1.2rem 8.5rem 1fr 1fr 4.5rem 6.5rem 1fr; gap: .5rem; padding: .25rem .3rem; border-bottom: 1px solid #eee; }
.tasks .head { font-weight: 600; background: #f4f4f4; }
details.task > summary { cursor: pointer; list-style: none; }
details.task > summary::-webkit-details-marker { display: none; }
details.task > summary::before { content: '▸'; }
details.task[open] > summary::before { content: '▾'; }
details.task > summary span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
details.task .body { padding: .4rem 1.7rem .8rem; background: #fafafa; border-bottom: 1px solid #ddd; }
details.task pre { background: #fff; border: 1px solid #e4e4e4; padding: .5rem; overflow-x: auto; font-size: .8rem; }
pre.diff .add { color: #1a7f37; } pre.diff .del { color: #c62828; } pre.diff .hunk { color: #6f42c1; }
.statement { white-space: pre-wrap; }
svg .grid { stroke: #e6e6e6; }
svg .axis { stroke: #888; }
";

/// The whole page.
pub fn render(d: &ReportData) -> String {
    let mut body = String::new();
    let _ = write!(body, "<h1>socratic report</h1>");
    if d.is_empty() {
        let _ = write!(
            body,
            "<p class=\"empty\">Nothing yet: this store holds no round, task, score or Solver result \
             ({} traces, {} skills). Run <code>socratic round</code> (or <code>socratic demo</code>) and \
             write the report again.</p>",
            d.traces, d.skills
        );
        return page(&body);
    }
    let _ = write!(
        body,
        "<p class=\"summary\">{} rounds · {} tasks · {} scored · {} Solver attempts · {} traces · {} skills</p>",
        d.rounds.len(),
        d.tasks,
        d.rewards.len(),
        d.solve.iter().map(|r| r.attempted).sum::<usize>(),
        d.traces,
        d.skills
    );
    rounds_section(&mut body, &d.rounds);
    curriculum_section(&mut body, &d.rounds);
    yield_section(&mut body, "yield-operator", "Yield by operator", "operator", &d.by_operator);
    yield_section(&mut body, "yield-skill", "Yield by skill", "skill", &d.by_skill);
    rewards_section(&mut body, &d.rounds, &d.rewards, &d.no_reward);
    resolve_section(&mut body, &d.rounds);
    solve_section(&mut body, d);
    stages_section(&mut body, &d.rounds);
    evolve_section(&mut body, &d.evolve);
    training_section(&mut body, &d.training);
    super::experiment::section(&mut body, &d.experiments);
    page(&body)
}

fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>socratic report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "–".to_string()
    } else {
        format!("{:.0}%", 100.0 * part as f64 / whole as f64)
    }
}

fn round_label(n: u32) -> String {
    format!("round {n}")
}

fn rounds_section(out: &mut String, rounds: &[RoundRow]) {
    out.push_str("<h2 id=\"rounds\">Rounds</h2>");
    if rounds.is_empty() {
        out.push_str("<p class=\"empty\">No round has run yet.</p>");
        return;
    }
    let rows: Vec<Vec<String>> = rounds
        .iter()
        .map(|r| {
            let ms: u64 = r.timings_ms.values().sum();
            vec![
                r.number.to_string(),
                r.step.clone(),
                r.candidates.to_string(),
                r.valid.to_string(),
                r.kept.to_string(),
                percent(r.valid, r.candidates),
                svg::format_value(ms as f64 / 1000.0, Unit::Seconds),
            ]
        })
        .collect();
    table(out, &["round", "next step", "candidates", "valid", "kept", "valid ÷ candidates", "time"], &rows);
    let column = |f: fn(&RoundRow) -> usize| rounds.iter().map(|r| f(r) as f64).collect::<Vec<f64>>();
    out.push_str(&svg::grouped_bars(&Chart {
        id: "chart-rounds".into(),
        title: "Candidates, valid and kept tasks per round".into(),
        categories: rounds.iter().map(|r| round_label(r.number)).collect(),
        series: vec![
            Series { name: "candidates".into(), values: column(|r| r.candidates) },
            Series { name: "valid".into(), values: column(|r| r.valid) },
            Series { name: "kept".into(), values: column(|r| r.kept) },
        ],
        unit: Unit::Count,
    }));
    rejections_table(out, rounds);
}

/// Rejected candidates per round and validation stage (stages in the order validation runs).
fn rejections_table(out: &mut String, rounds: &[RoundRow]) {
    use crate::model::RejectStage as S;
    let order =
        [S::Format, S::Grounding, S::Execution, S::FailToPass, S::PassToPass, S::Flaky, S::Reverse].map(S::name);
    let mut stages: Vec<&str> =
        order.iter().copied().filter(|s| rounds.iter().any(|r| r.rejected.contains_key(*s))).collect();
    let extra: BTreeSet<&str> =
        rounds.iter().flat_map(|r| r.rejected.keys().map(String::as_str)).filter(|k| !order.contains(k)).collect();
    stages.extend(extra);
    out.push_str("<h3 id=\"rejections\">Rejections per stage</h3>");
    if stages.is_empty() {
        out.push_str("<p class=\"empty\">No candidate rejected yet.</p>");
        return;
    }
    let mut head = vec!["round"];
    head.extend(stages.iter().copied());
    head.push("rejected");
    let rows: Vec<Vec<String>> = rounds
        .iter()
        .map(|r| {
            let mut row = vec![r.number.to_string()];
            row.extend(stages.iter().map(|s| r.rejected.get(*s).map_or("–".into(), |n| n.to_string())));
            row.push(r.rejected.values().sum::<usize>().to_string());
            row
        })
        .collect();
    table(out, &head, &rows);
}

/// Each round's kept tasks: a header row, then a `<details>` per task whose summary is the
/// task's row and whose body is its problem statement, bug diff and tests.
fn curriculum_section(out: &mut String, rounds: &[RoundRow]) {
    out.push_str("<h2 id=\"curriculum\">Curriculum by round</h2>");
    if rounds.iter().all(|r| r.tasks.is_empty()) {
        out.push_str("<p class=\"empty\">No round kept a task yet.</p>");
        return;
    }
    for r in rounds.iter().filter(|r| !r.tasks.is_empty()) {
        let rates: Vec<String> =
            r.resolve.iter().map(|x| format!("{} {}", esc(&x.solver), esc(&x.describe()))).collect();
        let _ = write!(
            out,
            "<h3 id=\"curriculum-{n}\">Round {n}: {} kept tasks</h3><p class=\"summary\">{}</p>\
             <div class=\"tasks\" id=\"tasks-round-{n}\"><div class=\"row head\"><span></span><span>task</span>\
             <span>skill</span><span>operator</span><span>reward</span><span>verdict</span><span>Solver outcomes</span></div>",
            r.tasks.len(),
            if rates.is_empty() { "No Solver attempt on this curriculum yet.".to_string() } else { format!("resolve rate: {}", rates.join(" · ")) },
            n = r.number,
        );
        for t in &r.tasks {
            task_details(out, r.number, t);
        }
        out.push_str("</div>");
    }
}

/// At most this many PASS_TO_PASS tests are listed per task (the JSON has them all).
const PASS_TO_PASS_SHOWN: usize = 40;

fn task_details(out: &mut String, round: u32, t: &super::TaskRow) {
    let outcomes: Vec<String> = t.outcomes.iter().map(|o| format!("{}: {}", o.solver, o.outcome)).collect();
    let outcomes = if outcomes.is_empty() { "–".to_string() } else { outcomes.join(" · ") };
    let decision = if t.decision == "none" { String::new() } else { format!(" · {}", t.decision) };
    let _ = write!(
        out,
        "<details class=\"task\" id=\"task-{round}-{id}\"><summary><span class=\"id\" title=\"{id}\">{id}</span>\
         <span title=\"{skill}\">{skill}</span><span title=\"{op}\">{op}</span><span>{reward}</span>\
         <span>{verdict}{decision}</span><span title=\"{outcomes}\">{outcomes}</span></summary><div class=\"body\">\
         <p><code>{file}:{line}</code></p><h4>Problem statement</h4><p class=\"statement\">{statement}</p>\
         <h4>Bug diff</h4><pre class=\"diff\">{diff}</pre>",
        id = esc(&t.id),
        skill = esc(&t.skill),
        op = esc(&t.operator),
        reward = t.reward.map_or("–".into(), |r| format!("{r:.4}")),
        verdict = esc(&t.verdict),
        decision = esc(&decision),
        outcomes = esc(&outcomes),
        file = esc(&t.file),
        line = t.line,
        statement = esc(&t.problem_statement),
        diff = diff_html(&t.bug_patch),
    );
    test_list(out, "FAIL_TO_PASS", "fail-to-pass", &t.fail_to_pass, usize::MAX);
    test_list(out, "PASS_TO_PASS", "pass-to-pass", &t.pass_to_pass, PASS_TO_PASS_SHOWN);
    out.push_str("</div></details>");
}

/// A unified diff, escaped, its added, removed and hunk lines in spans.
fn diff_html(diff: &str) -> String {
    let mut out = String::new();
    for line in diff.lines() {
        let class = match line.as_bytes().first() {
            Some(b'+') if !line.starts_with("+++") => "add",
            Some(b'-') if !line.starts_with("---") => "del",
            Some(b'@') => "hunk",
            _ => "",
        };
        if class.is_empty() {
            let _ = writeln!(out, "{}", esc(line));
        } else {
            let _ = writeln!(out, "<span class=\"{class}\">{}</span>", esc(line));
        }
    }
    out
}

fn test_list(out: &mut String, title: &str, class: &str, tests: &[String], shown: usize) {
    let _ = write!(out, "<h4>{title} ({})</h4>", tests.len());
    if tests.is_empty() {
        out.push_str("<p class=\"empty\">none</p>");
        return;
    }
    let _ = write!(out, "<ul class=\"{class}\">");
    for test in tests.iter().take(shown) {
        let _ = write!(out, "<li><code>{}</code></li>", esc(test));
    }
    if tests.len() > shown {
        let _ = write!(out, "<li>… and {} more (all in <code>report --json</code>)</li>", tests.len() - shown);
    }
    out.push_str("</ul>");
}

fn yield_section(out: &mut String, id: &str, title: &str, what: &str, rows: &[YieldRow]) {
    let _ = write!(out, "<h2 id=\"{id}\">{}</h2>", esc(title));
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No task generated yet.</p>");
        return;
    }
    let notes: Vec<String> = rows
        .iter()
        .map(|r| if r.validated == 0 { "not validated".into() } else { format!("{}/{}", r.valid, r.validated) })
        .collect();
    out.push_str(&svg::horizontal_bars(
        &Chart {
            id: format!("chart-{id}"),
            title: format!("{title} (valid ÷ validated)"),
            categories: rows.iter().map(|r| r.name.clone()).collect(),
            series: vec![Series {
                name: "yield".into(),
                values: rows.iter().map(|r| r.yield_rate().unwrap_or(f64::NAN)).collect(),
            }],
            unit: Unit::Share,
        },
        &notes,
    ));
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.generated.to_string(),
                r.validated.to_string(),
                r.valid.to_string(),
                r.kept.to_string(),
                percent(r.valid, r.validated),
            ]
        })
        .collect();
    table(out, &[what, "generated", "validated", "valid", "kept", "yield"], &table_rows);
}

/// Histogram bins over the rewards' range: labels, kept counts, other counts.
pub fn histogram(points: &[RewardPoint]) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    if points.is_empty() {
        return (Vec::new(), Vec::new(), Vec::new());
    }
    let bins = ((points.len() as f64).sqrt().ceil() as usize).clamp(3, 12);
    let (mut lo, mut hi) =
        points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.reward), hi.max(p.reward)));
    if hi - lo < 1e-9 {
        lo -= 0.05;
        hi += 0.05;
    }
    let width = (hi - lo) / bins as f64;
    let decimals = ((-width.log10()).floor() as i64 + 1).clamp(0, 4) as usize;
    let labels = (0..bins)
        .map(|i| format!("{:.*}–{:.*}", decimals, lo + width * i as f64, decimals, lo + width * (i + 1) as f64))
        .collect();
    let (mut kept, mut other) = (vec![0.0; bins], vec![0.0; bins]);
    for p in points {
        let i = (((p.reward - lo) / width) as usize).min(bins - 1);
        if p.kept {
            kept[i] += 1.0;
        } else {
            other[i] += 1.0;
        }
    }
    (labels, kept, other)
}

fn rewards_section(out: &mut String, rounds: &[RoundRow], points: &[RewardPoint], no_reward: &BTreeMap<String, usize>) {
    out.push_str("<h2 id=\"rewards\">Reward distribution</h2>");
    if !no_reward.is_empty() {
        let whys: Vec<String> = no_reward.iter().map(|(why, n)| format!("{n} scored with {}", esc(why))).collect();
        let _ = write!(
            out,
            "<p class=\"no-reward\">No reward for {} tasks: {}. A reward needs a trained model \
             (<code>--model DIR</code>) and a reference set of trusted fixes; these tasks were ranked \
             by their skill's weight instead.</p>",
            no_reward.values().sum::<usize>(),
            whys.join(", ")
        );
    }
    if points.is_empty() {
        if no_reward.is_empty() {
            out.push_str("<p class=\"empty\">No task scored yet (<code>socratic tasks score</code>).</p>");
        }
        return;
    }
    let mut drawn = 0;
    for r in rounds {
        let mine: Vec<RewardPoint> = points.iter().filter(|p| p.round == Some(r.number)).cloned().collect();
        if mine.is_empty() {
            continue;
        }
        let Some(reference) = &r.reference_set else {
            let _ = write!(
                out,
                "<p class=\"no-reference\">Round {}: {} rewarded tasks but no reference set; not drawn (its \
                 rewards do not measure the same thing).</p>",
                r.number,
                mine.len()
            );
            continue;
        };
        out.push_str(&reward_histogram(
            &format!("chart-rewards-{}", r.number),
            &format!("Reward of round {}'s {} scored tasks (reference set {})", r.number, mine.len(), reference),
            &mine,
        ));
        drawn += mine.len();
    }
    let others = points.len() - points.iter().filter(|p| rounds.iter().any(|r| Some(r.number) == p.round)).count();
    if others > 0 {
        let _ = write!(out, "<p class=\"summary\">{others} rewarded tasks were made outside a round; not drawn.</p>");
    }
    if drawn == 0 {
        out.push_str("<p class=\"empty\">No round with a reference set has a rewarded task.</p>");
    }
}

/// One round's histogram (kept vs not kept) with its min, median and max.
fn reward_histogram(id: &str, title: &str, points: &[RewardPoint]) -> String {
    let (labels, kept, other) = histogram(points);
    let mut out = svg::stacked_bars(&Chart {
        id: id.into(),
        title: title.into(),
        categories: labels,
        series: vec![Series { name: "kept".into(), values: kept }, Series { name: "not kept".into(), values: other }],
        unit: Unit::Count,
    });
    let mut sorted: Vec<f64> = points.iter().map(|p| p.reward).collect();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let _ = write!(out, "<p>min {:.4} · median {:.4} · max {:.4}</p>", sorted[0], at(0.5), sorted[sorted.len() - 1]);
    out
}

/// Per solver, the resolve rate on each round's curriculum: `k/n` and its 95% interval.
fn resolve_section(out: &mut String, rounds: &[RoundRow]) {
    let solvers: BTreeSet<&str> = rounds.iter().flat_map(|r| r.resolve.iter().map(|x| x.solver.as_str())).collect();
    if solvers.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"resolve\">Solver resolve rate per round</h2>");
    let with: Vec<&RoundRow> = rounds.iter().filter(|r| !r.resolve.is_empty()).collect();
    let rates: Vec<Vec<Option<super::RateRow>>> = solvers
        .iter()
        .map(|s| with.iter().map(|r| r.resolve.iter().find(|x| x.solver == *s).cloned()).collect())
        .collect();
    out.push_str(&svg::rates(
        &Chart {
            id: "chart-resolve".into(),
            title: "Resolve rate per round (k/n, 95% Wilson interval)".into(),
            categories: with.iter().map(|r| round_label(r.number)).collect(),
            series: solvers.iter().map(|s| Series { name: s.to_string(), values: vec![] }).collect(),
            unit: Unit::Share,
        },
        &rates,
    ));
    let rows: Vec<Vec<String>> = with
        .iter()
        .flat_map(|r| {
            r.resolve.iter().map(|x| {
                vec![
                    r.number.to_string(),
                    x.solver.clone(),
                    format!("{}/{}", x.resolved, x.attempted),
                    percent(x.resolved, x.attempted),
                    format!("{:.0}–{:.0}%", 100.0 * x.low, 100.0 * x.high),
                ]
            })
        })
        .collect();
    table(out, &["round", "solver", "resolved", "rate", "95% interval"], &rows);
}

fn solve_section(out: &mut String, d: &ReportData) {
    out.push_str("<h2 id=\"solver\">Solver resolve rate by skill</h2>");
    if d.solve.is_empty() {
        out.push_str("<p class=\"empty\">No Solver run yet (<code>socratic solve</code>).</p>");
        return;
    }
    let solvers: BTreeSet<&str> = d.solve.iter().map(|r| r.solver.as_str()).collect();
    for (k, solver) in solvers.into_iter().enumerate() {
        let rows: Vec<&super::SolveRow> = d.solve.iter().filter(|r| r.solver == solver).collect();
        let rounds: BTreeSet<u32> = rows.iter().map(|r| r.round).collect();
        let skills: BTreeSet<&str> = rows.iter().map(|r| r.skill.as_str()).collect();
        let mut rate: BTreeMap<(&str, u32), f64> = BTreeMap::new();
        for r in &rows {
            rate.insert((r.skill.as_str(), r.round), r.rate());
        }
        let series = skills
            .iter()
            .map(|skill| Series {
                name: skill.to_string(),
                values: rounds.iter().map(|n| rate.get(&(*skill, *n)).copied().unwrap_or(f64::NAN)).collect(),
            })
            .collect();
        out.push_str(&svg::lines(&Chart {
            id: format!("chart-solver-{k}"),
            title: format!("Resolve rate by skill across rounds — solver {solver}"),
            categories: rounds.iter().map(|n| round_label(*n)).collect(),
            series,
            unit: Unit::Share,
        }));
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let (low, high) = super::wilson(r.resolved, r.attempted);
                vec![
                    r.skill.clone(),
                    r.round.to_string(),
                    format!("{}/{}", r.resolved, r.attempted),
                    percent(r.resolved, r.attempted),
                    format!("{:.0}–{:.0}%", 100.0 * low, 100.0 * high),
                ]
            })
            .collect();
        table(out, &["skill", "round", "resolved", "resolve rate", "95% interval"], &table_rows);
    }
}

fn evolve_section(out: &mut String, runs: &[super::EvolveRow]) {
    if runs.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"evolve\">Evolve runs</h2>");
    for run in runs {
        let _ = write!(
            out,
            "<p>Run {} ({}), solver {}, {} held-out tasks, on <code>{}</code>.</p>",
            run.id,
            esc(&run.state),
            esc(&run.solver),
            run.held_out,
            esc(&run.repo)
        );
        if run.random_weights {
            out.push_str(
                "<p class=\"empty\">Computed on a random-weights model: these resolve rates and losses show that \
                 the loop runs, not that the Solver learns; they are not a signal.</p>",
            );
        }
        let share = |r: Option<crate::store::Rate>| r.and_then(|r| r.fraction()).unwrap_or(f64::NAN);
        out.push_str(&svg::lines(&Chart {
            id: format!("chart-evolve-{}", run.id),
            title: format!("Resolve rate per round — evolve run {}", run.id),
            categories: run.lines.iter().map(|l| round_label(l.index)).collect(),
            series: vec![
                Series { name: "curriculum".into(), values: run.lines.iter().map(|l| share(l.curriculum)).collect() },
                Series { name: "held-out".into(), values: run.lines.iter().map(|l| share(l.held_out)).collect() },
            ],
            unit: Unit::Share,
        }));
        let rows: Vec<Vec<String>> = run
            .lines
            .iter()
            .map(|l| {
                vec![
                    l.index.to_string(),
                    l.round.map_or("–".into(), |n| n.to_string()),
                    l.adapter_hash.as_deref().map_or("base model".into(), |h| h.chars().take(12).collect()),
                    l.curriculum.map_or("–".into(), |r| r.describe()),
                    l.held_out.map_or("–".into(), |r| r.describe()),
                    l.loss.map_or("–".into(), |x| format!("{x:.4}")),
                ]
            })
            .collect();
        table(
            out,
            &["round", "loop round", "adapter", "curriculum resolve rate", "held-out resolve rate", "training loss"],
            &rows,
        );
    }
}

fn training_section(out: &mut String, runs: &[super::TrainingRow]) {
    out.push_str("<h2 id=\"training\">Training runs</h2>");
    if runs.is_empty() {
        out.push_str("<p class=\"empty\">No training run yet (<code>socratic train</code>).</p>");
        return;
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                format!("run {}", r.number),
                r.method.clone(),
                r.source.clone(),
                r.examples.to_string(),
                r.losses.len().to_string(),
                r.losses.first().map_or("–".into(), |l| format!("{l:.4}")),
                r.losses.last().map_or("–".into(), |l| format!("{l:.4}")),
                format!("{:.0}", r.tokens_per_second),
                format!("{:.1} s", r.seconds),
                r.device.clone(),
                r.adapter_hash.clone(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "run",
            "method",
            "examples from",
            "examples",
            "steps",
            "first loss",
            "last loss",
            "tokens/s",
            "time",
            "device",
            "adapter",
        ],
        &rows,
    );
    for r in runs {
        out.push_str(&svg::loss_curve(
            &format!("chart-loss-{}", r.number),
            &format!("Loss per step — run {} ({}, {})", r.number, r.method, r.source),
            &r.losses,
        ));
        let _ = write!(
            out,
            "<p class=\"summary\">run {}: {} · model {} · {} tokens</p>",
            r.number,
            esc(&r.hyper_parameters),
            esc(&r.model_hash),
            r.tokens
        );
    }
}

fn stages_section(out: &mut String, rounds: &[RoundRow]) {
    out.push_str("<h2 id=\"stages\">Time per stage</h2>");
    let mut stages: Vec<String> =
        RoundStep::ALL.iter().filter(|s| **s != RoundStep::Done).map(|s| s.as_str().to_string()).collect();
    let extra: BTreeSet<&String> =
        rounds.iter().flat_map(|r| r.timings_ms.keys()).filter(|k| !stages.contains(k)).collect();
    stages.extend(extra.into_iter().cloned());
    stages.retain(|s| rounds.iter().any(|r| r.timings_ms.contains_key(s)));
    if stages.is_empty() {
        out.push_str("<p class=\"empty\">No stage timings recorded yet.</p>");
        return;
    }
    out.push_str(&svg::stacked_bars(&Chart {
        id: "chart-stages".into(),
        title: "Time spent per stage per round (seconds)".into(),
        categories: rounds.iter().map(|r| round_label(r.number)).collect(),
        series: stages
            .iter()
            .map(|stage| Series {
                name: stage.clone(),
                values: rounds
                    .iter()
                    .map(|r| r.timings_ms.get(stage).map_or(f64::NAN, |ms| *ms as f64 / 1000.0))
                    .collect(),
            })
            .collect(),
        unit: Unit::Seconds,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::svg::tests::assert_well_formed;
    use crate::report::SolveRow;

    fn data() -> ReportData {
        let round = |n: u32, candidates, valid, kept| RoundRow {
            number: n,
            step: "done".into(),
            candidates,
            valid,
            kept,
            timings_ms: [("distill".to_string(), 1200), ("validate".to_string(), 64_000), ("score".to_string(), 9_000)]
                .into(),
            reference_set: Some("failures".into()),
            rejected: [("fail-to-pass".to_string(), 3), ("format".to_string(), 2)].into(),
            resolve: vec![crate::report::RateRow::new("baseline", 1, 4), crate::report::RateRow::new("oracle", 4, 4)],
            tasks: vec![],
        };
        let y = |name: &str, generated, validated, valid, kept| YieldRow {
            name: name.into(),
            generated,
            validated,
            valid,
            kept,
        };
        ReportData {
            rounds: vec![round(1, 20, 12, 5), round(2, 24, 18, 6)],
            by_operator: vec![
                y("flip_comparison", 20, 18, 12, 5),
                y("drop_<guard>", 24, 12, 3, 1),
                y("unvalidated_op", 2, 0, 0, 0),
            ],
            by_skill: vec![y("<script>alert(1)</script>", 30, 20, 10, 4), y("(untargeted)", 14, 10, 5, 2)],
            rewards: (0..30)
                .map(|i| RewardPoint {
                    task_id: format!("t-{i}"),
                    reward: i as f64 / 100.0,
                    kept: i % 3 == 0,
                    round: Some(1),
                })
                .collect(),
            no_reward: BTreeMap::from([("random model".to_string(), 4)]),
            solve: vec![
                SolveRow { solver: "baseline".into(), skill: "s-a".into(), round: 1, attempted: 4, resolved: 1 },
                SolveRow { solver: "baseline".into(), skill: "s-a".into(), round: 2, attempted: 4, resolved: 3 },
                SolveRow { solver: "baseline".into(), skill: "s-b".into(), round: 2, attempted: 2, resolved: 0 },
                SolveRow { solver: "oracle".into(), skill: "s-a".into(), round: 1, attempted: 4, resolved: 4 },
            ],
            traces: 12,
            skills: 3,
            tasks: 44,
            evolve: vec![],
            training: vec![crate::report::TrainingRow {
                number: 1,
                method: "sft".into(),
                source: "round 2 <curriculum>".into(),
                device: "cpu".into(),
                adapter_hash: "0123456789ab".into(),
                model_hash: "ba9876543210".into(),
                examples: 12,
                hyper_parameters: "rank 16 · alpha 32".into(),
                losses: vec![6.0, 4.5, 3.0, 2.5, 1.0],
                tokens: 9000,
                seconds: 30.0,
                tokens_per_second: 300.0,
            }],
            experiments: vec![],
        }
    }

    #[test]
    fn evolve_runs_show_per_round_rates_and_label_random_weights() {
        use crate::store::{EvolveLine, Rate};
        let line = |index: u32, held: usize| EvolveLine {
            index,
            round: Some(index + 2),
            adapter_hash: (index > 1).then(|| "feedfacecafe0123".to_string()),
            curriculum: Some(Rate { resolved: 1, attempted: 3 }),
            held_out: Some(Rate { resolved: held, attempted: 4 }),
            loss: Some(2.5),
            trained_adapter: None,
            random_weights: true,
        };
        let run = super::super::EvolveRow {
            id: 7,
            repo: "/r/<x>".into(),
            state: "done".into(),
            solver: "lm".into(),
            held_out: 4,
            random_weights: true,
            lines: vec![line(1, 0), line(2, 1), line(3, 2)],
        };
        let page = render(&ReportData { evolve: vec![run.clone()], ..data() });
        assert!(page.contains("<h2 id=\"evolve\">Evolve runs</h2>"));
        assert!(page.contains("/r/&lt;x&gt;"), "escaped");
        assert!(page.contains("random-weights model"), "the random model is labelled");
        for cell in ["<td>base model</td>", "<td>feedfacecafe</td>", "<td>1/4 (25%)</td>", "<td>2/4 (50%)</td>"] {
            assert!(page.contains(cell), "{cell} missing");
        }
        assert!(page.contains("Resolve rate per round — evolve run 7"));
        let text = super::super::text(&ReportData { evolve: vec![run], ..data() });
        assert_eq!(text.lines().filter(|l| l.starts_with("  round ")).count(), 3, "{text}");
        assert!(text.contains("held-out 2/4 (50%)") && text.contains("not a signal"), "{text}");
    }

    fn svgs(page: &str) -> Vec<&str> {
        page.match_indices("<svg ").map(|(i, _)| &page[i..i + page[i..].find("</svg>").unwrap() + 6]).collect()
    }

    #[test]
    fn every_section_has_its_chart() {
        let page = render(&data());
        let charts = svgs(&page);
        // rounds, yield by operator, yield by skill, round 1's rewards (round 2 has none), resolve
        // rate per round, one per solver (2), stages, a loss curve per training run.
        assert_eq!(charts.len(), 9, "{page}");
        for svg in &charts {
            assert_well_formed(svg);
        }
        let ids: Vec<&str> =
            charts.iter().map(|s| s.split("id=\"").nth(1).unwrap().split('"').next().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "chart-rounds",
                "chart-yield-operator",
                "chart-yield-skill",
                "chart-rewards-1",
                "chart-resolve",
                "chart-solver-0",
                "chart-solver-1",
                "chart-stages",
                "chart-loss-1"
            ]
        );
        let charts: Vec<&str> = [0, 1, 2, 3, 5, 6, 7, 8].iter().map(|i| charts[*i]).collect();
        assert_eq!(charts[7].matches("<polyline class=\"loss\"").count(), 1);
        assert!(page.contains("round 2 &lt;curriculum&gt;") && page.contains("rank 16 · alpha 32"));
        assert!(page.contains("<td>0123456789ab</td>") && page.contains("<td>300</td>"));
        // Bars: 2 rounds × 3 series; 2 of 3 operators validated; 2 skills; stages 2 rounds × 3.
        let bar_count = |svg: &str| svg.matches("class=\"bar\"").count();
        assert_eq!(bar_count(charts[0]), 6);
        assert_eq!(bar_count(charts[1]), 2);
        assert!(charts[1].contains(">not validated</text>"));
        assert_eq!(bar_count(charts[2]), 2);
        assert_eq!(bar_count(charts[6]), 6);
        // Histogram: 30 rewards in 6 bins, kept and not kept stacked; every task counted once.
        let tooltips: usize = charts[3]
            .split("<title>")
            .filter_map(|t| t.split("</title>").next())
            .filter_map(|t| t.rsplit(": ").next().and_then(|n| n.parse::<usize>().ok()))
            .sum();
        assert_eq!(tooltips, 30);
        // Baseline: s-a in rounds 1 and 2 (a line), s-b only in round 2 (a dot).
        assert_eq!(charts[4].matches("<polyline").count(), 1);
        assert_eq!(charts[4].matches("class=\"point\"").count(), 3);
        assert!(charts[4].contains("<title>round 2 · s-a: 75%</title>"), "{}", charts[4]);
    }

    #[test]
    fn store_text_is_escaped() {
        let page = render(&data());
        assert!(!page.contains("<script>"), "raw script tag in the page");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("drop_&lt;guard&gt;"));
        assert!(page.contains("Content-Security-Policy"));
        assert!(
            !page.contains("http://")
                || page.matches("http://").count() == page.matches("http://www.w3.org/2000/svg").count(),
            "no link out"
        );
    }

    #[test]
    fn empty_store_says_nothing_yet() {
        let page = render(&ReportData { traces: 3, ..Default::default() });
        assert!(page.contains("Nothing yet") && page.contains("3 traces"), "{page}");
        assert!(!page.contains("<svg"));
    }

    #[test]
    fn partial_data_shows_what_there_is() {
        let mut d = data();
        d.rewards.clear();
        d.no_reward.clear();
        d.solve.clear();
        d.training.clear();
        for r in &mut d.rounds {
            r.resolve.clear();
        }
        let page = render(&d);
        assert_eq!(svgs(&page).len(), 4);
        assert!(page.contains("No task scored yet") && page.contains("No Solver run yet"));
        assert!(page.contains("No training run yet"));
    }

    #[test]
    fn scores_with_no_reward_are_counted_and_said_not_charted_as_zeros() {
        let mut d = data();
        d.rewards.clear();
        let page = render(&d);
        assert!(page.contains("No reward for 4 tasks: 4 scored with random model"), "{page}");
        assert!(!page.contains("chart-rewards") && !page.contains("No task scored yet"));
    }

    fn kept_task(id: &str) -> crate::report::TaskRow {
        crate::report::TaskRow {
            id: id.into(),
            skill: "changed-comparison".into(),
            operator: "flip_comparison".into(),
            file: "tallyho/money.py".into(),
            line: 12,
            reward: Some(0.25),
            verdict: "valid".into(),
            decision: "accepted".into(),
            outcomes: vec![crate::report::SolverOutcome {
                solver: "baseline".into(),
                round: 2,
                outcome: "unresolved".into(),
            }],
            problem_statement: "Adding <two> amounts\ngives the wrong total.".into(),
            bug_patch: "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a < b\n+a <= b\n".into(),
            fail_to_pass: vec!["tests/test_money.py::test_add".into()],
            pass_to_pass: (0..45).map(|i| format!("tests/test_money.py::test_{i}")).collect(),
        }
    }

    #[test]
    fn each_kept_task_opens_to_its_statement_diff_and_tests() {
        let mut d = data();
        d.rounds[1].tasks = vec![kept_task("t-<9>"), kept_task("t-2")];
        let page = render(&d);
        assert_eq!(page.matches("<details class=\"task\"").count(), 2);
        let start = page.find("id=\"task-2-t-&lt;9&gt;\"").expect("the task's details, id escaped");
        let details = &page[start..start + page[start..].find("</details>").unwrap()];
        assert!(details.contains("<span>valid · accepted</span>"), "{details}");
        assert!(details.contains("baseline: unresolved") && details.contains("<span>0.2500</span>"));
        assert!(details.contains("Adding &lt;two&gt; amounts\ngives the wrong total."), "{details}");
        assert!(details.contains("<span class=\"del\">-a &lt; b</span>\n<span class=\"add\">+a &lt;= b</span>"));
        assert!(
            details.contains("<span class=\"hunk\">@@ -1 +1 @@</span>") && details.contains("--- a/m.py\n+++ b/m.py")
        );
        assert!(details.contains("FAIL_TO_PASS (1)") && details.contains("<code>tests/test_money.py::test_add</code>"));
        assert!(details.contains("PASS_TO_PASS (45)") && details.contains("… and 5 more"), "capped at 40");
        assert_eq!(details.matches("<li>").count(), 1 + 40 + 1);
        assert!(page.contains("Round 2: 2 kept tasks"));
        assert!(page.contains("resolve rate: baseline 1/4 (25%, 95% CI 5–70%) · oracle 4/4 (100%, 95% CI 51–100%)"));
        assert!(!page.contains("id=\"curriculum-1\""), "a round that kept nothing has no table");
        // Rejections per stage: stages in validation order, a total.
        let rej = &page[page.find("id=\"rejections\"").unwrap()..];
        let rej = &rej[..rej.find("</table>").unwrap()];
        assert!(rej.contains("<th>round</th><th>format</th><th>fail-to-pass</th><th>rejected</th>"), "{rej}");
        assert!(rej.contains("<td>1</td><td>2</td><td>3</td><td>5</td>"), "{rej}");
    }

    #[test]
    fn rewards_are_drawn_per_round_only_where_a_reference_existed() {
        let mut d = data();
        d.rounds[0].reference_set = None;
        d.rewards.iter_mut().skip(20).for_each(|p| p.round = Some(2));
        d.rewards[0].round = None;
        let page = render(&d);
        assert!(!page.contains("chart-rewards-1"));
        assert!(page.contains("Round 1: 19 rewarded tasks but no reference set; not drawn"), "{page}");
        assert!(page.contains("Reward of round 2&#39;s 10 scored tasks (reference set failures)"));
        assert!(page.contains("1 rewarded tasks were made outside a round"));
    }

    #[test]
    fn resolve_rates_carry_counts_and_intervals() {
        let page = render(&data());
        let chart = svgs(&page).into_iter().find(|s| s.contains("id=\"chart-resolve\"")).unwrap();
        // Two rounds × two solvers: a whisker, a dot and a k/n label each.
        assert_eq!(chart.matches("class=\"interval\"").count(), 4);
        assert_eq!(chart.matches(">1/4</text>").count(), 2);
        assert_eq!(chart.matches(">4/4</text>").count(), 2);
        assert!(page.contains("<td>baseline</td><td>1/4</td><td>25%</td><td>5–70%</td>"), "{page}");
        assert!(page.contains("<td>s-a</td><td>2</td><td>3/4</td><td>75%</td><td>30–95%</td>"));
    }

    #[test]
    fn histogram_bins() {
        let p = |r: f64, kept: bool| RewardPoint { task_id: String::new(), reward: r, kept, round: None };
        let (labels, kept, other) = histogram(&[p(0.0, true), p(0.5, false), p(1.0, false), p(1.0, true)]);
        assert_eq!(labels, ["0.0–0.3", "0.3–0.7", "0.7–1.0"]);
        assert_eq!((kept, other), (vec![1.0, 0.0, 1.0], vec![0.0, 1.0, 1.0]));
        let (labels, kept, _) = histogram(&[p(0.25, true)]);
        assert_eq!(kept.iter().sum::<f64>(), 1.0);
        assert_eq!(labels.len(), 3);
    }
}
