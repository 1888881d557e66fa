//! `socratic/recordEvent` (a custom notification): an editor-side event for the running attempt.

use super::attempt::EditorEvent;
use super::Session;

pub(super) async fn handle(session: &Session, params: serde_json::Value) {
    let event: EditorEvent = match serde_json::from_value(params) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("socratic/recordEvent: bad params: {e}");
            return;
        }
    };
    let mut st = session.state();
    match st.attempt.as_mut() {
        Some(attempt) => {
            if let Err(e) = attempt.record(event) {
                tracing::warn!("socratic/recordEvent: {e}");
            }
        }
        None => tracing::debug!("socratic/recordEvent with no attempt running"),
    }
}
