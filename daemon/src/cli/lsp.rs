//! `socratic lsp`: what editors launch. Connects stdio to the daemon of the home (starting it
//! when none answers), or with `--standalone` serves LSP in-process on stdio.

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
/// `HOME/daemon.log`).
pub fn spawn_daemon(home: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(home)?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(home.join("daemon.log"))?;
    std::process::Command::new(std::env::current_exe()?)
        .arg("--home")
        .arg(home)
        .arg("daemon")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()?;
    Ok(())
}

async fn connect_or_start(home: &Path) -> anyhow::Result<tokio::net::UnixStream> {
    let socket = daemon::socket_path(home);
    if let Ok(s) = tokio::net::UnixStream::connect(&socket).await {
        return Ok(s);
    }
    spawn_daemon(home)?;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(s) = tokio::net::UnixStream::connect(&socket).await {
            return Ok(s);
        }
    }
    anyhow::bail!("the daemon did not start (see {})", home.join("daemon.log").display())
}

pub fn run(home: &Path, args: LspArgs) -> anyhow::Result<i32> {
    let rt = runtime()?;
    rt.block_on(async {
        if args.standalone {
            let shared = Shared::open(home)?;
            crate::lsp::serve(tokio::io::stdin(), tokio::io::stdout(), shared).await;
            return Ok(super::EXIT_OK);
        }
        let stream = connect_or_start(home).await?;
        let (mut read, mut write) = stream.into_split();
        let to_daemon = async {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut write).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut write).await;
        };
        let from_daemon = async {
            let mut out = tokio::io::stdout();
            let _ = tokio::io::copy(&mut read, &mut out).await;
        };
        // the session ends when the daemon closes it (after `exit`) or the editor closes stdin
        tokio::select! {
            _ = from_daemon => {},
            _ = async { to_daemon.await; std::future::pending::<()>().await } => {},
        }
        Ok(super::EXIT_OK)
    })
}
