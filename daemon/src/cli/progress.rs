//! The engine's progress events on the terminal: counted work as indicatif bars on stderr (only
//! on a terminal, and not under `--json`), messages as lines on stderr.
//!
//! In: [`ProgressEvent`]s. Out: bars and lines on stderr.

use crate::engine::progress::{Progress, ProgressEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A progress bar on a terminal, hidden otherwise (pipes, CI).
pub(crate) fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg:12} [{bar:30}] {pos}/{len} {elapsed_precise} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A sink rendering events on stderr; `bars` = false shows the messages only.
pub(crate) fn terminal(bars: bool) -> Progress {
    let open: Arc<Mutex<HashMap<String, indicatif::ProgressBar>>> = Arc::default();
    Progress::new(move |event| render(&open, bars, event))
}

fn render(open: &Mutex<HashMap<String, indicatif::ProgressBar>>, bars: bool, event: ProgressEvent) {
    let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
    let event = match event {
        e @ ProgressEvent::EvolveStep { .. } => ProgressEvent::Message(e.describe()),
        other => other,
    };
    match event {
        ProgressEvent::Message(text) => match open.values().next() {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ => eprintln!("{text}"),
        },
        ProgressEvent::Started { work, total } if bars => {
            let bar = progress_bar(total, &work);
            if total == 0 {
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            open.insert(work, bar);
        }
        ProgressEvent::Advanced { work, done, note, .. } => {
            if let Some(bar) = open.get(&work) {
                bar.set_position(done);
                if let Some(note) = note {
                    bar.set_message(note);
                }
            }
        }
        ProgressEvent::Finished { work } => {
            if let Some(bar) = open.remove(&work) {
                bar.finish_and_clear();
            }
        }
        ProgressEvent::Started { .. } | ProgressEvent::RoundStep { .. } | ProgressEvent::EvolveStep { .. } => {}
    }
}
