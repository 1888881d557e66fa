//! Importing trace, report and instance files into the store, one transaction per file, so one
//! bad file costs nothing else.
//!
//! In: paths (files and folders) or in-memory files, the store, a progress sink (an `importing`
//! count). Out: the records stored and an `ImportReport` (files, what was inserted, rejections
//! and warnings — what a file's importer skipped — with their file names, formats seen).

use super::progress::Progress;
use crate::store::{InsertSummary, Store};
use crate::traces;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What an import did, file by file.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub files: usize,
    pub imported: InsertSummary,
    pub rejected: Vec<String>,
    /// Files imported with something skipped (malformed lines, ...), one message per file.
    pub warnings: Vec<String>,
    pub formats: std::collections::BTreeMap<String, usize>,
}

/// Import files and folders: each file in its own transaction, so one bad file costs nothing else.
pub fn import_paths(store: &mut Store, paths: &[PathBuf], progress: &Progress) -> anyhow::Result<ImportReport> {
    let (files, walk_errors) = traces::collect_files(paths);
    let mut report =
        ImportReport { rejected: walk_errors.iter().map(ToString::to_string).collect(), ..Default::default() };
    let mut counter = progress.start("importing", files.len() as u64);
    for file in &files {
        counter.advance(None);
        report.files += 1;
        let parsed = traces::read_input(file).and_then(|bytes| traces::parse_file_with_warnings(file, &bytes));
        match parsed {
            Ok(parsed) => {
                *report.formats.entry(parsed.format.to_string()).or_default() += 1;
                add(&mut report.imported, &store.insert_records(&parsed.records)?);
                report.warnings.extend(parsed.warnings);
            }
            Err(e) => report.rejected.push(e.to_string()),
        }
    }
    counter.finish();
    Ok(report)
}

/// Import in-memory files (the embedded examples) the same way.
pub fn import_bytes(store: &mut Store, files: &[(&str, &[u8])]) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    for (name, bytes) in files {
        report.files += 1;
        match traces::parse_file_with_warnings(Path::new(name), bytes) {
            Ok(parsed) => {
                *report.formats.entry(parsed.format.to_string()).or_default() += 1;
                add(&mut report.imported, &store.insert_records(&parsed.records)?);
                report.warnings.extend(parsed.warnings);
            }
            Err(e) => report.rejected.push(e.to_string()),
        }
    }
    Ok(report)
}

fn add(total: &mut InsertSummary, s: &InsertSummary) {
    total.traces += s.traces;
    total.reports += s.reports;
    total.instances += s.instances;
    total.duplicates += s.duplicates;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::progress::{tests::recorder, ProgressEvent};

    #[test]
    fn a_folder_import_counts_every_file_in_order_and_a_second_one_only_duplicates() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces");
        let home = tempfile::tempdir().unwrap();
        let mut store = Store::open(home.path()).unwrap();
        let (progress, seen) = recorder();
        let first = import_paths(&mut store, std::slice::from_ref(&fixtures), &progress).unwrap();
        assert!(first.files > 3 && first.imported.traces > 0, "{first:?}");
        let total = first.files as u64;
        let work = || "importing".to_string();
        let mut expected = vec![ProgressEvent::Started { work: work(), total }];
        expected.extend((1..=total).map(|done| ProgressEvent::Advanced { work: work(), done, total, note: None }));
        expected.push(ProgressEvent::Finished { work: work() });
        assert_eq!(*seen.lock().unwrap(), expected);
        let again = import_paths(&mut store, &[fixtures], &Progress::none()).unwrap();
        assert_eq!((again.files, again.imported.traces), (first.files, 0));
        assert!(again.imported.duplicates > 0);
    }
}
