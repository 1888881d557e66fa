//! Importer placeholder: recognises nothing yet (filled in by the importer work).

use super::{Ctx, Doc};
use crate::model::Record;

pub fn sniff(_doc: &Doc) -> bool {
    false
}

pub fn parse(_doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    Err(format!("{}: importer not written yet", ctx.origin))
}
