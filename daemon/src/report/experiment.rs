//! The report's efficacy experiments section: per stored experiment, a chart of each arm's
//! held-out pass@1 with its 95% interval (inline SVG: a whisker from the low to the high end, a
//! dot at the mean, the warm-up as a dashed line), the table (pass@1, interval, pass@k, runs) and
//! pass@1 per skill, then the note saying which model and scale the figures come from.
//!
//! In: [`Summary`]s. Out: HTML (pure; every text escaped).

use super::svg::esc;
use crate::experiment::stats::Interval;
use crate::experiment::summary::Summary;
use std::fmt::Write as _;

const WIDTH: f64 = 760.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 30.0;
const ROW: f64 = 34.0;
const TOP: f64 = 40.0;

/// The section (nothing when no experiment is stored).
pub fn section(out: &mut String, experiments: &[Summary]) {
    if experiments.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"experiments\">Efficacy experiments</h2>");
    for s in experiments {
        let _ = write!(
            out,
            "<h3>{}</h3><p class=\"summary\">{}{}</p>",
            esc(&s.id),
            esc(&s.note),
            s.reward_note.as_deref().map(|n| format!(" · reward: {}", esc(n))).unwrap_or_default()
        );
        out.push_str(&chart(s));
        arm_table(out, s);
        skill_table(out, s);
    }
}

fn x(v: f64) -> f64 {
    LEFT + v.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

fn interval_text(i: &Interval) -> String {
    format!("{} [{}, {}]", pct(i.mean), pct(i.lo), pct(i.hi))
}

/// The arms' pass@1 with intervals, one row per arm.
pub fn chart(s: &Summary) -> String {
    let height = TOP + ROW * s.arms.len().max(1) as f64 + 40.0;
    let mut svg = format!(
        "<svg class=\"chart\" id=\"experiment-{id}\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>Held-out pass@1 by arm, 95% intervals ({id})</title>\
         <text class=\"chart-title\" x=\"{LEFT}\" y=\"20\">Held-out pass@1 by arm (95% bootstrap interval)</text>",
        id = esc(&s.id)
    );
    let bottom = height - 30.0;
    for tick in 0..=4 {
        let v = tick as f64 / 4.0;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{bottom:.1}\"/>\
             <text class=\"tick\" x=\"{0:.1}\" y=\"{1:.1}\" text-anchor=\"middle\">{2}</text>",
            x(v),
            bottom + 16.0,
            pct(v)
        );
    }
    if let Some(w) = s.warmup.as_ref().and_then(|w| w.pass1) {
        let _ = write!(
            svg,
            "<line class=\"warmup\" x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{bottom:.1}\" stroke=\"#888\" \
             stroke-dasharray=\"4 3\"><title>warm-up: {1}</title></line>\
             <text class=\"note\" x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">warm-up</text>",
            x(w.mean),
            esc(&interval_text(&w)),
            TOP - 4.0
        );
    }
    if s.arms.is_empty() {
        let _ =
            write!(svg, "<text class=\"empty\" x=\"{LEFT}\" y=\"{:.1}\">No arm has finished yet.</text>", TOP + 20.0);
    }
    for (row, a) in s.arms.iter().enumerate() {
        let y = TOP + ROW * row as f64 + ROW / 2.0;
        let colour = super::svg::PALETTE[row % super::svg::PALETTE.len()];
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 8.0,
            y + 4.0,
            esc(&a.arm)
        );
        if let Some(i) = a.pass1 {
            let tip = format!("{}: {} over {} seeds × {} tasks", a.arm, interval_text(&i), i.seeds, i.tasks);
            let _ = write!(
                svg,
                "<g class=\"interval\"><title>{tip}</title>\
                 <line x1=\"{lo:.1}\" y1=\"{y:.1}\" x2=\"{hi:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\
                 <line x1=\"{lo:.1}\" y1=\"{a:.1}\" x2=\"{lo:.1}\" y2=\"{b:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\
                 <line x1=\"{hi:.1}\" y1=\"{a:.1}\" x2=\"{hi:.1}\" y2=\"{b:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\
                 <circle class=\"point\" cx=\"{m:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{colour}\"/></g>",
                tip = esc(&tip),
                lo = x(i.lo),
                hi = x(i.hi),
                m = x(i.mean),
                a = y - 6.0,
                b = y + 6.0,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn cell(i: Option<&Interval>) -> (String, String) {
    i.map_or(("–".into(), "–".into()), |i| (pct(i.mean), format!("[{}, {}]", pct(i.lo), pct(i.hi))))
}

fn arm_table(out: &mut String, s: &Summary) {
    out.push_str("<table><thead><tr><th>arm</th><th>runs</th><th>examples</th><th>steps</th><th>pass@1</th><th>95% interval</th>");
    let _ = write!(out, "<th>pass@{}</th></tr></thead><tbody>", s.k);
    for a in s.untrained.iter().chain(&s.warmup).chain(&s.arms) {
        let (m, ci) = cell(a.pass1.as_ref());
        let (k, _) = cell(a.pass_k.as_ref());
        let list = |v: &[usize]| {
            let mut v = v.to_vec();
            v.dedup();
            v.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{m}</td><td>{ci}</td><td>{k}</td></tr>",
            esc(&a.arm),
            a.seeds.len(),
            list(&a.examples),
            list(&a.steps)
        );
    }
    out.push_str("</tbody></table>");
}

fn skill_table(out: &mut String, s: &Summary) {
    let mut skills: Vec<&String> = s.arms.iter().flat_map(|a| a.per_skill.keys()).collect();
    skills.sort();
    skills.dedup();
    if skills.is_empty() {
        return;
    }
    out.push_str("<table class=\"per-skill\"><thead><tr><th>skill (held-out tasks)</th>");
    for a in &s.arms {
        let _ = write!(out, "<th>{}</th>", esc(&a.arm));
    }
    out.push_str("</tr></thead><tbody>");
    for skill in skills {
        let n = s.arms.iter().find_map(|a| a.per_skill.get(skill)).map_or(0, |i| i.tasks);
        let _ = write!(out, "<tr><td>{} ({n})</td>", esc(skill));
        for a in &s.arms {
            let _ = write!(out, "<td>{}</td>", a.per_skill.get(skill).map_or("–".into(), interval_text));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::summary::ArmSummary;
    use std::collections::BTreeMap;

    fn arm(name: &str, mean: f64) -> ArmSummary {
        let i = Interval { mean, lo: mean - 0.1, hi: mean + 0.1, tasks: 10, seeds: 3 };
        ArmSummary {
            arm: name.into(),
            seeds: vec![0, 1, 2],
            examples: vec![32; 3],
            steps: vec![16; 3],
            pass1: Some(i),
            pass_k: Some(i),
            per_skill: BTreeMap::from([("<swap>".to_string(), i)]),
            heldout_tasks: 10,
        }
    }

    #[test]
    fn the_chart_has_a_whisker_and_dot_per_arm_and_escapes_names() {
        let s = Summary {
            id: "e-1".into(),
            model: "m".into(),
            random_weights: true,
            repos: vec![],
            pool: 40,
            heldout: vec![],
            split_seed: 0,
            seeds: vec![0, 1, 2],
            budget: 32,
            steps: 16,
            k: 4,
            untrained: Some(arm("untrained", 0.05)),
            warmup: Some(arm("warm-up", 0.2)),
            arms: vec![arm("targeted", 0.4), arm("untargeted", 0.3)],
            operator_weights: BTreeMap::new(),
            reward_note: Some("random".into()),
            localisation: None,
            note: "model m (random weights: for tests only)".into(),
        };
        let mut html = String::new();
        section(&mut html, &[s]);
        assert_eq!(html.matches("<circle class=\"point\"").count(), 2);
        assert_eq!(html.matches("<g class=\"interval\">").count(), 2);
        assert!(html.contains("stroke-dasharray") && html.contains("warm-up"));
        assert!(html.contains("&lt;swap&gt; (10)") && !html.contains("<swap>"));
        assert!(html.contains("40.0% [30.0%, 50.0%]"), "{html}");
        assert!(html.contains("random weights: for tests only"));
        let mut none = String::new();
        section(&mut none, &[]);
        assert!(none.is_empty());
    }
}
