//! The loop: rounds (distill → generate → validate → score → select), the curriculum, and
//! Solver runs. Every step records its progress in the store, so a round resumes where it
//! stopped after a crash.
//!
//! In: the store, a repository, round options. Out: `Round`s and `SolveResult`s in the store.

pub mod baseline;
pub mod checkout;
pub mod curriculum;
pub mod environment;
pub mod grade;
pub mod progress;
pub mod round;
pub mod scoring;
pub mod solve;
pub mod validation;
