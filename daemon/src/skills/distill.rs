//! The distiller: classified traces in, versioned [`Skill`]s out.
//!
//! In: one [`Observation`] per stored trace (its repair patterns, whether it failed, why) and
//! the minimum number of traces a skill needs. Out: [`Group`]s (a repair pattern over all its
//! judged traces; a failure mode within a pattern, or across traces whose fix is unknown), and
//! from each group a [`Skill`] written by the rule-based [`Distiller`] (the LLM one in
//! `skills::llm` fills the same interface). Traces are deduplicated by instance, normalised
//! patch and outcome (the same run imported from two files counts once). [`merge`] keeps a
//! stored skill's name and bumps its version only when its content changed. Pure.

use super::failure::{self, Classified, FailureMode};
use super::pattern::{self, Pattern};
use crate::model::{Label, Skill, SkillKind, SkillStats, Trace};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Default minimum number of traces behind a skill.
pub const DEFAULT_MIN_TRACES: usize = 2;

/// What the distiller knows about one trace.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    pub trace_id: String,
    pub instance_id: Option<String>,
    /// Repair patterns of the gold patch (or of the trace's own patch when it resolved), the
    /// primary first.
    pub patterns: Vec<Pattern>,
    /// `None` when no outcome is known yet.
    pub failed: Option<bool>,
    pub failure: Option<Classified>,
    /// Equal for duplicates of one run.
    pub dedup_key: String,
}

/// Classify one trace: its patterns (gold patch first, else its own resolved patch) and its
/// failure.
pub fn observe(trace: &Trace, label: &Label, gold: Option<&str>) -> Observation {
    let failed = failure::is_failure(label);
    let patterns = match (gold, failed, trace.final_patch.as_deref()) {
        (Some(g), _, _) if !g.trim().is_empty() => pattern::classify_patch(g),
        (_, Some(false), Some(own)) => pattern::classify_patch(own),
        _ => Vec::new(),
    };
    let patch_key = trace.final_patch.as_deref().map(crate::diff::normalised).unwrap_or_default();
    let dedup_key = match &trace.task.instance_id {
        Some(id) => crate::model::sha256_hex(format!("{id}\0{patch_key}\0{failed:?}").as_bytes()),
        None => trace.id.clone(),
    };
    Observation {
        trace_id: trace.id.clone(),
        instance_id: trace.task.instance_id.clone(),
        patterns,
        failed,
        failure: failure::classify(trace, gold, label),
        dedup_key,
    }
}

/// Traces that share a repair pattern and, for failure-mode skills, a failure mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub kind: SkillKind,
    pub pattern: Option<Pattern>,
    pub mode: Option<FailureMode>,
    /// Evidence trace ids (after deduplication), failures first.
    pub evidence: Vec<String>,
    pub stats: SkillStats,
}

impl Group {
    /// The skill name: the pattern for repair patterns; `pattern-mode` or `avoid-mode` for
    /// failure modes.
    pub fn name(&self) -> String {
        let name = match (self.kind, self.pattern, self.mode) {
            (SkillKind::RepairPattern, Some(p), _) => p.name().to_string(),
            (_, Some(p), Some(m)) => format!("{}-{}", p.name(), m.name()),
            (_, None, Some(m)) => format!("avoid-{}", m.name()),
            _ => "unclassified".to_string(),
        };
        name.chars().take(64).collect::<String>().trim_end_matches('-').to_string()
    }
}

fn stats(traces: usize, failures: usize) -> SkillStats {
    let failure_rate = if traces == 0 { 0.0 } else { failures as f64 / traces as f64 };
    SkillStats { traces, failures, failure_rate }
}

/// Deduplicate, then group. Keeps repair-pattern groups with at least `min_traces` judged
/// traces and failure-mode groups with at least `min_traces` failures. Sorted by name.
pub fn group(observations: &[Observation], min_traces: usize) -> Vec<Group> {
    let mut seen = BTreeSet::new();
    let judged: Vec<&Observation> =
        observations.iter().filter(|o| o.failed.is_some()).filter(|o| seen.insert(o.dedup_key.clone())).collect();
    let min = min_traces.max(1);
    let mut out = Vec::new();
    // Repair patterns: every judged trace whose fix is of the pattern.
    let mut by_pattern: BTreeMap<Option<Pattern>, Vec<&Observation>> = BTreeMap::new();
    for o in &judged {
        by_pattern.entry(o.patterns.first().copied()).or_default().push(o);
    }
    for (p, obs) in &by_pattern {
        let failures = obs.iter().filter(|o| o.failed == Some(true)).count();
        if let Some(p) = p {
            if obs.len() >= min {
                out.push(Group {
                    kind: SkillKind::RepairPattern,
                    pattern: Some(*p),
                    mode: None,
                    evidence: evidence(obs),
                    stats: stats(obs.len(), failures),
                });
            }
        }
        // Failure modes within the pattern (or among traces whose fix is unknown).
        let mut by_mode: BTreeMap<FailureMode, Vec<&Observation>> = BTreeMap::new();
        for o in obs.iter().filter(|o| o.failed == Some(true)) {
            let mode = o.failure.as_ref().map_or(FailureMode::Unspecified, Classified::primary);
            by_mode.entry(mode).or_default().push(*o);
        }
        for (m, failed) in by_mode {
            if failed.len() >= min {
                out.push(Group {
                    kind: SkillKind::FailureMode,
                    pattern: *p,
                    mode: Some(m),
                    evidence: evidence(&failed),
                    stats: stats(obs.len(), failed.len()),
                });
            }
        }
    }
    out.sort_by_key(Group::name);
    out
}

fn evidence(obs: &[&Observation]) -> Vec<String> {
    let mut failed: Vec<String> = obs.iter().filter(|o| o.failed == Some(true)).map(|o| o.trace_id.clone()).collect();
    let mut ok: Vec<String> = obs.iter().filter(|o| o.failed != Some(true)).map(|o| o.trace_id.clone()).collect();
    failed.sort();
    ok.sort();
    failed.extend(ok);
    failed
}

/// Errors of a distiller.
#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    #[error("LLM request to {url} failed: {message}")]
    Http { url: String, message: String },
    #[error("LLM response rejected: {0}")]
    BadResponse(String),
    #[error("{0}")]
    Config(String),
}

/// Writes skills for groups. The rule-based one is [`RuleDistiller`]; `skills::llm` has the
/// LLM one.
pub trait Distiller {
    fn skills(&self, groups: &[Group]) -> Result<Vec<Skill>, DistillError>;
}

/// Skills from fixed per-pattern and per-mode text.
pub struct RuleDistiller;

impl Distiller for RuleDistiller {
    fn skills(&self, groups: &[Group]) -> Result<Vec<Skill>, DistillError> {
        Ok(groups.iter().map(rule_skill).collect())
    }
}

/// Pattern-specific steps.
fn pattern_steps(p: Pattern) -> &'static [&'static str] {
    match p {
        Pattern::AddedNoneGuard => &["find where the value can be None (optional arguments, lookups that may miss, empty results)", "add an `if value is None:` branch that returns or raises what the callers expect, before the first use"],
        Pattern::AddedExceptionHandling => &["find the operation that raises", "wrap it in `try` / `except` for the specific exception and handle it as the documented behaviour says (never a bare `pass` that hides the error)"],
        Pattern::ChangedExceptionType => &["read the traceback for the exception type actually raised", "catch that type (or a tuple of the types) in the `except` clause"],
        Pattern::RestoredLoopOrCondition => &["compare the function with its docstring and tests for a missing iteration or case", "restore the loop or the `if` branch around the statements it should guard"],
        Pattern::RestoredMissingStatement => &["trace the variable or state the failing test inspects back to where it should be set", "restore the missing assignment, call or return"],
        Pattern::ChangedComparison => &["check the boundary cases of the comparison (equal values, empty inputs)", "use the comparison operator the specification implies (`<` vs `<=`, `==` vs `!=`, `is` vs `is not`)"],
        Pattern::ChangedBooleanOperator => &["write out the truth table the condition must satisfy", "use `and` / `or` accordingly and keep every operand the condition needs"],
        Pattern::NegationChanged => &["check which branch each input should take", "add or remove the `not` so the condition matches"],
        Pattern::ChangedStringMethod => &["check the expected string in the failing assertion", "call the matching method (`lower` / `upper`, `lstrip` / `rstrip`, `startswith` / `endswith`, ...)"],
        Pattern::ChangedLoopControl => &["check whether the loop must stop or skip at that point", "use `break` or `continue` accordingly"],
        Pattern::ChangedBooleanLiteral => &["check the default or flag the tests expect", "flip the `True` / `False` literal"],
        Pattern::OffByOne => &["check the first and last element the range or slice must include", "adjust the bound or constant by one"],
        Pattern::ChangedArithmeticOperator => &["recompute the expected value by hand for a failing input", "correct the operator or the operand order"],
        Pattern::ChangedReturnValue => &["check what the callers and tests expect back", "return that value (not None or another local)"],
        Pattern::FixedCallArguments => &["read the callee's signature", "pass the missing or correct arguments"],
        Pattern::WrongAttributeOrName => &["check which attribute or variable holds the value", "use that name"],
        Pattern::ReorderedStatements => &["follow the data dependencies between the statements", "restore the order in which each value is set before it is used"],
        Pattern::RestoredBaseClass => &["check the behaviour the class should inherit", "restore the base class"],
        Pattern::SwappedBranches => &["check which branch each input takes", "swap the bodies of the if and else back"],
        Pattern::RestoredOperand => &["recompute the expected value by hand", "restore the missing term of the expression"],
    }
}

fn operations(p: Option<Pattern>, mode: Option<FailureMode>) -> Vec<String> {
    let mut ops = vec!["reproduce the failure with the failing test or a minimal script".to_string()];
    if let Some(m) = mode {
        ops.push(m.advice().to_string());
    }
    ops.push("locate the function that computes the wrong result (not its callers or the tests)".to_string());
    if let Some(p) = p {
        ops.extend(pattern_steps(p).iter().map(|s| s.to_string()));
    }
    ops.push("rerun the failing test and the module's other tests; submit only a non-empty patch".to_string());
    ops
}

/// The rule-based skill for a group (version 1; [`merge`] sets the real one).
pub fn rule_skill(g: &Group) -> Skill {
    let (description, applicability) = match (g.kind, g.pattern, g.mode) {
        (SkillKind::RepairPattern, Some(p), _) => (
            format!(
                "Repair pattern: {}. Use when a failing test or bug report points at code where the fix is to {}.",
                capitalise(p.summary()),
                p.summary()
            ),
            vec![
                format!("the fix is to {}", p.summary()),
                format!("the faulty code looks like the sites of the `{}` anchor query", p.anchor()),
                "a failing test exercises the function holding the site".to_string(),
            ],
        ),
        (_, Some(p), Some(m)) => (
            format!(
                "Avoid {} when fixing bugs whose repair is to {}. {}.",
                m.name().replace('-', " "),
                p.summary(),
                capitalise(m.advice())
            ),
            vec![
                format!("the fix is to {}", p.summary()),
                format!("past attempts at such fixes ended in {}", m.name()),
            ],
        ),
        (_, None, Some(m)) => (
            format!("Avoid {} in repair attempts. {}.", m.name().replace('-', " "), capitalise(m.advice())),
            vec![format!("any repair task; past attempts ended in {}", m.name())],
        ),
        _ => ("Unclassified repair attempts.".to_string(), Vec::new()),
    };
    let operators: Vec<String> =
        g.pattern.map(|p| p.operators().iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    let anchor = g.pattern.map(|p| p.anchor().to_string()).unwrap_or_default();
    Skill {
        name: g.name(),
        kind: g.kind,
        description: truncate(&description, 1024),
        applicability,
        operations: operations(g.pattern, g.mode),
        anchor,
        operators,
        evidence: g.evidence.clone(),
        stats: g.stats.clone(),
        version: 1,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// At most `max` characters.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// Content that defines a skill's version (not its stats or evidence).
fn content(s: &Skill) -> (&str, SkillKind, &str, &[String], &[String], &str, &[String]) {
    (&s.name, s.kind, &s.description, &s.applicability, &s.operations, &s.anchor, &s.operators)
}

/// Combine a freshly distilled skill with the stored one of the same name: same name, stats
/// and evidence from the new one, version bumped only when the content changed.
pub fn merge(existing: Option<&Skill>, new: Skill) -> Skill {
    match existing {
        None => Skill { version: 1, ..new },
        Some(old) => {
            let version = if content(old) == content(&new) { old.version } else { old.version.saturating_add(1) };
            Skill { version, ..new }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(
        id: &str,
        instance: &str,
        p: Option<Pattern>,
        failed: Option<bool>,
        mode: Option<FailureMode>,
    ) -> Observation {
        Observation {
            trace_id: id.into(),
            instance_id: Some(instance.into()),
            patterns: p.into_iter().collect(),
            failed,
            failure: mode.map(|m| Classified {
                findings: vec![failure::Finding { mode: m, events: vec![], detail: String::new() }],
            }),
            dedup_key: format!("{instance}-{id}"),
        }
    }

    fn check(observations: &[Observation], min: usize, expect: &[(&str, usize, usize)]) {
        let got: Vec<(String, usize, usize)> =
            group(observations, min).iter().map(|g| (g.name(), g.stats.traces, g.stats.failures)).collect();
        let expect: Vec<(String, usize, usize)> = expect.iter().map(|(n, t, f)| (n.to_string(), *t, *f)).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn groups_by_pattern_and_mode_with_minimum() {
        let cmp = Some(Pattern::ChangedComparison);
        let o = vec![
            obs("a", "i1", cmp, Some(true), Some(FailureMode::NoPatch)),
            obs("b", "i2", cmp, Some(true), Some(FailureMode::NoPatch)),
            obs("c", "i3", cmp, Some(false), None),
            obs("d", "i4", None, Some(true), Some(FailureMode::Loop)),
            obs("e", "i5", None, Some(true), Some(FailureMode::Loop)),
            obs("f", "i6", Some(Pattern::OffByOne), Some(true), Some(FailureMode::Regression)),
            obs("g", "i7", cmp, None, None),
        ];
        check(&o, 2, &[("avoid-loop", 2, 2), ("changed-comparison", 3, 2), ("changed-comparison-no-patch", 3, 2)]);
        check(
            &o,
            1,
            &[
                ("avoid-loop", 2, 2),
                ("changed-comparison", 3, 2),
                ("changed-comparison-no-patch", 3, 2),
                ("off-by-one", 1, 1),
                ("off-by-one-regression", 1, 1),
            ],
        );
    }

    #[test]
    fn duplicates_count_once() {
        let mut a = obs("a", "i1", Some(Pattern::OffByOne), Some(true), Some(FailureMode::NoPatch));
        let mut b = obs("b", "i1", Some(Pattern::OffByOne), Some(true), Some(FailureMode::NoPatch));
        a.dedup_key = "same".into();
        b.dedup_key = "same".into();
        check(&[a, b], 1, &[("off-by-one", 1, 1), ("off-by-one-no-patch", 1, 1)]);
    }

    #[test]
    fn merge_keeps_name_and_bumps_on_content_change() {
        let g = Group {
            kind: SkillKind::RepairPattern,
            pattern: Some(Pattern::OffByOne),
            mode: None,
            evidence: vec!["t1".into()],
            stats: stats(1, 1),
        };
        let first = merge(None, rule_skill(&g));
        assert_eq!(first.version, 1);
        let mut g2 = g.clone();
        g2.evidence.push("t2".into());
        g2.stats = stats(2, 1);
        let second = merge(Some(&first), rule_skill(&g2));
        assert_eq!((second.version, second.stats.traces, second.evidence.len()), (1, 2, 2));
        let mut changed = rule_skill(&g2);
        changed.operations.push("new step".into());
        assert_eq!(merge(Some(&second), changed).version, 2);
    }

    #[test]
    fn rule_skills_respect_limits() {
        for p in pattern::ALL {
            for m in [None, Some(FailureMode::FailToPassStillFailing)] {
                let kind = if m.is_some() { SkillKind::FailureMode } else { SkillKind::RepairPattern };
                let s = rule_skill(&Group { kind, pattern: Some(*p), mode: m, evidence: vec![], stats: stats(0, 0) });
                assert!(s.name.len() <= 64 && !s.name.ends_with('-'), "{}", s.name);
                assert!(!s.description.is_empty() && s.description.chars().count() <= 1024);
                assert!(!s.operators.is_empty() && !s.anchor.is_empty());
            }
        }
    }
}
