//! `socratic lsp`: what editors launch. Connects stdio to the daemon of the home (starting it
//! when none answers), or with `--standalone` serves LSP in-process on stdio. When the daemon
//! goes away the editor's open requests get an error, the command ends (code 1) and a daemon it
//! started is reaped.

use crate::lsp::proxy::{proxy, ProxyEnd};
use crate::lsp::{daemon, state::Shared};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct LspArgs {
    /// Serve in this process instead of through the daemon.
    #[arg(long)]
    pub standalone: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Start `socratic --home HOME daemon` detached (its own process group, output to
/// `HOME/daemon.log`); a thread waits for it, so it is reaped whenever it exits.
pub fn spawn_daemon(home: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    crate::store::owner_only::create_dir(home)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::store::owner_only::FILE_MODE)
        .open(home.join("daemon.log"))?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("--home")
        .arg(home)
        .arg("daemon")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

async fn connect_or_start(home: &Path) -> anyhow::Result<tokio::net::UnixStream> {
    if let Some((s, _)) = daemon::connect(home).await {
        return Ok(s);
    }
    spawn_daemon(home)?;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some((s, _)) = daemon::connect(home).await {
            return Ok(s);
        }
    }
    anyhow::bail!("the daemon did not start (see {})", home.join("daemon.log").display())
}

pub fn run(home: &Path, args: LspArgs) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let ended = rt.block_on(async {
        if args.standalone {
            let shared = Shared::open(home)?;
            crate::lsp::serve(tokio::io::stdin(), tokio::io::stdout(), shared).await;
            return Ok(ProxyEnd::EditorDone);
        }
        let stream = connect_or_start(home).await?;
        let (read, write) = stream.into_split();
        anyhow::Ok(proxy(tokio::io::stdin(), tokio::io::stdout(), read, write).await)
    });
    // a read of stdin may still be blocked in the runtime's thread: do not wait for it
    rt.shutdown_background();
    match ended? {
        ProxyEnd::EditorDone => Ok(super::EXIT_OK),
        ProxyEnd::DaemonGone { unanswered } => {
            eprintln!(
                "error: the daemon closed the connection ({unanswered} requests answered with an error; see {})",
                home.join("daemon.log").display()
            );
            Ok(super::EXIT_FAILED)
        }
    }
}
