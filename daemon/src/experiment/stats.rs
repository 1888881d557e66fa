//! Statistics of an arm: per (seed, held-out task) outcomes in, the mean and a 95% percentile
//! bootstrap interval out (seeds and tasks resampled with replacement, seeded), overall and per
//! stratum (skill, else operator) of the held-out tasks. Pure.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Resamples of the bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// A mean with its 95% interval, and what it was computed over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    pub tasks: usize,
    pub seeds: usize,
}

/// Values per seed, per task id (each in [0, 1]: pass@1 is 0 or 1, pass@k a rate).
pub type Grid = BTreeMap<u64, BTreeMap<String, f64>>;

/// The mean over every (seed, task) of `grid` restricted to `tasks` (all of the first seed's tasks
/// when `None`), and its 95% interval from `resamples` bootstrap draws of seeds × tasks. A task
/// a seed did not evaluate counts 0. `None` when there is no seed or no task.
pub fn bootstrap(grid: &Grid, tasks: Option<&[String]>, resamples: usize, seed: u64) -> Option<Interval> {
    let seeds: Vec<&BTreeMap<String, f64>> = grid.values().collect();
    let tasks: Vec<String> = match tasks {
        Some(t) => t.to_vec(),
        None => seeds.first()?.keys().cloned().collect(),
    };
    if seeds.is_empty() || tasks.is_empty() {
        return None;
    }
    let value = |s: usize, t: usize| seeds[s].get(&tasks[t]).copied().unwrap_or(0.0);
    let (ns, nt) = (seeds.len(), tasks.len());
    let mean =
        (0..ns).flat_map(|s| (0..nt).map(move |t| (s, t))).map(|(s, t)| value(s, t)).sum::<f64>() / (ns * nt) as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let ss: Vec<usize> = (0..ns).map(|_| rng.random_range(0..ns)).collect();
        let ts: Vec<usize> = (0..nt).map(|_| rng.random_range(0..nt)).collect();
        let total: f64 = ss.iter().flat_map(|s| ts.iter().map(move |t| (*s, *t))).map(|(s, t)| value(s, t)).sum();
        means.push(total / (ns * nt) as f64);
    }
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means.get(((means.len() - 1) as f64 * q).round() as usize).copied().unwrap_or(mean);
    Some(Interval { mean, lo: at(0.025), hi: at(0.975), tasks: nt, seeds: ns })
}

/// Per stratum of the held-out tasks (`strata`: task id → stratum), its interval.
pub fn per_stratum(grid: &Grid, strata: &BTreeMap<String, String>, seed: u64) -> BTreeMap<String, Interval> {
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (task, s) in strata {
        groups.entry(s.as_str()).or_default().push(task.clone());
    }
    groups
        .into_iter()
        .filter_map(|(s, tasks)| bootstrap(grid, Some(&tasks), BOOTSTRAP_RESAMPLES, seed).map(|i| (s.to_string(), i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[(u64, &[(&str, f64)])]) -> Grid {
        rows.iter().map(|(s, r)| (*s, r.iter().map(|(t, v)| (t.to_string(), *v)).collect())).collect()
    }

    #[test]
    fn the_mean_is_over_seeds_and_tasks_and_the_interval_contains_it() {
        let g = grid(&[
            (0, &[("a", 1.0), ("b", 0.0), ("c", 1.0), ("d", 0.0)]),
            (1, &[("a", 1.0), ("b", 1.0), ("c", 0.0), ("d", 0.0)]),
        ]);
        let i = bootstrap(&g, None, 500, 1).unwrap();
        assert_eq!((i.mean, i.tasks, i.seeds), (0.5, 4, 2));
        assert!(i.lo <= i.mean && i.mean <= i.hi && i.lo < i.hi, "{i:?}");
        assert!(i.lo >= 0.0 && i.hi <= 1.0);
        assert_eq!(i, bootstrap(&g, None, 500, 1).unwrap(), "seeded");
        // Constant outcomes: a zero-width interval at the mean.
        let all = grid(&[(0, &[("a", 1.0), ("b", 1.0)])]);
        let i = bootstrap(&all, None, 100, 1).unwrap();
        assert_eq!((i.lo, i.mean, i.hi), (1.0, 1.0, 1.0));
        assert!(bootstrap(&Grid::new(), None, 100, 1).is_none());
    }

    #[test]
    fn a_task_a_seed_missed_counts_zero_and_strata_are_separate() {
        let g = grid(&[(0, &[("a", 1.0), ("b", 1.0)]), (1, &[("a", 1.0)])]);
        let tasks = vec!["a".to_string(), "b".to_string()];
        assert_eq!(bootstrap(&g, Some(&tasks), 10, 0).unwrap().mean, 0.75);
        let strata = BTreeMap::from([("a".to_string(), "x".to_string()), ("b".to_string(), "y".to_string())]);
        let per = per_stratum(&g, &strata, 0);
        assert_eq!((per["x"].mean, per["y"].mean, per["y"].tasks), (1.0, 0.5, 1));
    }
}
