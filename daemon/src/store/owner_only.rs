//! Files and folders only their owner can open.
//!
//! In: a path under the home (or the socket's runtime folder). Out: the folder created with mode
//! 0700 (when it does not exist yet; a folder the user made keeps its mode), or the file opened
//! with mode 0600 (tightened to 0600 when it was wider). Another local user can then neither
//! read the store nor hold a lock the daemon needs.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the folders socratic creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files socratic creates (store, lock files).
pub const FILE_MODE: u32 = 0o600;

/// Create `dir` (and missing parents) with mode 0700; an existing folder is left as it is.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Open `path` for reading and writing, creating it with mode 0600; an existing file readable
/// or writable by others is narrowed to 0600.
pub fn open_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).mode(FILE_MODE).open(path)?;
    narrow(&file)?;
    Ok(file)
}

/// Narrow an open file to mode 0600 when group or others have any access.
fn narrow(file: &File) -> io::Result<()> {
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode & FILE_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_new_home_and_its_files_are_owner_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("a/home");
        create_dir(&home).expect("create");
        assert_eq!(mode(&home), 0o700);
        open_file(&home.join("x.lock")).expect("open");
        assert_eq!(mode(&home.join("x.lock")), 0o600);
    }

    #[test]
    fn a_wide_file_is_narrowed_and_a_users_folder_kept() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        create_dir(tmp.path()).expect("create");
        assert_eq!(mode(tmp.path()), 0o755);
        let path = tmp.path().join("socratic.db");
        std::fs::write(&path, b"").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        open_file(&path).expect("open");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn store_open_makes_the_home_the_file_and_its_wal_owner_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let home = tmp.path().join("home");
        let store = crate::store::Store::open(&home).expect("open");
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&home.join("socratic.db")), 0o600);
        assert_eq!(mode(&home.join("socratic.db-wal")), 0o600);
        drop(store);
        // a store left 0644 by an older version is narrowed on open
        std::fs::set_permissions(home.join("socratic.db"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        crate::store::Store::open(&home).expect("reopen");
        assert_eq!(mode(&home.join("socratic.db")), 0o600);
    }
}
