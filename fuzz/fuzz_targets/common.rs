//! What the fuzz targets share: bytes → one importer (never panics; errors name the file).

use socratic::traces::{decode, Ctx, IMPORTERS};
use std::path::PathBuf;

/// Decode `data` as a trace file and hand it to the importer called `name`, sniff or not, then
/// redact what it returned, as an import does.
#[allow(dead_code)]
pub fn import_as(name: &str, data: &[u8]) {
    let importer = IMPORTERS.iter().find(|i| i.name == name).expect("an importer by that name");
    let origin = "fuzz.json".to_string();
    let Ok(doc) = decode(&origin, data) else { return };
    let ctx = Ctx {
        origin: origin.clone(),
        path: PathBuf::from(&origin),
        instance_id_hint: None,
        warnings: Default::default(),
    };
    if let Ok(records) = (importer.parse)(&doc, &ctx) {
        for record in records {
            let _ = socratic::redact::redact_record(record);
        }
    }
}
