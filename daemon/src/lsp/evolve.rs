//! `socratic.evolve`: an evolve run (`engine::evolve`) on the workspace with the editor's
//! options (the protocol's `EvolveArguments`, camelCase; each left out takes the CLI's
//! default), its steps as one `$/progress` work-done progress (an overall percentage over the
//! held-out choice and the four steps of every round) and as log lines.
//!
//! In: the session (workspace root, client), the command's arguments. Out: the run's summary
//! (run on the server's runtime, its store work on a blocking thread), or an error naming the
//! bad option or why the run did not finish.

use super::protocol::EvolveArguments;
use super::{invalid, Session};
use crate::engine::evolve::{check_settings, evolve, EvolveOptions, EvolveSummary, ROUND_STEPS};
use crate::engine::progress::{Progress, ProgressEvent};
use crate::engine::round::{DEFAULT_BUDGET, DEFAULT_KEEP, DEFAULT_MAX_SKILL_SHARE, DEFAULT_SEED};
use crate::store::EvolveSettings;
use crate::validate::run::ValidateConfig;
use serde_json::Value;
use std::path::Path;
use tower_lsp_server::jsonrpc::Result;

/// The evolve options of a `socratic.evolve` call on the workspace at `root`.
pub fn evolve_options(root: &Path, args: &[Value]) -> std::result::Result<EvolveOptions, String> {
    use super::protocol::EVOLVE;
    let a = super::protocol::optional::<EvolveArguments>(EVOLVE, args)?.unwrap_or_default();
    let settings = EvolveSettings {
        rounds: a.rounds.unwrap_or(3),
        solver: a.solver.unwrap_or_else(|| "lm".into()),
        model: a.model.map(|m| root.join(m).display().to_string()),
        answer: a.answer.unwrap_or_else(|| "line".into()),
        train: "sft".into(),
        held_out: a.held_out.unwrap_or(5),
        seed: a.seed.unwrap_or(DEFAULT_SEED),
        budget: a.budget.unwrap_or(DEFAULT_BUDGET),
        keep: a.keep.unwrap_or(DEFAULT_KEEP),
        max_skill_share: DEFAULT_MAX_SKILL_SHARE,
        epochs: a.epochs.unwrap_or(3),
        device: "cpu".into(),
    };
    check_settings(&settings).map_err(|e| format!("{EVOLVE}: {e}"))?;
    if a.workers == Some(0) {
        return Err(format!("{EVOLVE}: workers must be at least 1"));
    }
    let defaults = ValidateConfig::default();
    Ok(EvolveOptions {
        repo: root.to_path_buf(),
        settings,
        device: crate::score::DeviceKind::Cpu,
        validate: ValidateConfig { workers: a.workers.unwrap_or(defaults.workers), ..defaults },
        image: Default::default(),
        progress: Progress::none(),
        new_run: false,
    })
}

/// Where a run is in the editor's progress: its step of `1 + 4 × rounds` and the share of that
/// step's counted work done, as one rising percentage.
#[derive(Debug, Default)]
pub struct EvolveProgress {
    step: u32,
    steps: u32,
    percentage: u32,
}

impl EvolveProgress {
    /// The message and overall percentage to show after `event`.
    pub fn update(&mut self, event: &ProgressEvent) -> (String, u32) {
        match event {
            ProgressEvent::EvolveStep { round, rounds, step, .. } => {
                self.steps = 1 + 4 * rounds;
                let within = ROUND_STEPS.iter().position(|s| s == step).unwrap_or(0) as u32;
                self.step = if *round == 0 { 0 } else { 1 + 4 * (round - 1) + within };
                self.percentage = self.step * 100 / self.steps;
            }
            other => {
                if let (Some(p), true) = (other.percentage(), self.steps > 0) {
                    self.percentage = self.percentage.max((self.step * 100 + p) / self.steps);
                }
            }
        }
        (event.describe(), self.percentage)
    }
}

/// Run (or resume) the workspace's evolve run; progress as `$/progress` and log lines.
pub(crate) async fn run(session: &Session, args: &[Value]) -> Result<EvolveSummary> {
    let root = session.state().root.clone().ok_or_else(|| invalid("no workspace root"))?;
    let mut opts = evolve_options(&root, args).map_err(invalid)?;
    let (events, received) = tokio::sync::mpsc::unbounded_channel();
    opts.progress = Progress::new(move |e| {
        let _ = events.send(e);
    });
    let home = session.shared.home.clone();
    let runtime = tokio::runtime::Handle::current();
    let mut run = tokio::task::spawn_blocking(move || {
        let mut store = crate::store::Store::open(&home)?;
        runtime.block_on(evolve(&mut store, &home, &opts))
    });
    super::round::forward_progress(
        session,
        "socratic: evolve",
        "the evolve run",
        received,
        &mut run,
        EvolveProgress::update,
        finished_line,
    )
    .await
}

/// The last progress message of an evolve run: its rounds and latest held-out resolve rate.
pub fn finished_line(summary: &EvolveSummary) -> String {
    let shown = super::protocol::EvolveSummary::of(summary);
    let rate = shown.held_out_rate.map_or("-".to_string(), |r| format!("{:.0}%", r * 100.0));
    format!("evolve run {}: {} rounds, held-out resolve rate {rate}", shown.run, shown.rounds.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_default_like_the_cli_and_bad_ones_are_named() {
        let root = Path::new("/repo");
        let opts = evolve_options(root, &[json!({"rounds": 2, "model": "m", "heldOut": 4})]).unwrap();
        assert_eq!((opts.settings.rounds, opts.settings.held_out), (2, 4));
        assert_eq!(opts.settings.model.as_deref(), Some("/repo/m"));
        assert_eq!((opts.settings.solver.as_str(), opts.settings.answer.as_str()), ("lm", "line"));
        assert_eq!(evolve_options(root, &[]).unwrap().settings.rounds, 3);
        let typo = evolve_options(root, &[json!({"rouns": 2})]).unwrap_err();
        assert!(typo.contains("socratic.evolve") && typo.contains("rouns"), "{typo}");
        let zero = evolve_options(root, &[json!({"rounds": 0})]).unwrap_err();
        assert!(zero.contains("--rounds"), "{zero}");
    }

    #[test]
    fn the_percentage_rises_over_every_step_of_every_round() {
        let mut shown = EvolveProgress::default();
        let step = |round, step: &str| ProgressEvent::EvolveStep { run: 1, round, rounds: 2, step: step.into() };
        assert_eq!(shown.update(&step(0, "held-out-set")).1, 0);
        assert_eq!(shown.update(&step(1, "round")).1, 11);
        let (message, p) = shown.update(&step(1, "train"));
        assert_eq!((message.as_str(), p), ("evolve run 1 round 1/2: train", 44));
        let adv = ProgressEvent::Advanced { work: "training".into(), done: 1, total: 2, note: None };
        assert_eq!(shown.update(&adv).1, 50);
        assert_eq!(shown.update(&step(2, "train")).1, 88);
    }
}
