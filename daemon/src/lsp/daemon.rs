//! The daemon: one process per home that owns the store and serves many editors.
//!
//! In: a home folder, trace folders to watch. Out: a Unix socket (mode 0600 from its bind on,
//! accepting only connections from our own uid) where every connection is an LSP session on shared state (an accept in one editor re-publishes in the
//! others); Python files changed on disk re-checked against their tasks (a task whose site text
//! is gone is marked stale); new trace files imported. A lock file keeps a second daemon on
//! the same home from starting; `<home>/daemon.socket-path` records where the socket is, for
//! clients whose `XDG_RUNTIME_DIR` differs; SIGTERM / SIGINT / `daemon stop` shut it down cleanly.
//!
//! A connection whose first byte is `!` is a control line (`!status`, `!stop`) instead of LSP.

use super::document::Document;
use super::state::{canonical, Change, Shared};
use crate::model::{sha256_hex, AnchorState, TaskStage};
use crate::store::owner_only;
use fs2::FileExt;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Where the daemon of `home` listens: `$XDG_RUNTIME_DIR/socratic/<hash of home>.sock`, else
/// `<home>/daemon.sock`.
pub fn socket_path(home: &Path) -> PathBuf {
    let home = canonical(home);
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let hash = sha256_hex(home.to_string_lossy().as_bytes());
            PathBuf::from(dir).join("socratic").join(format!("{}.sock", &hash[..16]))
        }
        None => home.join("daemon.sock"),
    }
}

/// The file in the home where a running daemon records the path of its socket (mode 0600,
/// removed on a clean exit): a shell whose `XDG_RUNTIME_DIR` differs still finds it.
pub fn recorded_socket_path(home: &Path) -> PathBuf {
    home.join("daemon.socket-path")
}

/// Where to look for the daemon of `home`: the path it recorded, then the computed one.
pub fn socket_candidates(home: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Ok(recorded) = std::fs::read_to_string(recorded_socket_path(home)) {
        let recorded = recorded.trim_end_matches('\n');
        if !recorded.is_empty() {
            paths.push(PathBuf::from(recorded));
        }
    }
    let computed = socket_path(home);
    if !paths.contains(&computed) {
        paths.push(computed);
    }
    paths
}

/// A connection to the running daemon of `home` and the socket it came through, trying
/// [`socket_candidates`] in order; `None` when none answers.
pub async fn connect(home: &Path) -> Option<(UnixStream, PathBuf)> {
    for path in socket_candidates(home) {
        if let Ok(stream) = UnixStream::connect(&path).await {
            return Some((stream, path));
        }
    }
    None
}

/// The lock file holding the daemon's pid.
pub fn lock_path(home: &Path) -> PathBuf {
    home.join("daemon.lock")
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct DaemonConfig {
    pub home: PathBuf,
    pub watch_traces: Vec<PathBuf>,
}

/// Send a control line to a running daemon; its one-line answer, or `None` when none answers.
pub async fn control(home: &Path, line: &str) -> Option<String> {
    control_via(home, line).await.map(|(answer, _)| answer)
}

/// [`control`], with the socket that answered.
pub async fn control_via(home: &Path, line: &str) -> Option<(String, PathBuf)> {
    let (mut stream, socket) = connect(home).await?;
    stream.write_all(format!("!{line}\n").as_bytes()).await.ok()?;
    let mut answer = String::new();
    let mut reader = BufReader::new(stream);
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut answer)).await.ok()?.ok()?;
    Some((answer.trim().to_string(), socket))
}

/// Run the daemon until SIGTERM, SIGINT or `!stop`.
pub async fn run(cfg: DaemonConfig) -> anyhow::Result<()> {
    owner_only::create_dir(&cfg.home)?;
    let lock = owner_only::open_file(&lock_path(&cfg.home))?;
    if lock.try_lock_exclusive().is_err() {
        let pid = std::fs::read_to_string(lock_path(&cfg.home)).unwrap_or_default();
        anyhow::bail!("a daemon is already running on {} (pid {})", cfg.home.display(), pid.trim());
    }
    lock.set_len(0)?;
    (&lock).write_all(std::process::id().to_string().as_bytes())?;

    let socket = socket_path(&cfg.home);
    if let Some(dir) = socket.parent() {
        owner_only::create_dir(dir)?;
        use std::os::unix::fs::PermissionsExt;
        if dir != cfg.home {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(owner_only::DIR_MODE))?;
        }
    }
    let _ = std::fs::remove_file(&socket); // we hold the lock: any socket file left is stale
    let listener = bind_owner_only(&socket)?;
    let record = recorded_socket_path(&cfg.home);
    let _ = std::fs::remove_file(&record);
    (&owner_only::open_file(&record)?).write_all(socket.to_string_lossy().as_bytes())?;
    let shared = Shared::open(&cfg.home)?;
    tracing::info!("daemon {} listening on {}", std::process::id(), socket.display());

    let (watch_tx, watch_rx) = tokio::sync::mpsc::unbounded_channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(move |ev| {
        let _ = watch_tx.send(ev);
    })?;
    use notify::Watcher;
    let trace_dirs: Vec<PathBuf> = cfg.watch_traces.iter().map(|d| canonical(d)).collect();
    for dir in &trace_dirs {
        watcher.watch(dir, notify::RecursiveMode::Recursive)?;
    }
    let watcher = Arc::new(std::sync::Mutex::new(watcher));
    tokio::spawn(watch_loop(shared.clone(), watch_rx, trace_dirs));
    tokio::spawn(watch_roots(shared.clone(), watcher.clone()));

    let sessions = Arc::new(AtomicUsize::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if !peer_is_us(&stream) => drop(stream),
                Ok((stream, _)) => {
                    let (shared, sessions, stop_tx) = (shared.clone(), sessions.clone(), stop_tx.clone());
                    tokio::spawn(async move { connection(stream, shared, sessions, stop_tx).await });
                }
                Err(e) => tracing::warn!("accept: {e}"),
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = stop_rx.recv() => break,
        }
    }
    tracing::info!("daemon shutting down");
    let _ = std::fs::remove_file(&record);
    let _ = std::fs::remove_file(&socket);
    let _ = lock.set_len(0);
    let _ = FileExt::unlock(&lock);
    Ok(())
}

/// Bind a Unix socket that is mode 0600 from the moment it exists: the process umask is 0177
/// during the bind (the daemon is starting: nothing else creates files then).
fn bind_owner_only(socket: &Path) -> std::io::Result<UnixListener> {
    // SAFETY: umask only swaps the process's file creation mask.
    let previous = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(socket);
    // SAFETY: as above, restoring the mask.
    unsafe { libc::umask(previous) };
    let listener = bound?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(owner_only::FILE_MODE))?;
    Ok(listener)
}

/// Whether a peer may use the daemon: only the uid the daemon runs as.
pub fn peer_allowed(our_uid: u32, peer_uid: u32) -> bool {
    our_uid == peer_uid
}

/// Whether a connection comes from our own uid (`SO_PEERCRED`); refused ones are logged.
fn peer_is_us(stream: &UnixStream) -> bool {
    // SAFETY: geteuid has no preconditions.
    let ours = unsafe { libc::geteuid() };
    match stream.peer_cred() {
        Ok(cred) if peer_allowed(ours, cred.uid()) => true,
        Ok(cred) => {
            tracing::warn!("refused a connection from uid {} (pid {:?})", cred.uid(), cred.pid());
            false
        }
        Err(e) => {
            tracing::warn!("refused a connection without peer credentials: {e}");
            false
        }
    }
}

async fn connection(
    mut stream: UnixStream,
    shared: Arc<Shared>,
    sessions: Arc<AtomicUsize>,
    stop: tokio::sync::mpsc::Sender<()>,
) {
    let mut first = [0u8; 1];
    if !matches!(stream.read(&mut first).await, Ok(1)) {
        return;
    }
    if first[0] == b'!' {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let _ = BufReader::new(read).read_line(&mut line).await;
        let answer = match line.trim() {
            "status" => format!(
                "running pid={} sessions={} tasks={}",
                std::process::id(),
                sessions.load(Ordering::Relaxed),
                shared.task_count().unwrap_or(0)
            ),
            "stop" => {
                let _ = stop.try_send(());
                "stopping".to_string()
            }
            other => format!("unknown control '{other}'"),
        };
        let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
        return;
    }
    sessions.fetch_add(1, Ordering::Relaxed);
    let (read, write) = stream.into_split();
    let input = std::io::Cursor::new(first.to_vec()).chain(read);
    super::serve(input, write, shared).await;
    sessions.fetch_sub(1, Ordering::Relaxed);
}

/// Watch the repository roots the tasks live in (added as tasks appear).
async fn watch_roots(shared: Arc<Shared>, watcher: Arc<std::sync::Mutex<notify::RecommendedWatcher>>) {
    use notify::Watcher;
    let mut rx = shared.subscribe();
    let mut watched: HashSet<PathBuf> = HashSet::new();
    loop {
        let roots: HashSet<PathBuf> = shared.roots().into_iter().collect();
        for root in roots.difference(&watched.clone()) {
            if root.is_dir() {
                let r = watcher.lock().unwrap_or_else(|p| p.into_inner()).watch(root, notify::RecursiveMode::Recursive);
                match r {
                    Ok(()) => {
                        watched.insert(root.clone());
                    }
                    Err(e) => tracing::warn!("watch {}: {e}", root.display()),
                }
            }
        }
        match rx.recv().await {
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            _ => continue,
        }
    }
}

/// Debounce file events, then import trace files and re-check changed Python files.
async fn watch_loop(
    shared: Arc<Shared>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    trace_dirs: Vec<PathBuf>,
) {
    while let Some(first) = rx.recv().await {
        let mut paths: HashSet<PathBuf> = HashSet::new();
        let mut add = |ev: notify::Result<notify::Event>| {
            if let Ok(ev) = ev {
                if !matches!(ev.kind, notify::EventKind::Access(_)) {
                    paths.extend(ev.paths);
                }
            }
        };
        add(first);
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            add(ev);
        }
        let (shared2, dirs) = (shared.clone(), trace_dirs.clone());
        let changed = tokio::task::spawn_blocking(move || handle_paths(&shared2, &dirs, paths)).await.unwrap_or(false);
        if changed {
            shared.notify(Change::Tasks);
        }
    }
}

fn handle_paths(shared: &Shared, trace_dirs: &[PathBuf], paths: HashSet<PathBuf>) -> bool {
    let mut changed = false;
    for path in paths {
        if path.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        if trace_dirs.iter().any(|d| path.starts_with(d)) {
            if path.is_file() {
                import_trace(shared, &path);
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) == Some("py") {
            match recheck_file(shared, &path) {
                Ok(n) => changed |= n > 0,
                Err(e) => tracing::warn!("re-anchor {}: {e:#}", path.display()),
            }
            shared.notify(Change::File(path));
        }
    }
    changed
}

fn import_trace(shared: &Shared, path: &Path) {
    let result = crate::traces::read_input(path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| crate::traces::parse_file(path, &bytes).map_err(|e| e.to_string()));
    match result {
        Ok((format, records)) => match shared.insert_records(&records) {
            Ok(n) => tracing::info!("imported {} ({format}): {n} new traces", path.display()),
            Err(e) => tracing::warn!("store {}: {e:#}", path.display()),
        },
        Err(e) => tracing::warn!("import {e}"),
    }
}

/// Re-check the tasks of a Python file changed on disk: a task whose site text (at its base
/// commit) is nowhere in the new file as the same syntax node gets a stale anchor, and a stale
/// one whose site is back (a checkout back, an undo) a fresh one again. Stage and decision are
/// never touched. Returns how many anchors changed.
pub fn recheck_file(shared: &Shared, path: &Path) -> anyhow::Result<usize> {
    let path = canonical(path);
    let mut changed = Vec::new();
    for root in shared.roots() {
        let Ok(rel) = path.strip_prefix(&root) else { continue };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let file = shared.file_tasks(&root, &rel);
        let mut doc: Option<Document> = None;
        for task in file.tasks.iter().filter(|t| !matches!(t.stage, TaskStage::Invalid(_))) {
            if doc.is_none() {
                let text = std::fs::read_to_string(&path).unwrap_or_default(); // deleted: every site is gone
                let opened = Document::open(&rel, 0, text, &[], &|_| None, &shared.queries);
                doc = Some(opened.map_err(|e| anyhow::anyhow!(e))?);
            }
            let Some(d) = &doc else { continue };
            let Some(site_text) = shared.site_text(&root, task) else { continue };
            let present = super::document::relocate(&d.index, &task.site, &site_text).is_some();
            let anchor = if present { AnchorState::Fresh } else { AnchorState::Stale };
            if anchor != task.anchor {
                changed.push((task.id.clone(), anchor));
            }
        }
    }
    for (id, anchor) in &changed {
        shared.set_anchor(id, *anchor)?;
    }
    Ok(changed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_uid_may_connect() {
        assert!(peer_allowed(1000, 1000));
        assert!(!peer_allowed(1000, 1001));
        assert!(!peer_allowed(1000, 0), "not even root: it has its own daemon");
        assert!(!peer_allowed(0, 1000));
    }

    #[tokio::test]
    async fn our_own_connection_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("t.sock");
        let listener = bind_owner_only(&socket).expect("bind");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&socket).expect("socket").permissions().mode() & 0o777, 0o600);
        let _client = UnixStream::connect(&socket).await.expect("connect");
        let (stream, _) = listener.accept().await.expect("accept");
        assert!(peer_is_us(&stream));
    }
}
