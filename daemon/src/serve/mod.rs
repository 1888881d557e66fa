//! `socratic serve`: grading as a service for RL trainers.
//!
//! In: HTTP requests on a TCP address (loopback by default; TLS is a reverse proxy's job), each
//! carrying the home's bearer token (`token.rs`): a Solver's patch for an instance (`POST
//! /v1/grade {instance_id, patch}`, or a list of them on `/v1/grade/batch`), listings (`GET
//! /v1/tasks?round=N`), `/healthz`, `/metrics`. Out: per patch the SWE-bench verdict that `solve`
//! gives — FAIL_TO_PASS and the whole PASS_TO_PASS run in a warm worker of the task's
//! environment image by `engine::grade::grade`, the patch first put on the task's bugged tree
//! (`combine.rs`) — as `{resolved, fail_to_pass, pass_to_pass, reward, duration_ms}`; 4xx
//! answers naming the field at fault; 429 with Retry-After when `workers + queue` grades are
//! already in the service; Prometheus counters.
//!
//! - `cache.rs`: verdicts kept by (task, image, sha256 of the combined patch): a repeated patch
//!   is answered without a worker (`cached: true`, counted in `/metrics`).
//! - `catalog.rs`: instance id → the task, its tests and environment (store reads, cached).
//! - `combine.rs`: the Solver's patch on the bugged tree → the patch from the clean base (pure).
//! - `pool.rs`: the bounded queue and the warm workers per image (replaced when they die).
//! - `api.rs`: the endpoints; `http.rs`: hyper glue; `metrics.rs`; `token.rs`.

pub mod api;
pub mod cache;
pub mod catalog;
pub mod combine;
pub mod http;
pub mod metrics;
pub mod pool;
pub mod token;

use catalog::Catalog;
use metrics::Metrics;
use pool::Pool;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Grades at once by default: one worker per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(2)
}

/// Default body limit: 8 MiB (a batch of large patches).
pub const DEFAULT_MAX_BODY: usize = 8 << 20;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// Worker containers at most (grades running at once).
    pub workers: usize,
    /// Grades admitted beyond those running; more get 429.
    pub queue: usize,
    /// Request bodies over this many bytes get 413.
    pub max_body: usize,
    /// Start workers for the image most gradable tasks use before the first request.
    pub prewarm: bool,
    /// Verdicts kept for repeated patches (0: none).
    pub cache: usize,
}

/// Everything a request handler needs.
pub struct Service {
    pub catalog: Catalog,
    pub pool: Pool,
    pub cache: cache::VerdictCache,
    pub metrics: Arc<Metrics>,
    pub token: String,
    pub max_body: usize,
}

/// A bound, ready service.
pub struct Bound {
    pub listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
    pub service: Arc<Service>,
    /// Gradable instances when it started.
    pub instances: usize,
}

/// Open the store, connect the Docker engine, read (or make) the token and bind the address.
pub async fn bind(home: &Path, config: &ServeConfig) -> anyhow::Result<Bound> {
    let token = token::load_or_create(home)?;
    let catalog = Catalog::open(home)?;
    let owner = catalog.with_store(|s| crate::sandbox::owner_of_home(s.home()));
    let engine = crate::sandbox::Engine::connect(&owner).await?;
    let metrics = Arc::new(Metrics::default());
    let pool = Pool::new(engine, config.workers, config.queue, metrics.clone());
    let listed = catalog.list(None)?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    let cache = cache::VerdictCache::new(config.cache);
    let service = Arc::new(Service { catalog, pool, cache, metrics, token, max_body: config.max_body });
    if config.prewarm {
        if let Some(image) = most_common_image(&listed) {
            let task = listed.iter().find(|t| t.image == image).map(|t| t.task_id.clone());
            let service = service.clone();
            tokio::spawn(async move {
                let Some(g) = task.and_then(|id| service.catalog.lookup(&id).ok()) else { return };
                if let Err(e) = service.pool.prewarm(&g.env, usize::MAX).await {
                    tracing::warn!("prewarming workers of {image}: {e:#}");
                }
            });
        }
    }
    Ok(Bound { listener, addr, service, instances: listed.len() })
}

fn most_common_image(listed: &[catalog::Listed]) -> Option<String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for t in listed {
        *counts.entry(&t.image).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(image, _)| image.to_string())
}

/// Serve until `shutdown` resolves, then remove the idle workers.
pub async fn run(bound: Bound, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let service = bound.service.clone();
    http::serve(bound.listener, bound.service, shutdown).await?;
    service.pool.shutdown().await;
    Ok(())
}
