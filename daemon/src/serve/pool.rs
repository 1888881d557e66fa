//! Warm workers kept per environment image, and the bounded queue in front of them.
//!
//! In: admissions (how many grades a request brings), then grades: a [`Gradable`] task and the
//! combined patch. Out: an `EvalReport` made by `engine::grade::grade` (the function `solve`
//! grades with) in a warm worker of the task's environment image; or [`Busy`] when admitting
//! would pass `workers + queue` grades in the service (answered 429 with Retry-After: the
//! backlog never grows past that). At most `workers` containers live at once: a grade takes one
//! of `workers` slots, then an idle worker of its image, else starts one (removing an idle worker
//! of another image first when the limit is reached). A worker whose container dies under a grade
//! is removed, a new one started, and the grade run once more.

use super::catalog::Gradable;
use super::metrics::Metrics;
use crate::engine::grade;
use crate::model::{Environment, EvalReport};
use crate::sandbox::worker::Worker;
use crate::sandbox::{Engine, Limits};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// The service is full: try again after `retry_after_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub retry_after_s: u64,
}

pub struct Pool {
    engine: Engine,
    workers: usize,
    capacity: usize,
    slots: Semaphore,
    admitted: AtomicUsize,
    live: AtomicUsize,
    idle: Mutex<Vec<(String, Worker)>>,
    metrics: Arc<Metrics>,
}

/// Grades admitted into the service; dropping it gives their places back.
pub struct Admission<'a> {
    pool: &'a Pool,
    n: usize,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.pool.admitted.fetch_sub(self.n, Relaxed);
    }
}

impl Pool {
    /// A pool of at most `workers` containers and `workers + queue` admitted grades.
    pub fn new(engine: Engine, workers: usize, queue: usize, metrics: Arc<Metrics>) -> Pool {
        let workers = workers.max(1);
        Pool {
            engine,
            workers,
            capacity: workers + queue,
            slots: Semaphore::new(workers),
            admitted: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            metrics,
        }
    }

    /// Grades the service holds at most (running + waiting).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Admit `n` grades at once, or none of them.
    pub fn admit(&self, n: usize) -> Result<Admission<'_>, Busy> {
        let admitted =
            self.admitted.fetch_update(Relaxed, Relaxed, |now| (now + n <= self.capacity).then_some(now + n));
        match admitted {
            Ok(_) => Ok(Admission { pool: self, n }),
            Err(now) => {
                let mean = self.metrics.mean_latency().unwrap_or(1.0);
                let waves = (now + n).div_ceil(self.workers) as f64;
                Err(Busy { retry_after_s: (mean * waves).ceil().max(1.0) as u64 })
            }
        }
    }

    /// Grade `patch` (the Solver's, against the bugged tree; `combined` from the clean base) in a
    /// warm worker of the task's image. Needs an admission for it.
    pub async fn grade(
        &self,
        _admitted: &Admission<'_>,
        g: &Gradable,
        patch: &str,
        combined: &str,
    ) -> anyhow::Result<EvalReport> {
        self.metrics.queue_depth.fetch_add(1, Relaxed);
        let slot = self.slots.acquire().await;
        self.metrics.queue_depth.fetch_sub(1, Relaxed);
        let _slot = slot.map_err(|_| anyhow::anyhow!("the service is shutting down"))?;
        self.metrics.running.fetch_add(1, Relaxed);
        let result = self.grade_in_slot(g, patch, combined).await;
        self.metrics.running.fetch_sub(1, Relaxed);
        result
    }

    async fn grade_in_slot(&self, g: &Gradable, patch: &str, combined: &str) -> anyhow::Result<EvalReport> {
        let origin = format!("serve:{}", g.instance_id);
        let mut worker = self.take(&g.env).await?;
        let first = match grade::grade(&mut worker, &g.env, &g.task, patch, combined, &origin).await {
            Ok((report, _)) => {
                self.put_back(&g.env.image, worker);
                return Ok(report);
            }
            Err(e) => e,
        };
        tracing::warn!("worker lost grading {}: {first:#}; starting another", g.instance_id);
        self.retire(worker).await;
        self.metrics.worker_restarts.fetch_add(1, Relaxed);
        let mut worker = self.start(&g.env).await?;
        match grade::grade(&mut worker, &g.env, &g.task, patch, combined, &origin).await {
            Ok((report, _)) => {
                self.put_back(&g.env.image, worker);
                Ok(report)
            }
            Err(second) => {
                self.retire(worker).await;
                Err(anyhow::anyhow!(
                    "grading {} failed twice (the worker died): {first:#}; then: {second:#}",
                    g.instance_id
                ))
            }
        }
    }

    /// Start up to `n` workers of `env`'s image ahead of the first request (each holds a slot
    /// while it starts, so the limit holds).
    pub async fn prewarm(&self, env: &Environment, n: usize) -> anyhow::Result<()> {
        let mut started = Vec::new();
        for _ in 0..n.min(self.workers) {
            let _slot = self.slots.acquire().await?;
            started.push(self.start(env).await?);
        }
        for w in started {
            self.put_back(&env.image, w);
        }
        Ok(())
    }

    /// An idle worker of the environment's image, or a new one.
    async fn take(&self, env: &Environment) -> anyhow::Result<Worker> {
        let (mine, evict) = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            match idle.iter().rposition(|(image, _)| *image == env.image) {
                Some(i) => (Some(idle.remove(i).1), None),
                // Holding a slot, we are not counted among the busy: at the limit some worker idles.
                None if self.live.load(Relaxed) >= self.workers && !idle.is_empty() => (None, Some(idle.remove(0).1)),
                None => (None, None),
            }
        };
        if let Some(w) = mine {
            return Ok(w);
        }
        if let Some(w) = evict {
            self.retire(w).await;
        }
        self.start(env).await
    }

    async fn start(&self, env: &Environment) -> anyhow::Result<Worker> {
        let worker = Worker::start(&self.engine, &env.image, &Limits::default(), &env.run_env())
            .await
            .map_err(|e| anyhow::anyhow!("starting a worker of {}: {e}", env.image))?;
        self.live.fetch_add(1, Relaxed);
        self.metrics.workers_started.fetch_add(1, Relaxed);
        self.metrics.workers.store(self.live.load(Relaxed) as u64, Relaxed);
        Ok(worker)
    }

    fn put_back(&self, image: &str, worker: Worker) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push((image.to_string(), worker));
    }

    async fn retire(&self, worker: Worker) {
        if let Err(e) = worker.shutdown().await {
            tracing::warn!("removing a worker container: {e}");
        }
        self.live.fetch_sub(1, Relaxed);
        self.metrics.workers.store(self.live.load(Relaxed) as u64, Relaxed);
    }

    /// Remove every idle worker (at shutdown, after the last grade).
    pub async fn shutdown(&self) {
        let idle: Vec<(String, Worker)> = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for (_, w) in idle {
            self.retire(w).await;
        }
    }
}
