//! `socratic skills distill|list|show|export`.
//!
//! In: the stored traces, instances and skills; `--min-traces`, an optional LLM endpoint and
//! model; a skill name; an export folder. Out: the distilled skills stored (versions bumped on
//! change) and summarised, skill rows, one skill, or `DIR/<name>/SKILL.md` folders checked by
//! the validator; exit 1 when the LLM fails or an export does not validate, 2 on usage errors.

use super::traces::JsonFlag;
use super::{print_json, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::model::Skill;
use crate::skills::distill::{Distiller, RuleDistiller, DEFAULT_MIN_TRACES};
use crate::skills::llm::LlmDistiller;
use crate::skills::{self, agent_skill};
use crate::store::Store;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum SkillsCmd {
    /// Classify every stored trace, group by repair pattern and failure mode, store the skills.
    Distill(DistillArgs),
    /// List stored skills.
    List(JsonFlag),
    /// Show one skill.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Write DIR/<name>/SKILL.md for every stored skill and validate them.
    Export {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DistillArgs {
    /// Keep groups backed by at least this many traces.
    #[arg(long, default_value_t = DEFAULT_MIN_TRACES)]
    pub min_traces: usize,
    /// OpenAI-compatible endpoint for the LLM distiller (key from SOCRATIC_LLM_API_KEY).
    #[arg(long, requires = "llm_model", value_name = "URL")]
    pub llm_url: Option<String>,
    /// Model name for the LLM distiller.
    #[arg(long, requires = "llm_url", value_name = "MODEL")]
    pub llm_model: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// One line of `skills list`.
#[derive(Debug, Serialize)]
pub struct SkillRow {
    pub name: String,
    pub kind: crate::model::SkillKind,
    pub version: u32,
    pub traces: usize,
    pub failures: usize,
    pub failure_rate: f64,
    pub evidence: usize,
    pub operators: Vec<String>,
}

impl SkillRow {
    fn new(s: &Skill) -> SkillRow {
        SkillRow {
            name: s.name.clone(),
            kind: s.kind,
            version: s.version,
            traces: s.stats.traces,
            failures: s.stats.failures,
            failure_rate: s.stats.failure_rate,
            evidence: s.evidence.len(),
            operators: s.operators.clone(),
        }
    }
}

/// What `skills distill` reports.
#[derive(Debug, Serialize)]
pub struct DistillOutput {
    pub distiller: String,
    pub traces: usize,
    pub groups: usize,
    pub changed: Vec<String>,
    pub skills: Vec<SkillRow>,
}

/// What `skills export` reports.
#[derive(Debug, Serialize)]
pub struct ExportOutput {
    pub dir: String,
    pub written: Vec<String>,
    pub problems: Vec<agent_skill::Problem>,
}

pub fn run(home: &Path, cmd: SkillsCmd) -> anyhow::Result<i32> {
    match cmd {
        SkillsCmd::Distill(args) => distill_cmd(home, args),
        SkillsCmd::List(f) => {
            let store = Store::open(home)?;
            let rows: Vec<SkillRow> = store.skills()?.iter().map(SkillRow::new).collect();
            if f.json {
                print_json(&rows)?;
            } else {
                print!("{}", rows_text(&rows));
            }
            Ok(EXIT_OK)
        }
        SkillsCmd::Show { name, json } => {
            let store = Store::open(home)?;
            match store.skill(&name)? {
                Some(s) if json => print_json(&s).map(|_| EXIT_OK),
                Some(s) => {
                    let ex = skills::examples(&s, &store.traces()?, &store.instances()?, 3);
                    print!("{}", agent_skill::render(&s, &ex));
                    Ok(EXIT_OK)
                }
                None => {
                    eprintln!("error: no skill named '{name}'");
                    Ok(EXIT_FAILED)
                }
            }
        }
        SkillsCmd::Export { dir, json } => {
            let store = Store::open(home)?;
            let (traces, instances) = (store.traces()?, store.instances()?);
            let with_examples: Vec<(Skill, Vec<agent_skill::Example>)> = store
                .skills()?
                .into_iter()
                .map(|s| {
                    let e = skills::examples(&s, &traces, &instances, 3);
                    (s, e)
                })
                .collect();
            let written = agent_skill::export(&dir, &with_examples)?;
            let problems = agent_skill::validate(&dir);
            let out = ExportOutput {
                dir: dir.display().to_string(),
                written: written.iter().map(|p| p.display().to_string()).collect(),
                problems,
            };
            if json {
                print_json(&out)?;
            } else {
                println!("wrote {} skills to {}", out.written.len(), out.dir);
                for p in &out.problems {
                    eprintln!("invalid: {}: {}", p.path, p.message);
                }
            }
            Ok(if out.problems.is_empty() { EXIT_OK } else { EXIT_FAILED })
        }
    }
}

fn distill_cmd(home: &Path, args: DistillArgs) -> anyhow::Result<i32> {
    if args.min_traces == 0 {
        eprintln!("error: --min-traces must be at least 1");
        return Ok(EXIT_USAGE);
    }
    let mut store = Store::open(home)?;
    let (traces, instances, existing) = (store.traces()?, store.instances()?, store.skills()?);
    let (distiller, name): (Box<dyn Distiller>, String) = match (&args.llm_url, &args.llm_model) {
        (Some(url), Some(model)) => (Box::new(LlmDistiller::from_env(url, model)), format!("llm {model}")),
        _ => (Box::new(RuleDistiller), "rules".to_string()),
    };
    let result = match skills::distill_with(distiller.as_ref(), &traces, &instances, &existing, args.min_traces) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_FAILED);
        }
    };
    store.upsert_skills(&result.skills)?;
    let out = DistillOutput {
        distiller: name,
        traces: result.observations,
        groups: result.groups.len(),
        changed: result.changed.clone(),
        skills: result.skills.iter().map(SkillRow::new).collect(),
    };
    if args.json {
        print_json(&out)?;
    } else {
        println!(
            "distilled {} skills from {} traces ({} new or changed)",
            out.skills.len(),
            out.traces,
            out.changed.len()
        );
        print!("{}", rows_text(&out.skills));
    }
    Ok(EXIT_OK)
}

fn rows_text(rows: &[SkillRow]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:44} {:15} {:>3} {:>6} {:>8} {:>6}  operators",
        "name", "kind", "ver", "traces", "failures", "rate"
    );
    for r in rows {
        let kind = match r.kind {
            crate::model::SkillKind::FailureMode => "failure-mode",
            crate::model::SkillKind::RepairPattern => "repair-pattern",
        };
        let _ = writeln!(
            s,
            "{:44} {:15} {:>3} {:>6} {:>8} {:>6.2}  {}",
            r.name,
            kind,
            r.version,
            r.traces,
            r.failures,
            r.failure_rate,
            r.operators.join(",")
        );
    }
    s
}
