//! What the service can grade: valid tasks with a stored environment, found by instance id.
//!
//! In: the store, an instance id as exports write it (`<repository folder>.<task id>`) or a
//! task id, a round number for listings. Out: a [`Gradable`] (the task with the whole suite as
//! PASS_TO_PASS, as `solve` grades it, and its environment), cached for the service's life
//! (task ids are content hashes, so a task never changes under its id), or why the id cannot be
//! graded; listings of gradable instances.

use crate::engine::grade::whole_suite;
use crate::export::{self, Selection};
use crate::model::{Environment, Task};
use crate::store::Store;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A task ready to grade.
#[derive(Debug)]
pub struct Gradable {
    pub instance_id: String,
    /// FAIL_TO_PASS from the verdict, PASS_TO_PASS the environment's whole passing suite minus it.
    pub task: Task,
    pub env: Arc<Environment>,
}

/// Why an instance cannot be graded.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("unknown instance {0:?}")]
    Unknown(String),
    #[error("instance {id:?} cannot be graded: {why}")]
    NotGradable { id: String, why: String },
    #[error("listing the gradable tasks: {0}")]
    Listing(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// One row of `GET /v1/tasks`.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub instance_id: String,
    pub task_id: String,
    pub repo: String,
    pub base_commit: String,
    pub round: Option<u32>,
    pub image: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass_count: usize,
    pub problem_statement: String,
}

pub struct Catalog {
    store: Mutex<Store>,
    cache: Mutex<HashMap<String, Arc<Gradable>>>,
    envs: Mutex<HashMap<(String, String), Arc<Environment>>>,
}

impl Catalog {
    pub fn open(home: &Path) -> anyhow::Result<Catalog> {
        Ok(Catalog { store: Mutex::new(Store::open(home)?), cache: Default::default(), envs: Default::default() })
    }

    /// The store, for the few callers that read it directly (the engine connection).
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&store)
    }

    /// The gradable task an instance id (or a full task id) names.
    pub fn lookup(&self, id: &str) -> Result<Arc<Gradable>, LookupError> {
        if let Some(hit) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(hit.clone());
        }
        let gradable = Arc::new(self.load(id)?);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), gradable.clone());
        Ok(gradable)
    }

    fn load(&self, id: &str) -> Result<Gradable, LookupError> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let task = find_task(&store, id)?;
        let verdict = store.verdict(&task.id)?;
        let task = export::with_tests(task, verdict.as_ref())
            .map_err(|s| LookupError::NotGradable { id: id.to_string(), why: s.reason })?;
        let env = self.environment(&store, &task)?.ok_or_else(|| LookupError::NotGradable {
            id: id.to_string(),
            why: format!("no environment is stored for {} at {}", task.repo, task.base_commit),
        })?;
        Ok(Gradable { instance_id: export::instance_id_of(&task), task: whole_suite(&task, &env), env })
    }

    fn environment(&self, store: &Store, task: &Task) -> Result<Option<Arc<Environment>>, LookupError> {
        let key = (task.repo.clone(), task.base_commit.clone());
        if let Some(env) = self.envs.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(Some(env.clone()));
        }
        let Some(env) = store.environment(&task.repo, &task.base_commit)? else { return Ok(None) };
        let env = Arc::new(env);
        self.envs.lock().unwrap_or_else(|p| p.into_inner()).insert(key, env.clone());
        Ok(Some(env))
    }

    /// Every gradable instance (of round `round`, if given), oldest first.
    pub fn list(&self, round: Option<u32>) -> Result<Vec<Listed>, LookupError> {
        let selected = {
            let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
            match export::select(&store, &Selection { round, valid: true }) {
                Ok(s) => s.tasks,
                Err(export::ExportError::Nothing(_)) => Vec::new(),
                Err(export::ExportError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(LookupError::Listing(e.to_string())),
            }
        };
        let mut out = Vec::new();
        for task in selected {
            let Ok(g) = self.lookup(&task.id) else { continue };
            out.push(Listed {
                instance_id: g.instance_id.clone(),
                task_id: g.task.id.clone(),
                repo: g.task.repo.clone(),
                base_commit: g.task.base_commit.clone(),
                round: g.task.round,
                image: g.env.image.clone(),
                fail_to_pass: g.task.fail_to_pass.clone(),
                pass_to_pass_count: g.task.pass_to_pass.len(),
                problem_statement: g.task.problem_statement.clone(),
            });
        }
        Ok(out)
    }
}

/// The task an id names: a full task id, or an instance id whose folder part is the task's.
fn find_task(store: &Store, id: &str) -> Result<Task, LookupError> {
    let unknown = || LookupError::Unknown(id.to_string());
    if let Some(task) = store.task(id)?.filter(|t| t.id == id) {
        return Ok(task);
    }
    let (_, task_id) = id.rsplit_once('.').ok_or_else(unknown)?;
    match store.task(task_id)?.filter(|t| t.id == task_id) {
        Some(task) if export::instance_id_of(&task) == id => Ok(task),
        _ => Err(unknown()),
    }
}
