//! `socratic daemon [status|stop]`: run the daemon of the home in the foreground, or ask the
//! running one.

use crate::lsp::daemon::{self, DaemonConfig};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Import new trace files appearing under this folder (repeatable).
    #[arg(long = "watch-traces", value_name = "DIR")]
    pub watch_traces: Vec<PathBuf>,
    #[command(subcommand)]
    pub action: Option<DaemonAction>,
}

#[derive(Debug, clap::Subcommand)]
pub enum DaemonAction {
    /// Run in the foreground (the default).
    Run,
    /// Whether a daemon runs on this home.
    Status,
    /// Stop the running daemon.
    Stop,
}

pub fn run(home: &Path, args: DaemonArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match args.action.unwrap_or(DaemonAction::Run) {
        DaemonAction::Run => {
            rt.block_on(daemon::run(DaemonConfig { home: home.to_path_buf(), watch_traces: args.watch_traces }))?;
            Ok(super::EXIT_OK)
        }
        DaemonAction::Status => match rt.block_on(daemon::control_via(home, "status")) {
            Some((answer, socket)) => {
                println!("{answer} socket={}", socket.display());
                Ok(super::EXIT_OK)
            }
            None => {
                println!("not running");
                Ok(super::EXIT_FAILED)
            }
        },
        DaemonAction::Stop => match rt.block_on(daemon::control(home, "stop")) {
            Some(answer) => {
                println!("{answer}");
                Ok(super::EXIT_OK)
            }
            None => {
                println!("not running");
                Ok(super::EXIT_OK)
            }
        },
    }
}
