//! The loop: rounds (distill → generate → validate → score → select), the curriculum, and
//! Solver runs, plus the use-cases the CLI and the language server call (validating stored
//! candidates, importing traces, the demo). Every step records its progress in the store, so a
//! round resumes where it stopped after a crash. The engine never prints: it reports progress
//! as events to a sink it is given (`progress`).
//!
//! In: the store, a repository, options with a progress sink. Out: `Round`s and `SolveResult`s
//! in the store; summaries; progress events.

pub mod agent;
pub mod baseline;
pub mod checkout;
pub mod curriculum;
pub mod demo;
pub mod environment;
pub mod evolve;
pub mod grade;
pub mod import;
pub mod lm_candidates;
pub mod lm_solver;
pub mod progress;
pub mod repository;
pub mod round;
pub mod scoring;
pub mod shard;
pub mod shard_grade;
pub mod solve;
pub mod validation;
