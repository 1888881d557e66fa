//! `socratic demo`: the embedded default. Imports the example traces compiled into the binary
//! into the home's store and prints their stats. (Later stages grow it into a whole round.)

use super::traces::{import_bytes, summary_line};
use super::EXIT_OK;
use crate::store::Store;
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the stats as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Path, args: DemoArgs) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    let report = import_bytes(&mut store, crate::examples::TRACE_FILES)?;
    let stats = store.trace_stats()?;
    if args.json {
        super::print_json(&serde_json::json!({ "import": report, "stats": stats }))?;
    } else {
        println!("{}", summary_line(&report));
        println!("store: {}", store.path().display());
        let outcomes: Vec<String> = stats.by_outcome.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("traces: {}  outcomes: {}", stats.traces, outcomes.join(" "));
    }
    Ok(EXIT_OK)
}
