//! Progress of the engine's long work as events, so the engine never prints: the CLI renders
//! them as progress bars on stderr, the language server as `$/progress` reports, the daemon as
//! log lines.
//!
//! In: what the engine is doing (a round step began; counted work started, advanced, finished;
//! a message such as "building the environment image for X"). Out: [`ProgressEvent`]s handed to
//! a [`Progress`] sink, in the order they happen. A sink must not block: it is called from the
//! engine's own thread (store work) and from its async code.

use crate::model::RoundStep;
use std::sync::Arc;

/// One thing the engine reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// A step of round `round` began (distill, generate, validate, score, select).
    RoundStep { round: u32, step: RoundStep },
    /// A step of an evolve run began: round 0 is the choice of the held-out set, then per round
    /// of `rounds`: round, solve, held-out, train.
    EvolveStep { run: i64, round: u32, rounds: u32, step: String },
    /// Counted work began: `total` items (0 = not known in advance).
    Started { work: String, total: u64 },
    /// One more item of `work` is done (`done` of `total`), with an optional short note
    /// ("3 valid").
    Advanced { work: String, done: u64, total: u64, note: Option<String> },
    /// `work` ended (all items done, or cut short by an error).
    Finished { work: String },
    /// A line worth telling the user.
    Message(String),
}

impl ProgressEvent {
    /// Percentage done of counted work (`None` without a known total).
    pub fn percentage(&self) -> Option<u32> {
        match self {
            ProgressEvent::Advanced { done, total, .. } if *total > 0 => Some(((done.min(total) * 100) / total) as u32),
            ProgressEvent::Started { total, .. } if *total > 0 => Some(0),
            _ => None,
        }
    }

    /// The event as one line of text (for logs and status messages).
    pub fn describe(&self) -> String {
        match self {
            ProgressEvent::RoundStep { round, step } => format!("round {round}: {}", step.as_str()),
            ProgressEvent::EvolveStep { run, round: 0, step, .. } => format!("evolve run {run}: {step}"),
            ProgressEvent::EvolveStep { run, round, rounds, step } => {
                format!("evolve run {run} round {round}/{rounds}: {step}")
            }
            ProgressEvent::Started { work, total: 0 } => format!("{work} ..."),
            ProgressEvent::Started { work, total } => format!("{work}: 0/{total}"),
            ProgressEvent::Advanced { work, done, total, note } => {
                let counted = if *total > 0 { format!("{done}/{total}") } else { done.to_string() };
                match note {
                    Some(n) => format!("{work}: {counted} ({n})"),
                    None => format!("{work}: {counted}"),
                }
            }
            ProgressEvent::Finished { work } => format!("{work}: done"),
            ProgressEvent::Message(m) => m.clone(),
        }
    }
}

/// Where the engine's events go. Cheap to clone; [`Progress::none`] drops them.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(ProgressEvent) + Send + Sync>);

impl Progress {
    /// A sink calling `f` with every event.
    pub fn new(f: impl Fn(ProgressEvent) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(f))
    }

    /// A sink that drops every event.
    pub fn none() -> Progress {
        Progress::new(|_| {})
    }

    pub fn emit(&self, event: ProgressEvent) {
        (self.0)(event)
    }

    pub fn message(&self, text: impl Into<String>) {
        self.emit(ProgressEvent::Message(text.into()))
    }

    /// Counted work of `total` items begins; the returned counter advances and finishes it.
    pub fn start(&self, work: impl Into<String>, total: u64) -> Counter {
        let work = work.into();
        self.emit(ProgressEvent::Started { work: work.clone(), total });
        Counter { progress: self.clone(), work, total, done: 0 }
    }
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::none()
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Counted work under way: each [`Counter::advance`] is one item done; [`Counter::finish`]
/// (or dropping the counter) ends it.
pub struct Counter {
    progress: Progress,
    work: String,
    total: u64,
    done: u64,
}

impl Counter {
    /// One more item done, with an optional note.
    pub fn advance(&mut self, note: Option<String>) {
        self.done += 1;
        let event = ProgressEvent::Advanced { work: self.work.clone(), done: self.done, total: self.total, note };
        self.progress.emit(event);
    }

    pub fn finish(self) {}
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.progress.emit(ProgressEvent::Finished { work: self.work.clone() });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink that keeps every event, and the events it kept.
    pub(crate) fn recorder() -> (Progress, Arc<Mutex<Vec<ProgressEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        (Progress::new(move |e| kept.lock().unwrap().push(e)), seen)
    }

    #[test]
    fn a_counter_reports_start_each_item_and_the_end_in_order() {
        let (progress, seen) = recorder();
        {
            let mut counter = progress.start("validating", 2);
            counter.advance(None);
            counter.advance(Some("1 valid".into()));
        }
        let w = || "validating".to_string();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                ProgressEvent::Started { work: w(), total: 2 },
                ProgressEvent::Advanced { work: w(), done: 1, total: 2, note: None },
                ProgressEvent::Advanced { work: w(), done: 2, total: 2, note: Some("1 valid".into()) },
                ProgressEvent::Finished { work: w() },
            ]
        );
    }

    #[test]
    fn percentages_only_where_there_is_a_total() {
        let adv = |done, total| ProgressEvent::Advanced { work: "w".into(), done, total, note: None };
        assert_eq!(adv(1, 4).percentage(), Some(25));
        assert_eq!(adv(5, 4).percentage(), Some(100));
        assert_eq!(adv(3, 0).percentage(), None);
        assert_eq!(ProgressEvent::Message("m".into()).percentage(), None);
        assert_eq!(adv(1, 4).describe(), "w: 1/4");
    }
}
