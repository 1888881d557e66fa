//! Candidate repair tasks: mutate real code sites and keep the bug patches that apply.
//!
//! In: a git repository and a [`GenerateConfig`] (operators, budget, seed). Out: candidate
//! [`Task`]s (a bug patch that applies at HEAD, the site, the enclosing function or class and a
//! draft problem statement) and one [`Report`] per operator saying how many sites it had, how
//! many it tried, what it produced and, when nothing, why. Deterministic for a seed: sites are
//! ordered by a ChaCha RNG seeded from the seed and the operator, the budget is spread
//! round-robin across operators and, within an operator, across files.

pub mod statement;

use crate::anchor::syntax::{definition_name, join_scope};
use crate::anchor::{index_repo, AnchorError, FileIndex, IndexConfig, QuerySet, RepoIndex, DEFAULT_MAX_FILE_BYTES};
use crate::diff::{self, git};
use crate::model::{sha256_hex, Site, Task, TaskStage};
use crate::operators::{self, Operator, CATALOGUE, SITE_CAPTURE};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// Default number of candidates per run.
pub const DEFAULT_BUDGET: usize = 100;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Operator names; `None` means the whole catalogue.
    pub operators: Option<Vec<String>>,
    /// At most this many candidates.
    pub budget: usize,
    pub seed: u64,
    /// Queries folder; `None` resolves as `QuerySet::resolve` does.
    pub queries_dir: Option<PathBuf>,
    pub max_file_bytes: u64,
    /// Loop round the tasks belong to, if any.
    pub round: Option<u32>,
    /// Targeted generation: the budget is spread over these operators in proportion to their
    /// weights (see [`spread_budget`]); `None` gives every selected operator an equal turn.
    pub operator_weights: Option<BTreeMap<String, f64>>,
    /// Lines (1-based, per repository-relative file) that the clean test suite executed, from an
    /// environment's coverage map: when given, only sites touching such a line are used (a
    /// change nothing runs can never make a test fail). `None`: every site.
    pub executed_lines: Option<BTreeMap<String, BTreeSet<u32>>>,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            operators: None,
            budget: DEFAULT_BUDGET,
            seed: 0,
            queries_dir: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            round: None,
            operator_weights: None,
            executed_lines: None,
        }
    }
}

/// What one operator did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub operator: String,
    /// Sites its query matched in indexable files.
    pub sites: usize,
    pub attempted: usize,
    pub candidates: usize,
    /// Near-duplicates dropped (same site, same normalised patch).
    pub duplicates: usize,
    /// Why there are no candidates (`no site`, ...); `None` when there are some.
    pub reason: Option<String>,
    /// Rejections by kind (`not-applicable`, `broken-syntax`, `patch-does-not-apply`, ...).
    pub rejected: BTreeMap<String, usize>,
}

/// Errors that stop generation.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Anchor(#[from] AnchorError),
    #[error("unknown operator '{name}'; known: {known}")]
    UnknownOperator { name: String, known: String },
    #[error(transparent)]
    Git(#[from] git::GitError),
}

/// The operators a config names, in catalogue order (all when none are named).
pub fn select_operators(names: Option<&[String]>) -> Result<Vec<&'static Operator>, TaskError> {
    let Some(names) = names else { return Ok(CATALOGUE.iter().collect()) };
    for name in names {
        if operators::operator(name).is_none() {
            let known: Vec<&str> = CATALOGUE.iter().map(|o| o.name).collect();
            return Err(TaskError::UnknownOperator { name: name.clone(), known: known.join(", ") });
        }
    }
    Ok(CATALOGUE.iter().filter(|o| names.iter().any(|n| n == o.name)).collect())
}

/// Spread `budget` over operators in proportion to their weights (largest remainder; ties go to
/// the operator whose seeded draw is lower, so a seed gives one answer). Weights that are not
/// positive and finite get nothing.
pub fn spread_budget(budget: usize, weights: &BTreeMap<String, f64>, seed: u64) -> BTreeMap<String, usize> {
    let positive: Vec<(&String, f64)> =
        weights.iter().filter(|(_, w)| w.is_finite() && **w > 0.0).map(|(k, w)| (k, *w)).collect();
    let total: f64 = positive.iter().map(|(_, w)| w).sum();
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    if total <= 0.0 {
        return out;
    }
    let mut rest: Vec<(f64, u64, &String)> = Vec::new();
    let mut given = 0;
    for (name, w) in &positive {
        let exact = budget as f64 * w / total;
        let floor = exact.floor() as usize;
        given += floor;
        out.insert((*name).clone(), floor);
        rest.push((exact - floor as f64, derive_seed(seed, &["spread", name]), name));
    }
    rest.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, name) in rest.into_iter().take(budget.saturating_sub(given)) {
        *out.entry(name.clone()).or_default() += 1;
    }
    out
}

/// A seed derived from the run seed and some labels (stable across platforms).
pub fn derive_seed(seed: u64, labels: &[&str]) -> u64 {
    let mut key = seed.to_le_bytes().to_vec();
    for label in labels {
        key.push(0);
        key.extend_from_slice(label.as_bytes());
    }
    let hex = sha256_hex(&key);
    u64::from_str_radix(&hex[..16], 16).unwrap_or(seed)
}

/// Index the repository (resolving the queries) and generate candidates.
pub fn generate(repo_path: &Path, config: &GenerateConfig) -> Result<(Vec<Task>, Vec<Report>), TaskError> {
    let queries = QuerySet::resolve(config.queries_dir.as_deref())?;
    generate_with(repo_path, config, &queries)
}

/// Generate candidates with already loaded queries.
pub fn generate_with(
    repo_path: &Path,
    config: &GenerateConfig,
    queries: &QuerySet,
) -> Result<(Vec<Task>, Vec<Report>), TaskError> {
    let mut ops = select_operators(config.operators.as_deref())?;
    let quotas = config.operator_weights.as_ref().map(|w| spread_budget(config.budget, w, config.seed));
    if let Some(weights) = &config.operator_weights {
        let named: Vec<String> = weights.keys().cloned().collect();
        select_operators(Some(&named))?;
        ops.retain(|o| quotas.as_ref().is_some_and(|q| q.get(o.name).is_some_and(|n| *n > 0)));
    }
    let index = index_repo(repo_path, queries, &IndexConfig { max_file_bytes: config.max_file_bytes })?;
    let repo = git::Repo::open(&index.root)?;
    let head = repo.head_commit()?;
    let mut gen = Generator {
        index: &index,
        repo: &repo,
        head,
        config,
        clean: HashMap::new(),
        seen: HashSet::new(),
        tasks: Vec::new(),
    };
    let mut plans: Vec<Plan> = ops.iter().map(|op| Plan::new(op, &index, queries, config)).collect();
    if let Some(q) = &quotas {
        for plan in &mut plans {
            plan.quota = q.get(plan.op.name).copied();
        }
    }
    gen.run(&mut plans);
    let reports = plans.into_iter().map(Plan::finish).collect();
    Ok((gen.tasks, reports))
}

/// Why a generation made no candidate, from its operator reports: no site in the indexed files,
/// no site on a line the tests execute (with `--all-sites` the way out), or every site refused
/// (the most common rejections named).
pub fn why_no_candidates(reports: &[Report]) -> String {
    let sites: usize = reports.iter().map(|r| r.sites).sum();
    let mut rejected: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reports {
        for (kind, n) in &r.rejected {
            *rejected.entry(kind.as_str()).or_default() += n;
        }
    }
    let unexecuted = rejected.get("not-executed-by-tests").copied().unwrap_or(0);
    if sites == 0 && unexecuted > 0 {
        return format!(
            "no site is on a line the clean suite executes ({unexecuted} sites on lines no test runs); \
             generate anyway with --all-sites"
        );
    }
    if sites == 0 {
        return "no operator's query matched any site in the indexed library files (tests, docs, build scripts and \
                vendored code are not indexed)"
            .to_string();
    }
    let mut kinds: Vec<(&str, usize)> = rejected.into_iter().filter(|(k, _)| *k != "not-executed-by-tests").collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let list: Vec<String> = kinds.iter().take(3).map(|(k, n)| format!("{k} {n}")).collect();
    format!(
        "every operator refused its {sites} sites ({})",
        if list.is_empty() { "no rewrite fit".into() } else { list.join(", ") }
    )
}

/// One operator's queue of sites and its running report.
struct Plan {
    op: &'static Operator,
    queue: VecDeque<(usize, usize)>,
    report: Report,
    /// At most this many candidates (targeted generation).
    quota: Option<usize>,
}

impl Plan {
    fn new(op: &'static Operator, index: &RepoIndex, queries: &QuerySet, config: &GenerateConfig) -> Plan {
        let mut report = Report { operator: op.name.to_string(), ..Default::default() };
        let queue = if queries.get(op.name).is_some() {
            site_queue(index, op.name, config.seed, config.executed_lines.as_ref(), &mut report)
        } else {
            report.reason = Some(format!("no query file {}.scm", op.name));
            VecDeque::new()
        };
        Plan { op, queue, report, quota: None }
    }

    fn finish(mut self) -> Report {
        if self.report.reason.is_none() && self.report.candidates == 0 {
            self.report.reason = Some(if self.report.sites == 0 {
                "no site".to_string()
            } else if !self.queue.is_empty() || self.quota == Some(0) {
                "budget spent before this operator's turn".to_string()
            } else {
                format!("no site fits ({} tried)", self.report.attempted)
            });
        }
        self.report
    }
}

/// The operator's sites as `(file, site)` indices: files in a seeded order, sites shuffled
/// within each file, then interleaved one per file per turn. Files with syntax errors, and
/// sites on no executed line when `executed` is given, are left out (counted under `rejected`).
fn site_queue(
    index: &RepoIndex,
    operator: &str,
    seed: u64,
    executed: Option<&BTreeMap<String, BTreeSet<u32>>>,
    report: &mut Report,
) -> VecDeque<(usize, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, &[operator]));
    let mut per_file: Vec<Vec<(usize, usize)>> = Vec::new();
    for (fi, file) in index.files.iter().enumerate() {
        let mut sites: Vec<(usize, usize)> = file
            .sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.query == operator && s.capture == SITE_CAPTURE)
            .map(|(si, _)| (fi, si))
            .collect();
        if let Some(executed) = executed {
            let lines = executed.get(&file.path);
            let before = sites.len();
            // Site rows are 0-based; coverage lines 1-based.
            sites.retain(|&(_, si)| {
                lines.is_some_and(|l| {
                    l.range(file.sites[si].start_line as u32 + 1..=file.sites[si].end_line as u32 + 1).next().is_some()
                })
            });
            if before > sites.len() {
                *report.rejected.entry("not-executed-by-tests".into()).or_default() += before - sites.len();
            }
        }
        if sites.is_empty() {
            continue;
        }
        if !file.syntax_errors.is_empty() {
            *report.rejected.entry("file-has-syntax-errors".into()).or_default() += sites.len();
            continue;
        }
        report.sites += sites.len();
        per_file.push(sites);
    }
    per_file.shuffle(&mut rng);
    for sites in &mut per_file {
        sites.shuffle(&mut rng);
    }
    interleave(per_file)
}

/// Round-robin over lists: first of each, then second of each, ...
fn interleave<T: Copy>(lists: Vec<Vec<T>>) -> VecDeque<T> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest).flat_map(|i| lists.iter().filter_map(move |l| l.get(i).copied())).collect()
}

/// Generation state shared across operators.
struct Generator<'a> {
    index: &'a RepoIndex,
    repo: &'a git::Repo,
    head: String,
    config: &'a GenerateConfig,
    /// Whether each file is unchanged from HEAD.
    clean: HashMap<usize, bool>,
    /// (file, start, end, normalised patch) of every kept task.
    seen: HashSet<(String, usize, usize, String)>,
    tasks: Vec<Task>,
}

impl Generator<'_> {
    /// Give each operator one candidate per turn until the budget is spent or no operator
    /// has sites left.
    fn run(&mut self, plans: &mut [Plan]) {
        loop {
            let mut progressed = false;
            for plan in plans.iter_mut() {
                if self.tasks.len() >= self.config.budget {
                    return;
                }
                if plan.quota.is_some_and(|q| plan.report.candidates >= q) {
                    continue;
                }
                progressed |= self.next_candidate(plan);
            }
            if !progressed {
                return;
            }
        }
    }

    /// Try the plan's sites in order until one gives a new candidate.
    fn next_candidate(&mut self, plan: &mut Plan) -> bool {
        while let Some((fi, si)) = plan.queue.pop_front() {
            plan.report.attempted += 1;
            match self.attempt(plan.op, fi, si) {
                Ok(task) => {
                    let file = &task.site.file;
                    let key =
                        (file.clone(), task.site.start_byte, task.site.end_byte, diff::normalised(&task.bug_patch));
                    if self.tasks.iter().any(|t| t.id == task.id) || !self.seen.insert(key) {
                        plan.report.duplicates += 1;
                        continue;
                    }
                    plan.report.candidates += 1;
                    self.tasks.push(task);
                    return true;
                }
                Err(reason) => *plan.report.rejected.entry(reason).or_default() += 1,
            }
        }
        false
    }

    fn attempt(&mut self, op: &Operator, fi: usize, si: usize) -> Result<Task, String> {
        let file = self.index.files.get(fi).ok_or("no-file")?;
        let site = file.sites.get(si).ok_or("no-site")?;
        let seed = derive_seed(
            self.config.seed,
            &[op.name, &file.path, &site.start_byte.to_string(), &site.end_byte.to_string()],
        );
        let mutated = operators::mutate(op, file.source(), file.tree(), site, seed).map_err(|e| e.key().to_string())?;
        if !self.is_clean(fi) {
            return Err("file-differs-from-head".into());
        }
        let bug_patch = diff::unified_diff(&file.path, file.source(), &mutated);
        self.repo.check_applies(&bug_patch).map_err(|_| "patch-does-not-apply".to_string())?;
        let enclosing = enclosing_name(file, site);
        Ok(Task {
            id: Task::compute_id(&self.head, &bug_patch),
            repo: self.index.root.display().to_string(),
            base_commit: self.head.clone(),
            operator: op.name.to_string(),
            skill: None,
            problem_statement: statement::draft(op.name, &enclosing, &file.path),
            site: site.clone(),
            bug_patch,
            enclosing,
            fail_to_pass: Vec::new(),
            pass_to_pass: Vec::new(),
            image: None,
            stage: TaskStage::Candidate,
            decision: Default::default(),
            anchor: Default::default(),
            seed: self.config.seed,
            round: self.config.round,
        })
    }

    fn is_clean(&mut self, fi: usize) -> bool {
        let (index, repo) = (self.index, self.repo);
        *self.clean.entry(fi).or_insert_with(|| index.files.get(fi).is_some_and(|f| repo.is_unchanged(&f.path)))
    }
}

/// The dotted function or class a task's entry point is: the class itself for a class site,
/// else the site's scope.
pub fn enclosing_name(file: &FileIndex, site: &Site) -> String {
    if site.node_kind == "class_definition" {
        if let Some(name) = file.node_for(site).and_then(|n| definition_name(n, file.source())) {
            return join_scope(&site.scope, name);
        }
    }
    site.scope.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_spreads_across_lists() {
        let q = interleave(vec![vec![1, 2, 3], vec![10], vec![20, 21]]);
        assert_eq!(q.into_iter().collect::<Vec<_>>(), [1, 10, 20, 2, 21, 3]);
    }

    #[test]
    fn derived_seeds_differ_by_label_and_are_stable() {
        assert_eq!(derive_seed(7, &["a"]), derive_seed(7, &["a"]));
        assert_ne!(derive_seed(7, &["a"]), derive_seed(7, &["b"]));
        assert_ne!(derive_seed(7, &["a"]), derive_seed(8, &["a"]));
    }

    #[test]
    fn budget_is_spread_by_weight() {
        let w: BTreeMap<String, f64> =
            [("a".to_string(), 0.9), ("b".to_string(), 0.1), ("c".to_string(), 0.0)].into_iter().collect();
        let q = spread_budget(20, &w, 1);
        assert_eq!((q.get("a"), q.get("b"), q.get("c")), (Some(&18), Some(&2), None));
        let even: BTreeMap<String, f64> = [("a".to_string(), 1.0), ("b".to_string(), 1.0)].into_iter().collect();
        assert_eq!(spread_budget(3, &even, 5).values().sum::<usize>(), 3);
        assert_eq!(spread_budget(3, &even, 5), spread_budget(3, &even, 5));
        assert!(spread_budget(3, &BTreeMap::new(), 0).is_empty());
    }

    #[test]
    fn unknown_operator_is_an_error() {
        assert!(matches!(select_operators(Some(&["nope".to_string()])), Err(TaskError::UnknownOperator { .. })));
        let picked = select_operators(Some(&["remove_loop".to_string(), "change_constant".to_string()]))
            .map(|v| v.len())
            .unwrap_or(0);
        assert_eq!(picked, 2);
    }
}
