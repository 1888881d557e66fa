//! `socratic serve`: grading as an HTTP service (see [`crate::serve`]).
//!
//! In: the home (its store's valid tasks and environments), `--addr`, `--workers` (default: the
//! cores), `--queue`, `--max-body`, `--cache`. Out: the service until SIGINT / SIGTERM; one line on stdout once it listens
//! (`serving N gradable instances on http://ADDR`) and where the token is, so scripts (and
//! tests) that bind port 0 learn the port.

use super::EXIT_OK;
use crate::serve::{self, ServeConfig};
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port). Plain HTTP: anything but loopback belongs
    /// behind a TLS reverse proxy.
    #[arg(long, default_value = "127.0.0.1:8321")]
    pub addr: SocketAddr,
    /// Worker containers at most (grades running at once); by default one per core.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// Grades admitted beyond the running ones; past that, requests get 429 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,
    /// Request bodies over this many bytes get 413.
    #[arg(long, default_value_t = serve::DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Start no worker before the first request (by default the workers of the image most
    /// tasks use start at once).
    #[arg(long)]
    pub no_prewarm: bool,
    /// Verdicts kept for repeated patches (same task, image and resulting tree); 0 turns the
    /// cache off.
    #[arg(long, default_value_t = serve::cache::DEFAULT_CAPACITY)]
    pub cache: usize,
}

pub fn run(home: &Path, args: ServeArgs) -> anyhow::Result<i32> {
    let config = ServeConfig {
        addr: args.addr,
        workers: args.workers.map(usize::from).unwrap_or_else(serve::default_workers),
        queue: args.queue,
        max_body: args.max_body,
        prewarm: !args.no_prewarm,
        cache: args.cache,
    };
    super::env::runtime()?.block_on(async {
        let bound = serve::bind(home, &config).await?;
        if !bound.addr.ip().is_loopback() {
            eprintln!("warning: serving plain HTTP on {}: put a TLS reverse proxy in front of it", bound.addr);
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "serving {} gradable instances on http://{}", bound.instances, bound.addr)?;
        writeln!(out, "bearer token in {}", serve::token::token_path(home).display())?;
        out.flush()?;
        drop(out);
        serve::run(bound, stop_signal()).await
    })?;
    Ok(EXIT_OK)
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
