//! socratic: a closed loop around a coding agent (the Solver).
//!
//! Traces of the Solver's attempts go in; distilled skills, repair tasks anchored at real code
//! sites, validation verdicts, scores and a curriculum come out. One module per stage:
//!
//! - [`model`]: the plain data types every stage shares (no IO).
//! - [`traces`]: importers for every agent / harness format, format detected from content.
//! - [`redact`]: secret redaction applied before anything is stored.
//! - [`chat`]: the OpenAI-compatible chat client (retries, usage) the LLM distiller and the agent Solver share.
//! - [`store`]: the SQLite file; the only code that opens it.
//! - [`diff`]: unified diffs (parse, render, reverse, apply in memory) and git access (git2).
//! - [`anchor`]: the tree-sitter site index of a Python repository (incremental per file).
//! - [`operators`]: the mutation-operator catalogue (one query + one rewrite each).
//! - [`skills`]: failure and repair-pattern classification, distilled Agent Skills, targeting.
//! - [`tasks`]: candidate repair tasks generated from the index and the operators.
//! - [`sandbox`]: Docker (bollard): base and environment images, warm test workers.
//! - [`validate`]: staged verdicts (F2P / P2P) for candidate tasks, run in warm workers.
//! - [`lsp`]: the language server (tasks as diagnostics) and the daemon that serves editors.
//! - [`score`]: the solver-gradient alignment reward (candle): gradient features of tasks vs a reference set.
//! - [`serve`]: `socratic serve`, grading as an HTTP service (warm workers, bounded queue).
//! - [`export`]: the curriculum as SWE-bench, SWE-smith and Harbor tasks.
//! - [`fuzzing`]: the fuzz targets' bodies (libFuzzer targets in `fuzz/` and the bounded CI test share them).
//! - [`report`]: the self-contained HTML report of the rounds (inline SVG).
//! - [`text`]: names made safe to write (control characters escaped).
//! - [`cli`]: thin glue from the command line to the stages.

pub mod anchor;
pub mod chat;
pub mod cli;
pub mod diff;
pub mod engine;
pub mod examples;
pub mod experiment;
pub mod export;
pub mod fuzzing;
pub mod lsp;
pub mod model;
pub mod operators;
pub mod redact;
pub mod report;
pub mod sandbox;
pub mod score;
pub mod serve;
pub mod skills;
pub mod store;
pub mod tasks;
pub mod text;
pub mod traces;
pub mod train;
pub mod validate;
