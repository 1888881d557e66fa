//! State shared by every editor session of one process (the daemon, or a standalone server).
//!
//! In: the home folder (the store), decisions and anchor changes, generation requests, records
//! to store. Out: the tasks of one file with their verdicts ([`FileTasks`], read from the store
//! by its indexed (repository identity, file) and (repo, file) columns — so a second clone of a
//! repository shows the tasks generated in the first — and cached per file until something
//! changes), the running editor attempts (by attempt id, so a document opened under an
//! attempt's checkout in any session is recorded in it), and a
//! broadcast of changes that makes every session re-publish. Nothing here holds every task in
//! memory. Every method that touches the store blocks: call it from `spawn_blocking` (the cached
//! reads are cheap).

use super::attempt::Attempt;
use crate::anchor::queries::QuerySet;
use crate::model::{AnchorState, Decision, Environment, Record, Task, Verdict};
use crate::store::{Store, TaskQuery};
use crate::tasks::{self, GenerateConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// What changed, for the sessions to re-publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Task rows changed (decisions, anchors, new tasks).
    Tasks,
    /// A Python file changed on disk outside the editor.
    File(PathBuf),
}

/// The tasks anchored in one file of one repository, with their verdicts.
#[derive(Debug, Default)]
pub struct FileTasks {
    pub tasks: Vec<Task>,
    pub verdicts: HashMap<String, Verdict>,
}

impl FileTasks {
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

/// (repository root, commit, file).
type BlobKey = (PathBuf, String, String);

/// One process's shared state.
pub struct Shared {
    pub home: PathBuf,
    store: Mutex<Store>,
    pub queries: QuerySet,
    /// Canonical repository root → the `repo` strings its tasks were stored with.
    repos: Mutex<HashMap<PathBuf, Vec<String>>>,
    /// Canonical repository root → its identity (recorded in the store when first asked;
    /// `None`: not a repository with a commit), so every clone sees the repository's tasks.
    identities: Mutex<HashMap<PathBuf, Option<String>>>,
    /// (canonical root, file) → its tasks; dropped whenever tasks change.
    files: Mutex<HashMap<(PathBuf, String), Arc<FileTasks>>>,
    /// File texts at commits, for finding sites again: (root, commit, file) -> text.
    blobs: Mutex<HashMap<BlobKey, Option<Arc<String>>>>,
    /// Running editor attempts by attempt id.
    attempts: Mutex<HashMap<String, Attempt>>,
    changes: broadcast::Sender<Change>,
}

/// A path made canonical when it exists (else as given).
pub fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The tasks the queries select, each once, in query order.
fn tasks_of(store: &Store, queries: &[TaskQuery]) -> anyhow::Result<Vec<Task>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for q in queries {
        out.extend(store.tasks_where(q)?.into_iter().filter(|t| seen.insert(t.id.clone())));
    }
    Ok(out)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Open the store under `home` and learn which repositories its tasks are in.
    pub fn open(home: &Path) -> anyhow::Result<Arc<Shared>> {
        let store = Store::open(home)?;
        let queries = QuerySet::resolve(None).unwrap_or_else(|e| {
            tracing::warn!("queries: {e}; using the embedded copies");
            QuerySet::embedded()
        });
        let (changes, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            home: home.to_path_buf(),
            store: Mutex::new(store),
            queries,
            repos: Mutex::new(HashMap::new()),
            identities: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            blobs: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
            changes,
        });
        shared.reload()?;
        Ok(shared)
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> anyhow::Result<T>) -> anyhow::Result<T> {
        f(&mut lock(&self.store))
    }

    /// Forget cached tasks and re-learn the repositories (other processes may have written).
    pub fn reload(&self) -> anyhow::Result<()> {
        let names = self.with_store(|s| Ok(s.task_repos()?))?;
        let mut repos: HashMap<PathBuf, Vec<String>> = HashMap::new();
        for name in names {
            repos.entry(canonical(Path::new(&name))).or_default().push(name);
        }
        *lock(&self.repos) = repos;
        lock(&self.files).clear();
        Ok(())
    }

    /// The canonical roots of the repositories that have tasks.
    pub fn roots(&self) -> Vec<PathBuf> {
        lock(&self.repos).keys().cloned().collect()
    }

    /// How many tasks the store holds.
    pub fn task_count(&self) -> anyhow::Result<usize> {
        self.with_store(|s| Ok(s.count_tasks(&TaskQuery::default())?))
    }

    /// Tasks anchored in `rel` of the repository at (canonical) `root`, with their verdicts:
    /// from the cache, else two indexed queries.
    pub fn file_tasks(&self, root: &Path, rel: &str) -> Arc<FileTasks> {
        let key = (root.to_path_buf(), rel.to_string());
        if let Some(hit) = lock(&self.files).get(&key) {
            return hit.clone();
        }
        let queries = self.queries_of(root, Some(rel));
        let loaded = self.with_store(|s| {
            let tasks = tasks_of(s, &queries)?;
            let ids: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
            let verdicts = s.verdicts_of(&ids)?.into_iter().map(|v| (v.task_id.clone(), v)).collect();
            Ok(FileTasks { tasks, verdicts })
        });
        let file = Arc::new(loaded.unwrap_or_else(|e| {
            tracing::warn!("tasks of {rel}: {e:#}");
            FileTasks::default()
        }));
        lock(&self.files).insert(key, file.clone());
        file
    }

    /// Tasks anchored in `rel` of the repository at (canonical) `root`.
    pub fn tasks_in(&self, root: &Path, rel: &str) -> Vec<Task> {
        self.file_tasks(root, rel).tasks.clone()
    }

    /// The queries for the tasks of the repository at (canonical) `root` (of its file `rel`):
    /// by the repository's identity (tasks generated in any clone of it) and by the paths its
    /// tasks were stored with (tasks stored before identities were recorded).
    fn queries_of(&self, root: &Path, rel: Option<&str>) -> Vec<TaskQuery> {
        let file = rel.map(str::to_string);
        let mut out: Vec<TaskQuery> = self
            .identity_of(root)
            .map(|id| TaskQuery { repo_id: Some(id), file: file.clone(), ..Default::default() })
            .into_iter()
            .collect();
        for name in lock(&self.repos).get(root).cloned().unwrap_or_default() {
            out.push(TaskQuery { repo: Some(name), file: file.clone(), ..Default::default() });
        }
        out
    }

    /// The identity of the repository at (canonical) `root`, recorded in the store the first
    /// time it is asked for (cached).
    fn identity_of(&self, root: &Path) -> Option<String> {
        if let Some(hit) = lock(&self.identities).get(root) {
            return hit.clone();
        }
        let identity = self
            .with_store(|s| crate::engine::repository::record_identity(s, root))
            .map_err(|e| tracing::debug!("identity of {}: {e:#}", root.display()))
            .ok();
        lock(&self.identities).insert(root.to_path_buf(), identity.clone());
        identity
    }

    /// Every task of the repository at (canonical) `root` (from any clone of it), or of every
    /// repository. Blocking.
    pub fn tasks_of_root(&self, root: Option<&Path>) -> anyhow::Result<Vec<(PathBuf, Task)>> {
        if let Some(root) = root {
            let queries = self.queries_of(root, None);
            let tasks = self.with_store(|s| tasks_of(s, &queries))?;
            return Ok(tasks.into_iter().map(|t| (root.to_path_buf(), t)).collect());
        }
        let repos: Vec<(PathBuf, String)> = lock(&self.repos)
            .iter()
            .filter(|(r, _)| root.is_none_or(|root| r.as_path() == root))
            .flat_map(|(r, names)| names.iter().map(|n| (r.clone(), n.clone())))
            .collect();
        self.with_store(|s| {
            let mut out = Vec::new();
            for (r, name) in repos {
                let q = TaskQuery { repo: Some(name), ..Default::default() };
                out.extend(s.tasks_where(&q)?.into_iter().map(|t| (r.clone(), t)));
            }
            Ok(out)
        })
    }

    /// A task by id (or unique prefix), with its verdict. Blocking (two indexed lookups).
    pub fn task(&self, id: &str) -> Option<Task> {
        self.with_store(|s| Ok(s.task(id)?)).unwrap_or_else(|e| {
            tracing::warn!("task {id}: {e:#}");
            None
        })
    }

    /// Record the user's decision on a task in the store. Blocking.
    pub fn set_decision(&self, id: &str, decision: Decision) -> anyhow::Result<Task> {
        let task =
            self.with_store(|s| s.set_decision(id, decision)?.ok_or_else(|| anyhow::anyhow!("no task '{id}'")))?;
        self.forget_file(&task);
        Ok(task)
    }

    /// Mark a task's anchor stale or fresh again in the store (its decision stays). Blocking.
    pub fn set_anchor(&self, id: &str, anchor: AnchorState) -> anyhow::Result<Task> {
        let task = self.with_store(|s| s.set_anchor(id, anchor)?.ok_or_else(|| anyhow::anyhow!("no task '{id}'")))?;
        self.forget_file(&task);
        Ok(task)
    }

    /// Drop the cached tasks of a task's file (in every clone: the task shows in each).
    fn forget_file(&self, task: &Task) {
        lock(&self.files).retain(|(_, file), _| *file != task.site.file);
    }

    /// Generate tasks in the repository at `root` (only those anchored in `only_file` when
    /// given), store them, and return how many were new. Blocking.
    pub fn generate(
        &self,
        root: &Path,
        only_file: Option<&str>,
        config: &GenerateConfig,
    ) -> anyhow::Result<(usize, usize)> {
        let (mut generated, _) = tasks::generate_with(root, config, &self.queries)?;
        if let Some(file) = only_file {
            generated.retain(|t| t.site.file == file);
        }
        let added = self.with_store(|s| {
            crate::engine::repository::record_identity(s, root)?;
            Ok(s.insert_tasks(&generated)?)
        })?;
        self.reload()?;
        Ok((generated.len(), added))
    }

    /// Store records (traces). Blocking.
    pub fn insert_records(&self, records: &[Record]) -> anyhow::Result<usize> {
        let summary = self.with_store(|s| Ok(s.insert_records(records)?))?;
        Ok(summary.traces)
    }

    /// The text of a task's site at its base commit (cached per file), if the repository has it.
    pub fn site_text(&self, root: &Path, task: &Task) -> Option<String> {
        let key = (root.to_path_buf(), task.base_commit.clone(), task.site.file.clone());
        let cached = lock(&self.blobs).get(&key).cloned();
        let text = match cached {
            Some(t) => t,
            None => {
                let t = blob_at(root, &task.base_commit, &task.site.file).ok().map(Arc::new);
                lock(&self.blobs).insert(key, t.clone());
                t
            }
        }?;
        text.get(task.site.start_byte..task.site.end_byte).map(str::to_string)
    }

    /// Tell every session something changed.
    pub fn notify(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

impl Shared {
    /// The stored environment of a repository at a commit. Blocking.
    pub fn environment(&self, repo: &str, commit: &str) -> anyhow::Result<Option<Environment>> {
        self.with_store(|s| Ok(s.environment(repo, commit)?))
    }

    /// Keep a running attempt.
    pub fn add_attempt(&self, attempt: Attempt) {
        lock(&self.attempts).insert(attempt.id.clone(), attempt);
    }

    /// Run `f` on a running attempt; `None` when there is none by that id.
    pub fn with_attempt<T>(&self, id: &str, f: impl FnOnce(&mut Attempt) -> T) -> Option<T> {
        lock(&self.attempts).get_mut(id).map(f)
    }

    /// Remove a running attempt (finished or abandoned); put it back with [`Shared::add_attempt`]
    /// when finishing fails.
    pub fn take_attempt(&self, id: &str) -> Option<Attempt> {
        lock(&self.attempts).remove(id)
    }

    /// The attempt whose checkout holds `path`, with the path relative to the checkout.
    pub fn attempt_at(&self, path: &Path) -> Option<(String, String)> {
        let path = canonical(path);
        lock(&self.attempts).values().find_map(|a| a.relative(&path).map(|rel| (a.id.clone(), rel)))
    }

    /// Keep a verdict and the task it updates. Blocking.
    pub fn record_verdict(&self, task: &Task, verdict: &Verdict) -> anyhow::Result<()> {
        self.with_store(|s| Ok(s.record_verdict(task, verdict)?))?;
        self.forget_file(task);
        Ok(())
    }
}

/// The text of a file at a commit.
pub fn blob_at(root: &Path, commit: &str, rel: &str) -> anyhow::Result<String> {
    let repo = crate::diff::git::Repo::open(root)?;
    let bytes =
        repo.blob_at(commit, rel)?.ok_or_else(|| anyhow::anyhow!("{}: {rel} is not in {commit}", root.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
