//! The service's bearer token: generated once into the home, readable by its owner only.
//!
//! In: a home folder; the `Authorization` header of a request. Out: the token (created as 64
//! hex characters from the thread's CSPRNG in `<home>/serve.token`, mode 0600, the first time),
//! and whether a header carries it (compared in constant time).

use crate::store::owner_only;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The token file's name inside the home.
pub const TOKEN_FILE: &str = "serve.token";

/// Where the token of `home` lives.
pub fn token_path(home: &Path) -> PathBuf {
    home.join(TOKEN_FILE)
}

/// The home's token, generated and written (mode 0600) when the file is missing or empty.
pub fn load_or_create(home: &Path) -> std::io::Result<String> {
    owner_only::create_dir(home)?;
    let path = token_path(home);
    let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut file = owner_only::open_file(&path).map_err(named)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(named)?;
    let token = text.trim();
    if !token.is_empty() {
        return Ok(token.to_string());
    }
    let token = generate();
    file.rewind().map_err(named)?;
    file.write_all(format!("{token}\n").as_bytes()).map_err(named)?;
    file.sync_all().map_err(named)?;
    Ok(token)
}

/// 32 random bytes as hex.
fn generate() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Does an `Authorization` header value carry `token` (`Bearer <token>`)? Constant time in the
/// token's bytes, so response times say nothing about a guess.
pub fn authorizes(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_token_is_made_once_owner_only_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let token = load_or_create(&home).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(std::fs::metadata(token_path(&home)).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&home).unwrap(), token, "the same token on the next start");
        assert!(authorizes(Some(&format!("Bearer {token}")), &token));
        assert!(!authorizes(Some(&format!("Bearer {}x", token)), &token));
        assert!(!authorizes(Some(&format!("Basic {token}")), &token));
        assert!(!authorizes(None, &token));
        assert!(!authorizes(Some("Bearer "), &token));
    }
}
