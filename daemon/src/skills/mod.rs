//! Skills: stored traces in, distilled, versioned Agent Skills out.
//!
//! In: stored traces with their effective labels and the stored benchmark instances (gold
//! patches). Out: per-trace observations (failure classification with event evidence, repair
//! patterns of the fix read from tree-sitter trees of the diff hunks), groups, [`Skill`]s merged
//! with the stored ones (same name, version bumped on content change), Agent Skills folders,
//! and per-operator weights for targeted task generation. Submodules:
//!
//! - [`touched`]: the files and functions a patch touches (patches themselves are [`crate::diff`]'s).
//! - [`failure`]: why an attempt failed, with evidence.
//! - [`pattern`]: what kind of repair a patch is, and the operators that exercise it.
//! - [`distill`]: grouping, the rule-based distiller, versioning.
//! - [`llm`]: the optional LLM distiller (OpenAI-compatible endpoint).
//! - [`agent_skill`]: `SKILL.md` export and its validator.
//! - [`target`]: skill and operator weights for `tasks generate --skills`.
//!
//! Everything here is pure except [`agent_skill::export`] / [`agent_skill::validate`] (files)
//! and the LLM request; the store and the command line are the callers' business.

pub mod agent_skill;
pub mod distill;
pub mod failure;
pub mod llm;
pub mod pattern;
pub mod target;
pub mod touched;

use crate::model::{Instance, Skill};
use crate::store::StoredTrace;
use agent_skill::Example;
use distill::{Distiller, Group, Observation};
use std::collections::BTreeMap;

/// The fix of an instance: its gold patch, else the reverse of its bug patch.
pub fn gold_patch(instance: &Instance) -> Option<String> {
    instance.gold_patch.clone().filter(|g| !g.trim().is_empty()).or_else(|| {
        instance
            .bug_patch
            .as_deref()
            .filter(|b| !b.trim().is_empty())
            .map(|b| crate::diff::reverse(b).unwrap_or_default())
    })
}

/// One observation per stored trace, with the gold patch of its instance when stored.
pub fn observe_all(traces: &[StoredTrace], instances: &[Instance]) -> Vec<Observation> {
    let gold: BTreeMap<&str, String> =
        instances.iter().filter_map(|i| gold_patch(i).map(|g| (i.instance_id.as_str(), g))).collect();
    traces
        .iter()
        .map(|st| {
            let g = st.trace.task.instance_id.as_deref().and_then(|id| gold.get(id)).map(String::as_str);
            distill::observe(&st.trace, &st.effective_label, g)
        })
        .collect()
}

/// What a distillation produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Distilled {
    pub observations: usize,
    pub groups: Vec<Group>,
    /// Merged with the stored skills: the ones to store.
    pub skills: Vec<Skill>,
    /// Names that are new or whose content, stats or evidence changed.
    pub changed: Vec<String>,
}

/// Classify, group, write skills with `distiller`, and merge with the `existing` ones.
pub fn distill_with(
    distiller: &dyn Distiller,
    traces: &[StoredTrace],
    instances: &[Instance],
    existing: &[Skill],
    min_traces: usize,
) -> Result<Distilled, distill::DistillError> {
    let observations = observe_all(traces, instances);
    let groups = distill::group(&observations, min_traces);
    let fresh = distiller.skills(&groups)?;
    let by_name: BTreeMap<&str, &Skill> = existing.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut skills = Vec::new();
    let mut changed = Vec::new();
    for s in fresh {
        let old = by_name.get(s.name.as_str()).copied();
        let merged = distill::merge(old, s);
        if old.is_none_or(|o| o.version != merged.version || o != &merged) {
            changed.push(merged.name.clone());
        }
        skills.push(merged);
    }
    skills.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Distilled { observations: observations.len(), groups, skills, changed })
}

/// The changed lines of a patch (sign included), at most `max` of them; none when the patch
/// does not parse.
pub fn excerpt(patch: &str, max: usize) -> String {
    let Ok(patch) = crate::diff::Patch::parse(patch) else { return String::new() };
    let lines: Vec<String> =
        patch.hunks().flat_map(|h| h.changes()).map(|l| format!("{}{}", l.sign(), l.text)).collect();
    let mut out: Vec<String> = lines.iter().take(max).cloned().collect();
    if lines.len() > max {
        out.push(format!("# ... {} more changed lines", lines.len() - max));
    }
    out.join("\n")
}

/// Up to `max` examples for a skill from its evidence: the fix (gold patch) when known, else
/// the trace's own patch.
pub fn examples(skill: &Skill, traces: &[StoredTrace], instances: &[Instance], max: usize) -> Vec<Example> {
    let by_id: BTreeMap<&str, &StoredTrace> = traces.iter().map(|t| (t.trace.id.as_str(), t)).collect();
    let gold: BTreeMap<&str, String> =
        instances.iter().filter_map(|i| gold_patch(i).map(|g| (i.instance_id.as_str(), g))).collect();
    skill
        .evidence
        .iter()
        .filter_map(|id| by_id.get(id.as_str()))
        .take(max)
        .map(|st| {
            let fix = st
                .trace
                .task
                .instance_id
                .as_deref()
                .and_then(|i| gold.get(i))
                .cloned()
                .or_else(|| st.trace.final_patch.clone())
                .unwrap_or_default();
            Example {
                trace_id: st.trace.id.clone(),
                instance_id: st.trace.task.instance_id.clone(),
                outcome: st.effective_label.outcome.as_str().to_string(),
                excerpt: excerpt(&fix, 8),
            }
        })
        .collect()
}
