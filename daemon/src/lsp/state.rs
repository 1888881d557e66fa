//! State shared by every editor session of one process (the daemon, or a standalone server).
//!
//! In: the home folder (the store), task status changes, generation requests, records to
//! store. Out: an in-memory snapshot of the tasks and verdicts (so handlers never wait on
//! SQLite before updating their documents) and a broadcast of changes that makes every session
//! re-publish. Every method that touches the store blocks: call it from `spawn_blocking`.

use crate::anchor::queries::QuerySet;
use crate::model::{Record, Task, TaskStatus, Verdict};
use crate::store::Store;
use crate::tasks::{self, GenerateConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;

/// What changed, for the sessions to re-publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Task rows changed (status, new tasks).
    Tasks,
    /// A Python file changed on disk outside the editor.
    File(PathBuf),
}

/// The task snapshot.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub tasks: Vec<Task>,
    /// The canonical repository root of each task, in the order of `tasks`.
    pub roots: Vec<PathBuf>,
    pub verdicts: HashMap<String, Verdict>,
}

/// (repository root, commit, file).
type BlobKey = (PathBuf, String, String);

/// One process's shared state.
pub struct Shared {
    pub home: PathBuf,
    store: Mutex<Store>,
    pub queries: QuerySet,
    snapshot: RwLock<Arc<Snapshot>>,
    /// File texts at commits, for finding sites again: (root, commit, file) -> text.
    blobs: Mutex<HashMap<BlobKey, Option<Arc<String>>>>,
    changes: broadcast::Sender<Change>,
}

/// A path made canonical when it exists (else as given).
pub fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

impl Shared {
    /// Open the store under `home` and load the snapshot.
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
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            blobs: Mutex::new(HashMap::new()),
            changes,
        });
        shared.reload()?;
        Ok(shared)
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Re-read tasks and verdicts from the store (other processes may have written).
    pub fn reload(&self) -> anyhow::Result<()> {
        let (tasks, verdicts) = self.with_store(|s| Ok((s.tasks()?, s.verdicts()?)))?;
        let mut repo_roots: HashMap<String, PathBuf> = HashMap::new();
        let roots = tasks
            .iter()
            .map(|t| repo_roots.entry(t.repo.clone()).or_insert_with(|| canonical(Path::new(&t.repo))).clone())
            .collect();
        let verdicts = verdicts.into_iter().map(|v| (v.task_id.clone(), v)).collect();
        let snap = Arc::new(Snapshot { tasks, roots, verdicts });
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = snap;
        Ok(())
    }

    /// The current snapshot (cheap: an `Arc`).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Tasks anchored in `rel` of the repository at (canonical) `root`.
    pub fn tasks_in(&self, root: &Path, rel: &str) -> Vec<Task> {
        let snap = self.snapshot();
        snap.tasks
            .iter()
            .zip(&snap.roots)
            .filter(|(t, r)| r.as_path() == root && t.site.file == rel)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// A task by id (or unique prefix) from the snapshot.
    pub fn task(&self, id: &str) -> Option<Task> {
        let snap = self.snapshot();
        let mut found = snap.tasks.iter().filter(|t| t.id == id || (!id.is_empty() && t.id.starts_with(id)));
        match (found.next(), found.next()) {
            (Some(t), None) => Some(t.clone()),
            _ => None,
        }
    }

    /// Set a task's status in the store and the snapshot. Blocking.
    pub fn set_status(&self, id: &str, status: TaskStatus) -> anyhow::Result<Task> {
        let task = self.with_store(|s| {
            let mut task = s.task(id)?.ok_or_else(|| anyhow::anyhow!("no task '{id}'"))?;
            task.status = status;
            s.update_task(&task)?;
            Ok(task)
        })?;
        self.reload()?;
        Ok(task)
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
        let added = self.with_store(|s| Ok(s.insert_tasks(&generated)?))?;
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
        let cached = self.blobs.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        let text = match cached {
            Some(t) => t,
            None => {
                let t = blob_at(root, &task.base_commit, &task.site.file).ok().map(Arc::new);
                self.blobs.lock().unwrap_or_else(|p| p.into_inner()).insert(key, t.clone());
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
    /// Keep a verdict and the task it updates. Blocking.
    pub fn record_verdict(&self, task: &Task, verdict: &Verdict) -> anyhow::Result<()> {
        self.with_store(|s| Ok(s.record_verdict(task, verdict)?))
    }
}

/// The text of a file at a commit.
pub fn blob_at(root: &Path, commit: &str, rel: &str) -> anyhow::Result<String> {
    let repo = crate::diff::git::Repo::open(root)?;
    let bytes =
        repo.blob_at(commit, rel)?.ok_or_else(|| anyhow::anyhow!("{}: {rel} is not in {commit}", root.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
