//! Images derived from an environment image for exports, and what is done with them afterwards.
//!
//! In: a source image, files to add, a shell script, an image name; a name to tag, push or save.
//! Out: the derived image (a container from the source with the files added and the script run,
//! network off, committed), a tag, a pushed image, or a `docker save` archive on disk. A failing
//! script is an error holding the end of its output; the container is removed either way.

use super::{docker_err, Engine, Limits, Result, SandboxError};
use futures_util::StreamExt;
use std::path::Path;

/// How to make a derived image.
#[derive(Debug, Clone)]
pub struct Derived {
    /// The image it starts from.
    pub from: String,
    /// `repo:tag` of the result.
    pub name: String,
    /// Files put into the container before the script runs: absolute path, contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// A POSIX shell script run with `sh -c` as root (network off; of the capabilities only
    /// those to write the sandbox user's files).
    pub script: String,
}

/// Build `d.name` from `d.from`: add the files, run the script, commit.
pub async fn build(engine: &Engine, d: &Derived) -> Result<()> {
    // Network off; root with a writable root file system: a commit keeps only what is written
    // there, and the scripts link paths at `/` (SWE-bench's `/testbed`).
    let limits = Limits { derivation: true, ..Limits::default() };
    let container = engine.start_container(&d.from, &limits, &[]).await?;
    let ran = async {
        for (path, bytes) in &d.files {
            container.write_file(path, bytes, 60).await?;
        }
        let out = container.exec(&["sh", "-c", &d.script], 600).await?;
        if out.exit_code != 0 {
            let text = format!("{}{}", out.stdout, out.stderr);
            let tail: String = text.chars().rev().take(1500).collect::<Vec<_>>().into_iter().rev().collect::<String>();
            return Err(SandboxError::Other(format!(
                "building {} from {}: the script exited {}: {}",
                d.name,
                d.from,
                out.exit_code,
                tail.trim()
            )));
        }
        let (repo, tag) = split_name(&d.name);
        container.commit(repo, tag).await
    }
    .await;
    let removed = container.remove().await;
    ran.and(removed)
}

/// `repo:tag` → (`repo`, `tag`); a name without a tag is `latest`. A registry port
/// (`host:5000/name`) is not a tag.
pub fn split_name(name: &str) -> (&str, &str) {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (name, "latest"),
    }
}

/// Tag the local image `src` as `dest` (`repo:tag`).
pub async fn tag(engine: &Engine, src: &str, dest: &str) -> Result<()> {
    let (repo, tag) = split_name(dest);
    let opts = bollard::query_parameters::TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
    engine.docker().tag_image(src, Some(opts)).await.map_err(docker_err(format!("tag {src} as {dest}")))
}

/// Push `name` to its registry (credentials from the engine's defaults: none are sent here,
/// so a registry that needs a login must be pushed to with `docker push` after `docker login`).
pub async fn push(engine: &Engine, name: &str) -> Result<()> {
    let (repo, tag) = split_name(name);
    let opts = bollard::query_parameters::PushImageOptionsBuilder::default().tag(tag).build();
    let mut progress = engine.docker().push_image(repo, Some(opts), None);
    while let Some(item) = progress.next().await {
        let info = item.map_err(docker_err(format!("push {name}")))?;
        if let Some(detail) = info.error_detail {
            return Err(SandboxError::Other(format!(
                "docker push {name}: {}",
                detail.message.unwrap_or_else(|| "the registry refused it".into())
            )));
        }
    }
    Ok(())
}

/// `docker save` of `name` into the file `path` (through a temporary file beside it).
pub async fn save(engine: &Engine, name: &str, path: &Path) -> Result<()> {
    use std::io::Write as _;
    let io_err = |e: std::io::Error| SandboxError::Other(format!("writing {}: {e}", path.display()));
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io_err)?;
    let mut stream = engine.docker().export_image(name);
    while let Some(chunk) = stream.next().await {
        let written = match chunk {
            Ok(bytes) => file.write_all(&bytes).map_err(io_err),
            Err(e) => Err(SandboxError::Docker { op: format!("save {name}"), source: e }),
        };
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    file.sync_all().map_err(io_err)?;
    std::fs::rename(&tmp, path).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_tag_not_the_registry_port() {
        assert_eq!(split_name("socratic-task-x:t-1"), ("socratic-task-x", "t-1"));
        assert_eq!(split_name("localhost:5000/socratic-task-x"), ("localhost:5000/socratic-task-x", "latest"));
        assert_eq!(split_name("localhost:5000/a/b:t-1"), ("localhost:5000/a/b", "t-1"));
        assert_eq!(split_name("plain"), ("plain", "latest"));
    }
}
