//! `socratic.round` as the editor asks for it: the round's options from the command's argument
//! object and `initializationOptions.round` (camelCase: budget, keep, seed, maxSkillShare,
//! model, reference, workers), each falling back to the CLI's defaults; the engine's progress
//! events as one `$/progress` work-done progress (an overall percentage over the five steps)
//! and as log lines (the daemon's log).
//!
//! In: the session (workspace root, initialization options, client), the command's arguments.
//! Out: the finished `Round` (run on the server's runtime, its store work on a blocking
//! thread), or an error naming the bad option or why the round did not finish.

use super::{invalid, Session};
use crate::engine::progress::{Progress, ProgressEvent};
use crate::engine::round::{run_round, RoundOptions, StatedInputs};
use crate::model::{Round, RoundStep};
use crate::validate::run::ValidateConfig;

use serde_json::Value;
use std::path::Path;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::NumberOrString;

/// The round options an editor may set (the protocol's `RoundArguments`); `None` = the next
/// fallback (initialization options, then the CLI's defaults).
pub use super::protocol::RoundArguments as RoundParams;

impl RoundParams {
    /// Parse an options object (`null` or absent = none set); `what` names it in errors.
    pub fn parse(value: Option<&Value>, what: &str) -> std::result::Result<RoundParams, String> {
        let params: RoundParams = match value {
            None | Some(Value::Null) => return Ok(RoundParams::default()),
            Some(v @ Value::Object(_)) => serde_json::from_value(v.clone()).map_err(|e| format!("{what}: {e}"))?,
            Some(other) => return Err(format!("{what}: expected an object of round options, got {other}")),
        };
        params.check().map_err(|e| format!("{what}: {e}"))?;
        Ok(params)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if let Some(share) = self.max_skill_share.filter(|s| !(*s > 0.0 && *s <= 1.0)) {
            return Err(format!("maxSkillShare must be in (0, 1], got {share}"));
        }
        if self.workers == Some(0) {
            return Err("workers must be at least 1".into());
        }
        Ok(())
    }

    /// These options, each unset one taken from `fallback`.
    pub fn or(self, fallback: RoundParams) -> RoundParams {
        RoundParams {
            budget: self.budget.or(fallback.budget),
            keep: self.keep.or(fallback.keep),
            seed: self.seed.or(fallback.seed),
            max_skill_share: self.max_skill_share.or(fallback.max_skill_share),
            model: self.model.or(fallback.model),
            reference: self.reference.or(fallback.reference),
            workers: self.workers.or(fallback.workers),
        }
    }

    /// Round options for the repository at `root`: the set ones, else the CLI's defaults.
    pub fn options(self, root: &Path) -> RoundOptions {
        let defaults = RoundOptions::new(root.to_path_buf());
        let reference = match self.reference {
            Some(r) if r != defaults.reference => root.join(r).display().to_string(),
            _ => defaults.reference.clone(),
        };
        let workers = self.workers.unwrap_or(defaults.validate.workers);
        RoundOptions {
            seed: self.seed.unwrap_or(defaults.seed),
            budget: self.budget.unwrap_or(defaults.budget),
            keep: self.keep.unwrap_or(defaults.keep),
            max_skill_share: self.max_skill_share.unwrap_or(defaults.max_skill_share),
            stated: StatedInputs {
                seed: self.seed.is_some(),
                budget: self.budget.is_some(),
                keep: self.keep.is_some(),
                max_skill_share: self.max_skill_share.is_some(),
            },
            model: self.model.map(|m| root.join(m)),
            reference,
            validate: ValidateConfig { workers, ..defaults.validate.clone() },
            ..defaults
        }
    }
}

/// The round options of a `socratic.round` call: its first argument (an options object, if
/// any) over the session's `initializationOptions.round` over the CLI's defaults.
pub fn round_options(root: &Path, init: Option<&Value>, args: &[Value]) -> std::result::Result<RoundOptions, String> {
    let asked = super::protocol::optional::<RoundParams>(super::protocol::ROUND, args)?.unwrap_or_default();
    asked.check().map_err(|e| format!("{}: {e}", super::protocol::ROUND))?;
    let configured = RoundParams::parse(init, "initializationOptions.round")?;
    Ok(asked.or(configured).options(root))
}

/// Where a round is in the editor's progress: the step (of five) and the share of its counted
/// work done, as one rising percentage.
#[derive(Debug, Default)]
pub struct RoundProgress {
    step: u32,
    percentage: u32,
}

impl RoundProgress {
    /// The message and overall percentage to show after `event`.
    pub fn update(&mut self, event: &ProgressEvent) -> (String, u32) {
        const STEPS: u32 = 5;
        match event {
            ProgressEvent::RoundStep { step, .. } => {
                self.step = step_index(*step);
                self.percentage = self.step * 100 / STEPS;
            }
            other => {
                if let Some(p) = other.percentage() {
                    self.percentage = (self.step * 100 + p) / STEPS;
                }
            }
        }
        (event.describe(), self.percentage)
    }
}

fn step_index(step: RoundStep) -> u32 {
    match step {
        RoundStep::Distill => 0,
        RoundStep::Generate => 1,
        RoundStep::Validate => 2,
        RoundStep::Score => 3,
        RoundStep::Select | RoundStep::Done | RoundStep::Abandoned => 4,
    }
}

pub(super) type Ongoing =
    tower_lsp_server::OngoingProgress<tower_lsp_server::Bounded, tower_lsp_server::NotCancellable>;

/// A work-done progress with a percentage, when the client supports it.
pub(super) async fn begin(session: &Session, title: &str) -> Option<Ongoing> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let token = NumberOrString::String(format!(
        "socratic-round-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    session.client.create_work_done_progress(token.clone()).await.ok()?;
    Some(session.client.progress(token, title).with_percentage(0).begin().await)
}

/// Run (or resume) a round on the workspace with the editor's options. The round future runs
/// on the server's runtime from a blocking thread (the store is synchronous); its events are
/// forwarded as `$/progress` reports and log lines while it runs.
pub(crate) async fn run(session: &Session, args: &[Value]) -> Result<Round> {
    let (root, init) = {
        let st = session.state();
        (st.root.clone(), st.round_options.clone())
    };
    let root = root.ok_or_else(|| invalid("no workspace root"))?;
    let mut opts = round_options(&root, init.as_ref(), args).map_err(invalid)?;
    let (events, received) = tokio::sync::mpsc::unbounded_channel();
    opts.progress = Progress::new(move |e| {
        let _ = events.send(e);
    });
    let home = session.shared.home.clone();
    let runtime = tokio::runtime::Handle::current();
    let mut round = tokio::task::spawn_blocking(move || {
        let mut store = crate::store::Store::open(&home)?;
        runtime.block_on(run_round(&mut store, &home, &opts))
    });
    forward_progress(
        session,
        "socratic: round",
        "the round",
        received,
        &mut round,
        RoundProgress::update,
        finished_line,
    )
    .await
}

/// The last progress message of a round: its real counts.
pub fn finished_line(round: &Round) -> String {
    let stopped = if round.step == RoundStep::Done {
        String::new()
    } else {
        format!(" (stopped before {})", round.step.as_str())
    };
    format!(
        "round {}: {} candidates, {} valid, {} kept{stopped}",
        round.number,
        round.candidates,
        round.valid,
        round.kept.len()
    )
}

/// Forward a long job's progress events as `$/progress` reports (titled `title`) and log lines
/// while it runs on a blocking thread, then reload the shared state and say the job's outcome:
/// its value, or an error naming `what` did not finish. `update` turns an event into the
/// report's message and percentage; `finished` gives the end's message (the job's real counts).
pub(super) async fn forward_progress<T, V: Default>(
    session: &Session,
    title: &str,
    what: &str,
    mut received: tokio::sync::mpsc::UnboundedReceiver<ProgressEvent>,
    job: &mut tokio::task::JoinHandle<anyhow::Result<T>>,
    update: fn(&mut V, &ProgressEvent) -> (String, u32),
    finished: fn(&T) -> String,
) -> Result<T> {
    let ongoing = begin(session, title).await;
    let mut shown = V::default();
    let mut report = |event: ProgressEvent| {
        tracing::info!("{}", event.describe());
        update(&mut shown, &event)
    };
    let outcome = loop {
        tokio::select! {
            biased;
            Some(event) = received.recv() => {
                let (message, percentage) = report(event);
                if let Some(p) = &ongoing {
                    p.report_with_message(message, percentage).await;
                }
            }
            outcome = &mut *job => break outcome,
        }
    };
    while let Ok(event) = received.try_recv() {
        let (message, percentage) = report(event);
        if let Some(p) = &ongoing {
            p.report_with_message(message, percentage).await;
        }
    }
    let _ = session.shared.reload();
    session.shared.notify(super::state::Change::Tasks);
    let failed = |e: String| invalid(format!("{what} did not finish: {e}"));
    let result = match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(failed(format!("{e:#}"))),
        Err(e) => Err(failed(e.to_string())),
    };
    if let Some(p) = ongoing {
        let message = match &result {
            Ok(value) => finished(value),
            Err(e) => format!("failed: {}", e.message),
        };
        p.finish_with_message(message).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unset_options_fall_back_to_the_initialization_options_then_the_cli_defaults() {
        let root = Path::new("/repo");
        let init = json!({"keep": 3, "seed": 9, "workers": 4});
        let opts = round_options(root, Some(&init), &[json!({"budget": 7, "seed": 1})]).unwrap();
        let defaults = RoundOptions::new(root.to_path_buf());
        assert_eq!((opts.budget, opts.keep, opts.seed, opts.validate.workers), (7, 3, 1, 4));
        assert_eq!(opts.max_skill_share, defaults.max_skill_share);
        assert_eq!(opts.reference, defaults.reference);
        assert_eq!(opts.model, None);
        let plain = round_options(root, None, &[]).unwrap();
        assert_eq!((plain.budget, plain.keep, plain.seed), (defaults.budget, defaults.keep, defaults.seed));
        assert_eq!(plain.validate.workers, defaults.validate.workers);
    }

    #[test]
    fn paths_are_relative_to_the_workspace_and_bad_options_are_named() {
        let root = Path::new("/repo");
        let args = [json!({"model": "models/m", "reference": "fixes.jsonl", "maxSkillShare": 1.0})];
        let opts = round_options(root, None, &args).unwrap();
        assert_eq!(opts.model.as_deref(), Some(Path::new("/repo/models/m")));
        assert_eq!(opts.reference, "/repo/fixes.jsonl");
        assert_eq!(opts.max_skill_share, 1.0);
        let typo = round_options(root, None, &[json!({"budgte": 3})]).unwrap_err();
        assert!(typo.contains("socratic.round: argument 1") && typo.contains("budgte"), "{typo}");
        let share = round_options(root, Some(&json!({"maxSkillShare": 0})), &[]).unwrap_err();
        assert!(share.starts_with("initializationOptions.round: maxSkillShare"), "{share}");
        assert!(round_options(root, None, &[json!("t-1")]).is_err());
        assert!(round_options(root, None, &[json!({"workers": 0})]).is_err());
    }

    #[test]
    fn the_end_message_has_the_rounds_real_counts() {
        let mut round = crate::model::test_support::round(2, &["t-a", "t-b"]);
        (round.candidates, round.valid, round.step) = (12, 5, RoundStep::Done);
        assert_eq!(finished_line(&round), "round 2: 12 candidates, 5 valid, 2 kept");
        round.step = RoundStep::Score;
        assert_eq!(finished_line(&round), "round 2: 12 candidates, 5 valid, 2 kept (stopped before score)");
    }

    #[test]
    fn the_percentage_rises_over_the_five_steps() {
        let mut shown = RoundProgress::default();
        let step = |step| ProgressEvent::RoundStep { round: 1, step };
        let adv = |done| ProgressEvent::Advanced { work: "validating".into(), done, total: 4, note: None };
        assert_eq!(shown.update(&step(RoundStep::Distill)).1, 0);
        assert_eq!(shown.update(&step(RoundStep::Validate)).1, 40);
        assert_eq!(shown.update(&adv(2)), ("validating: 2/4".to_string(), 50));
        assert_eq!(shown.update(&ProgressEvent::Message("note".into())).1, 50);
        assert_eq!(shown.update(&step(RoundStep::Select)).1, 80);
    }
}
