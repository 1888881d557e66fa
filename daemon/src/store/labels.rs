//! Which stored evaluation report labels which trace.
//!
//! In: a trace and the reports stored for its instance id, best first (per-instance reports
//! above aggregate run reports, the later import first among equals). Out: the trace's effective
//! label and the evidence for it — the report that gave it and why that report applies, and the
//! reports that were passed over and why.
//!
//! An instance id alone does not tie a report to a trace: the same instance is attempted by many
//! runs. A report applies when
//! - its evaluated patch equals the trace's patch (when the report carries the patch), or
//! - it names its run or model and that is the trace's model, or a folder of the trace's path
//!   is named after the run, or
//! - it is a per-instance report (the harness writes one per evaluated patch, in the run's own
//!   `logs/` folder) and its run name, if any, cannot be compared with what the trace names
//!   (run names are often opaque: SWE-agent writes its run name as `model_name_or_path`).
//!
//! An aggregate run report that cannot be tied to a trace this way labels nothing. A trace
//! without a patch is never `resolved`, whatever a report says.

use crate::model::{EvalReport, Label, Outcome, SourceFormat, Trace};
use serde::{Deserialize, Serialize};

/// One report considered for a trace's label, and the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportVerdict {
    /// The report's source format (`swe-bench-report`, `swe-bench-run-report`, ...).
    pub source: String,
    /// The file the report was imported from.
    pub origin: String,
    /// The run or model the report names, if any.
    pub run: Option<String>,
    /// The outcome the report gives its instance.
    pub outcome: String,
    /// Why the report applies to the trace, or why it does not.
    pub why: String,
}

/// Why a trace has the effective label it has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelEvidence {
    /// The report that gave the label; `None` when the importer's own label stands.
    pub applied: Option<ReportVerdict>,
    /// Reports of the same instance that were not used, with the reason.
    pub ignored: Vec<ReportVerdict>,
}

/// The effective label of `trace` given the reports of its instance (best first), with the
/// evidence. The first report that applies gives the label; otherwise the trace keeps its own.
pub fn effective_label(trace: &Trace, reports: &[EvalReport]) -> (Label, LabelEvidence) {
    let mut evidence = LabelEvidence::default();
    let mut label = trace.label.clone();
    for report in reports {
        let verdict = |why: String| ReportVerdict {
            source: report.source.as_str().to_string(),
            origin: report.origin.clone(),
            run: report.run.clone(),
            outcome: report.outcome.as_str().to_string(),
            why,
        };
        match applies(trace, report) {
            Ok(why) if evidence.applied.is_none() => {
                label = report.label();
                label.reason = format!("{} ({why})", label.reason);
                evidence.applied = Some(verdict(why));
            }
            Ok(why) => evidence.ignored.push(verdict(format!("a better report applies; this one would: {why}"))),
            Err(why) => evidence.ignored.push(verdict(why)),
        }
    }
    (label, evidence)
}

/// `Ok(why)` when `report` speaks about this very attempt, `Err(why not)` otherwise.
pub fn applies(trace: &Trace, report: &EvalReport) -> Result<String, String> {
    if report.outcome == Outcome::Resolved && !trace.has_patch() {
        return Err("the trace has an empty patch, and an empty patch is never resolved".into());
    }
    if let (Some(evaluated), Some(patch)) = (report.patch.as_deref(), trace.final_patch.as_deref()) {
        return if same_patch(evaluated, patch) {
            Ok("its evaluated patch is the trace's patch".into())
        } else {
            Err("its evaluated patch differs from the trace's patch".into())
        };
    }
    let aggregate = report.source == SourceFormat::SweBenchRunReport;
    let model = trace.model.as_deref();
    let Some(run) = report.run.as_deref() else {
        return if aggregate {
            Err("aggregate report of an unknown run; nothing ties it to the trace".into())
        } else {
            Ok("per-instance report naming no run; nothing ties it to another run".into())
        };
    };
    if run_in_path(run, &trace.origin) {
        return Ok(format!("the trace lies in the folder of run `{run}`"));
    }
    if let Some(model) = model.filter(|m| run_names_model(run, m)) {
        return Ok(format!("run `{run}` is of the trace's model `{model}`"));
    }
    match (aggregate, model) {
        (true, Some(model)) => {
            Err(format!("aggregate report of run `{run}`, which is not of the trace's model `{model}`"))
        }
        (true, None) => Err(format!("aggregate report of run `{run}`; the trace names no model or run to tie it to")),
        // A run name is often opaque (SWE-agent writes its run name as `model_name_or_path`), so
        // a per-instance report, written for one evaluated patch, is not refused for it.
        (false, Some(model)) => Ok(format!(
            "per-instance report of run `{run}`; the trace names no run to compare (its model is `{model}`)"
        )),
        (false, None) => Ok(format!("per-instance report of run `{run}`; the trace names no run to compare")),
    }
}

/// Patches compare equal when they differ only in trailing whitespace per line and at the end.
fn same_patch(a: &str, b: &str) -> bool {
    let lines = |p: &str| p.trim_end().lines().map(str::trim_end).map(str::to_string).collect::<Vec<_>>();
    lines(a) == lines(b)
}

/// The SWE-bench harness names a run report `<model>.<run_id>.json`, writing the model's `/` as
/// `__`; `run_id` or `model_name_or_path` may also be the model itself. The model may be written
/// with or without its provider (`anthropic/claude-...` or `claude-...`).
pub fn run_names_model(run: &str, model: &str) -> bool {
    let run = run.to_lowercase();
    let model = model.to_lowercase();
    let full = model.replace('/', "__");
    let bare = model.rsplit('/').next().unwrap_or(&model).to_string();
    let starts = |name: &str| run == name || run.starts_with(&format!("{name}."));
    starts(&full) || starts(&bare) || run.contains(&format!("__{bare}.")) || run.ends_with(&format!("__{bare}"))
}

/// True when a folder of the trace's path is named exactly after the run.
fn run_in_path(run: &str, origin: &str) -> bool {
    let path = std::path::Path::new(origin);
    path.parent().is_some_and(|p| p.components().any(|c| c.as_os_str().to_str() == Some(run)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureReason, TaskRef};

    fn trace(model: Option<&str>, patch: Option<&str>, origin: &str) -> Trace {
        Trace {
            id: "tr-1".into(),
            source: crate::model::SourceFormat::MiniSweAgent,
            format_version: None,
            task: TaskRef { instance_id: Some("acme__widgets-12".into()), ..Default::default() },
            model: model.map(str::to_string),
            events: vec![],
            final_patch: patch.map(str::to_string),
            label: Label::inferred(Outcome::NoPatch, Some(FailureReason::EmptyPatch), "empty submission"),
            cost_usd: None,
            started_at: None,
            ended_at: None,
            origin: origin.into(),
            messages: Vec::new(),
        }
    }

    fn report(source: SourceFormat, run: Option<&str>, outcome: Outcome) -> EvalReport {
        let mut r = crate::model::test_support::report("acme__widgets-12", source, outcome, "r.json");
        r.run = run.map(str::to_string);
        r
    }

    const PATCH: &str = "diff --git a/w.py b/w.py\n--- a/w.py\n+++ b/w.py\n@@ -1 +1 @@\n-a\n+b\n";

    #[test]
    fn an_empty_patch_is_never_resolved() {
        let t = trace(Some("gpt-4o"), Some(""), "t.traj.json");
        let r = report(SourceFormat::SweBenchReport, Some("gpt-4o"), Outcome::Resolved);
        assert!(applies(&t, &r).unwrap_err().contains("empty patch"));
        let (label, evidence) = effective_label(&t, &[r]);
        assert_eq!(label.outcome, Outcome::NoPatch);
        assert!(label.inferred && evidence.applied.is_none() && evidence.ignored.len() == 1);
    }

    #[test]
    fn run_reports_apply_only_to_their_run() {
        let t = trace(Some("anthropic/claude-sonnet-4-20250514"), Some(PATCH), "runs/a/t.traj.json");
        let other = report(SourceFormat::SweBenchRunReport, Some("openai__gpt-4o.run_0110"), Outcome::Resolved);
        assert!(applies(&t, &other).unwrap_err().contains("not of the trace's model"));
        let unknown = report(SourceFormat::SweBenchRunReport, None, Outcome::Resolved);
        assert!(applies(&t, &unknown).is_err());
        let same = report(
            SourceFormat::SweBenchRunReport,
            Some("anthropic__claude-sonnet-4-20250514.run_0110"),
            Outcome::Unresolved,
        );
        assert!(applies(&t, &same).unwrap().contains("trace's model"));
        let by_folder = report(SourceFormat::SweBenchRunReport, Some("a"), Outcome::Unresolved);
        assert!(applies(&t, &by_folder).unwrap().contains("folder of run `a`"));
        let nameless = trace(None, Some(PATCH), "t.traj.json");
        assert!(applies(&nameless, &same).is_err());
    }

    #[test]
    fn evaluated_patch_decides_when_present() {
        let t = trace(Some("gpt-4o"), Some(PATCH), "t.traj.json");
        let mut r = report(SourceFormat::SweBenchReport, Some("someone-else"), Outcome::Resolved);
        r.patch = Some(format!("{PATCH}\n"));
        assert!(applies(&t, &r).unwrap().contains("evaluated patch"));
        r.patch = Some(PATCH.replace("+b", "+c"));
        assert!(applies(&t, &r).unwrap_err().contains("differs"));
    }

    #[test]
    fn per_instance_report_without_a_run_applies() {
        let t = trace(Some("gpt-4o"), Some(PATCH), "t.traj.json");
        let r = report(SourceFormat::SweBenchReport, None, Outcome::Unresolved);
        let (label, evidence) = effective_label(&t, &[r]);
        assert_eq!(label.outcome, Outcome::Unresolved);
        assert!(!label.inferred);
        assert!(evidence.applied.unwrap().why.contains("per-instance"));
    }

    #[test]
    fn per_instance_report_of_an_opaque_run_applies() {
        let t = trace(Some("claude-3-7-sonnet-20250219"), Some(PATCH), "t.traj");
        let r = report(SourceFormat::SweBenchReport, Some("swesmith_gen__claude-3.7__exp9"), Outcome::Resolved);
        assert!(applies(&t, &r).unwrap().contains("its model is `claude-3-7-sonnet-20250219`"));
    }

    #[test]
    fn model_names_in_run_names() {
        assert!(run_names_model("openai__gpt-4.1.run_1", "openai/gpt-4.1"));
        assert!(run_names_model("gpt-4.1", "openai/gpt-4.1"));
        assert!(run_names_model("anthropic__claude-haiku-4-5.subset", "claude-haiku-4-5"));
        assert!(!run_names_model("openai__gpt-4o-mini.run", "openai/gpt-4o"));
        assert!(!run_names_model("swe-bench_lite__test__myrun", "gpt-4o"));
    }
}
