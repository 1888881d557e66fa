//! `socratic/recordEvent` (a custom notification): an editor-side event for the running attempt.
//!
//! In: the params, a [`protocol::EditorEvent`]. Out: the event added to the session's attempt;
//! bad params or no running attempt are logged and dropped (a notification has no answer).

use super::protocol::{self, EditorEvent};
use super::Session;

pub(super) async fn handle(session: &Session, params: serde_json::Value) {
    let event: EditorEvent = match serde_json::from_value(params) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("{}: bad params: {e}", protocol::RECORD_EVENT);
            return;
        }
    };
    let Some((id, _)) = session.state().attempt.clone() else {
        tracing::debug!("{} with no attempt running", protocol::RECORD_EVENT);
        return;
    };
    if let Some(Err(e)) = session.shared.with_attempt(&id, |a| a.record(event)) {
        tracing::warn!("{}: {e}", protocol::RECORD_EVENT);
    }
}
