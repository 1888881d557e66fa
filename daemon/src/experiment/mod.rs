//! `socratic experiment efficacy`: does targeting help? A reproducible, held-out evaluation by
//! execution of the loop's arms at an equal training budget.
//!
//! In: a pool of validated tasks from one or more repositories, the Solver's model, seeds, a
//! budget and the arms. Out: per arm, the held-out pass@1 (greedy) and pass@k per seed and task,
//! their means with 95% bootstrap intervals and a per-skill breakdown, all stored (so a killed
//! run resumes) and shown as a table, JSON and a chart in `report --html`.
//!
//! - [`split`]: the held-out set, split by site and stratified by skill (pure).
//! - [`arms`]: each arm's training set at the same budget (pure).
//! - [`stats`]: means and bootstrap intervals (pure).
//! - [`run`]: the stored, resumable steps over a [`run::Learner`].
//! - [`summary`]: the table, JSON and chart data (pure).

pub mod arms;
pub mod learner;
pub mod run;
pub mod split;
pub mod stats;
pub mod summary;

pub use arms::Arm;
