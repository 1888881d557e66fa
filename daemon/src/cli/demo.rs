//! `socratic demo`: the embedded default, with nothing configured. Imports the example traces
//! compiled into the binary, distills skills from them, writes the example repository (tallyho)
//! into the home and generates skill-targeted repair tasks there, then — when a Docker engine
//! answers — builds its environment image and validates the tasks. Prints a summary.

use super::env::{runtime, ImageArgs};
use super::traces::{import_bytes, summary_line};
use super::validate::{validate_candidates, ValidateArgs};
use super::EXIT_OK;
use crate::model::TaskStatus;
use crate::store::Store;
use crate::tasks::{generate, GenerateConfig};
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Candidates to generate on the example repository.
    #[arg(long, default_value_t = 40)]
    pub budget: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop after generating tasks (no Docker needed).
    #[arg(long)]
    pub no_validate: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Path, args: DemoArgs) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    let import = import_bytes(&mut store, crate::examples::TRACE_FILES)?;
    let stats = store.trace_stats()?;

    let (traces, instances, existing) = (store.traces()?, store.instances()?, store.skills()?);
    let distilled = crate::skills::distill_with(&crate::skills::distill::RuleDistiller, &traces, &instances, &existing, 1)
        .map_err(|e| anyhow::anyhow!("distilling skills: {e}"))?;
    store.upsert_skills(&distilled.skills)?;

    let repo = home.join("example").join("tallyho");
    crate::examples::write_example_repo(&repo).map_err(|e| anyhow::anyhow!("writing the example repository: {e}"))?;
    let weights = crate::skills::target::operator_weights(&store.skills()?, &store.tasks()?);
    let config = GenerateConfig {
        budget: args.budget,
        seed: args.seed,
        operator_weights: (!weights.is_empty()).then_some(weights),
        ..Default::default()
    };
    let (tasks, _) = generate(&repo, &config)?;
    let new_tasks = store.insert_tasks(&tasks)?;

    let validation = if args.no_validate {
        None
    } else {
        let vargs = ValidateArgs {
            repo: Some(repo.clone()),
            workers: 2,
            strict: false,
            timeout: 60.0,
            limit: None,
            image: ImageArgs { base_image: None, ca_bundle: None, rebuild: false },
            json: false,
        };
        match runtime()?.block_on(validate_candidates(&mut store, &vargs)) {
            Ok(summary) => Some(Ok(summary)),
            Err(e) => Some(Err(format!("{e:#}"))),
        }
    };

    let all = store.tasks()?;
    let valid = all.iter().filter(|t| t.status == TaskStatus::Valid).count();
    if args.json {
        let validation_json = match &validation {
            Some(Ok(s)) => serde_json::to_value(s)?,
            Some(Err(e)) => serde_json::json!({ "error": e }),
            None => serde_json::Value::Null,
        };
        super::print_json(&serde_json::json!({
            "import": import, "stats": stats,
            "skills": distilled.skills.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "repository": repo, "tasks_generated": tasks.len(), "tasks_new": new_tasks,
            "validation": validation_json, "valid_tasks": valid,
        }))?;
    } else {
        println!("traces:     {}", summary_line(&import));
        let outcomes: Vec<String> = stats.by_outcome.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("            {} traces in the store; outcomes: {}", stats.traces, outcomes.join(" "));
        println!("skills:     {} distilled ({})", distilled.skills.len(), distilled.skills.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "));
        println!("repository: {}", repo.display());
        println!("tasks:      {} candidates generated ({} new)", tasks.len(), new_tasks);
        match &validation {
            Some(Ok(s)) => {
                let invalid: Vec<String> = s.invalid_by_stage.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("validation: {} candidates, {} valid ({:.0}% yield); invalid: {}", s.candidates, s.valid, s.yield_rate * 100.0, if invalid.is_empty() { "none".into() } else { invalid.join(" ") });
            }
            Some(Err(e)) => println!("validation: not run: {e}"),
            None => println!("validation: skipped (--no-validate)"),
        }
        println!("store:      {} ({} valid tasks)", store.path().display(), valid);
    }
    Ok(EXIT_OK)
}
