//! The install recipe a user commits: `.socratic/env.toml` in the repository. When present,
//! environment builds install from it instead of from what the project declares (the rules in
//! `recipe.rs`); the setup agent writes one with the commands that made the suite run.
//!
//! In: the file's text (or a repository folder to read it from); a recipe to write. Out: a
//! [`RecipeFile`] — or a [`RecipeFileError`] naming the file and the key at fault —, the install
//! steps it stands for, the environment variables it sets, and a key for image names (so an
//! image built from one recipe is never reused for another).
//!
//! ```toml
//! # every key is optional
//! base_image = "python:3.12-slim"            # the image to build from when none is configured
//! apt = ["libxml2-dev"]                      # Debian packages, installed first
//! install = ["python3 -m pip install --break-system-packages -e '.[test]'"]  # shell commands, in order
//! pip = ["hypothesis", "pretend"]            # distributions installed after the commands
//! pytest_args = ["-p", "no:randomly"]        # words every pytest run adds (no spaces or quotes)
//! [env]                                      # variables for the installs and every test run
//! TZ = "UTC"
//! ```
//!
//! Install commands run in the repository folder of the build's install container (root,
//! network on), never on the host. A command that fails is an install problem named in the
//! build's refusal, as a failed rule is.

use super::recipe::{Step, PIP};
use std::collections::BTreeMap;
use std::path::Path;

/// Where the recipe lives, relative to the repository root.
pub const RECIPE_PATH: &str = ".socratic/env.toml";

const KEYS: &[&str] = &["base_image", "apt", "install", "pip", "pytest_args", "env"];

/// A committed install recipe (see the module documentation for the format).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecipeFile {
    pub base_image: Option<String>,
    pub apt: Vec<String>,
    pub install: Vec<String>,
    pub pip: Vec<String>,
    pub pytest_args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// A recipe file that cannot be used: the file, the key (empty for a syntax error) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{message}", if key.is_empty() { String::new() } else { format!("key `{key}`: ") })]
pub struct RecipeFileError {
    pub file: String,
    pub key: String,
    pub message: String,
}

impl RecipeFile {
    /// Read `.socratic/env.toml` of `repo`: `None` when there is none.
    pub fn read(repo: &Path) -> Result<Option<RecipeFile>, RecipeFileError> {
        let path = repo.join(RECIPE_PATH);
        match std::fs::read_to_string(&path) {
            Ok(text) => RecipeFile::parse(&text, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                Err(RecipeFileError { file: path.display().to_string(), key: String::new(), message: e.to_string() })
            }
        }
    }

    /// Parse the text of a recipe file (`file` names it in errors). Unknown keys, wrong types
    /// and unusable values are errors naming the key.
    pub fn parse(text: &str, file: &str) -> Result<RecipeFile, RecipeFileError> {
        let err = |key: &str, message: String| RecipeFileError { file: file.into(), key: key.into(), message };
        let doc = text.parse::<toml_edit::DocumentMut>().map_err(|e| err("", format!("not valid TOML: {e}")))?;
        let mut out = RecipeFile::default();
        for (key, item) in doc.iter() {
            match key {
                "base_image" => {
                    let image = item.as_str().ok_or_else(|| err(key, "expected a string (an image name)".into()))?;
                    if image.trim().is_empty() || image.contains(char::is_whitespace) {
                        return Err(err(key, format!("{image:?} is not an image name")));
                    }
                    out.base_image = Some(image.to_string());
                }
                "apt" | "install" | "pip" | "pytest_args" => {
                    let list = strings(item).map_err(|m| err(key, m))?;
                    check_list(key, &list).map_err(|m| err(key, m))?;
                    match key {
                        "apt" => out.apt = list,
                        "install" => out.install = list,
                        "pip" => out.pip = list,
                        _ => out.pytest_args = list,
                    }
                }
                "env" => {
                    let table = item.as_table_like().ok_or_else(|| err(key, "expected a table of strings".into()))?;
                    for (name, value) in table.iter() {
                        let value =
                            value.as_str().ok_or_else(|| err(&format!("env.{name}"), "expected a string".into()))?;
                        if !valid_var_name(name) {
                            return Err(err(&format!("env.{name}"), "not a variable name (letters, digits, _)".into()));
                        }
                        out.env.insert(name.to_string(), value.to_string());
                    }
                }
                other => {
                    return Err(err(other, format!("unknown key (known: {})", KEYS.join(", "))));
                }
            }
        }
        Ok(out)
    }

    /// The file's text: a header saying what it is, then the keys that are set.
    pub fn render(&self, header: &str) -> String {
        let mut doc = toml_edit::DocumentMut::new();
        if let Some(image) = &self.base_image {
            doc["base_image"] = toml_edit::value(image.as_str());
        }
        for (key, list) in
            [("apt", &self.apt), ("install", &self.install), ("pip", &self.pip), ("pytest_args", &self.pytest_args)]
        {
            if !list.is_empty() {
                let mut array: toml_edit::Array = list.iter().map(|s| s.as_str()).collect();
                for v in array.iter_mut() {
                    v.decor_mut().set_prefix("\n  ");
                }
                array.set_trailing("\n");
                array.set_trailing_comma(true);
                doc[key] = toml_edit::value(array);
            }
        }
        if !self.env.is_empty() {
            let mut table = toml_edit::Table::new();
            for (k, v) in &self.env {
                table[k.as_str()] = toml_edit::value(v.as_str());
            }
            doc["env"] = toml_edit::Item::Table(table);
        }
        let comments: String = header.lines().map(|l| format!("# {l}\n").replace("# \n", "#\n")).collect();
        format!("{comments}{doc}")
    }

    /// Write the recipe to `repo/.socratic/env.toml` (its folder created).
    pub fn write(&self, repo: &Path, header: &str) -> std::io::Result<std::path::PathBuf> {
        let path = repo.join(RECIPE_PATH);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, self.render(header))?;
        Ok(path)
    }

    /// The install steps, in order: apt packages, the commands, pip packages. Each step has a
    /// single alternative (a recipe says exactly what to run).
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        let quoted = |list: &[String]| list.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" ");
        if !self.apt.is_empty() {
            steps.push(Step {
                what: format!("{RECIPE_PATH} apt"),
                alternatives: vec![format!(
                    "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {}",
                    quoted(&self.apt)
                )],
            });
        }
        for (i, cmd) in self.install.iter().enumerate() {
            steps.push(Step { what: format!("{RECIPE_PATH} install[{i}]"), alternatives: vec![cmd.clone()] });
        }
        if !self.pip.is_empty() {
            steps.push(Step {
                what: format!("{RECIPE_PATH} pip"),
                alternatives: vec![format!("{PIP} {}", quoted(&self.pip))],
            });
        }
        steps
    }

    /// `NAME=value` for each variable of `[env]`.
    pub fn env_vars(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// A stable text of what the recipe does (comments and layout left out), for image names.
    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn quote(s: &str) -> String {
    shlex::try_quote(s).map(|q| q.into_owned()).unwrap_or_else(|_| "''".into())
}

fn strings(item: &toml_edit::Item) -> Result<Vec<String>, String> {
    let array = item.as_array().ok_or("expected an array of strings")?;
    array
        .iter()
        .enumerate()
        .map(|(i, v)| v.as_str().map(String::from).ok_or_else(|| format!("item {i} is not a string")))
        .collect()
}

/// Longest install command accepted (a recipe is for people to read).
pub const MAX_COMMAND_CHARS: usize = 4000;

fn check_list(key: &str, list: &[String]) -> Result<(), String> {
    for (i, s) in list.iter().enumerate() {
        if s.trim().is_empty() {
            return Err(format!("item {i} is empty"));
        }
        if s.contains('\0') {
            return Err(format!("item {i} holds a NUL character"));
        }
        match key {
            "install" if s.chars().count() > MAX_COMMAND_CHARS => {
                return Err(format!("item {i} is longer than {MAX_COMMAND_CHARS} characters"));
            }
            // Joined with spaces into pytest's command line and read back by shlex.
            "pytest_args" if !s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+[]".contains(c)) => {
                return Err(format!("item {i} ({s:?}): one word of letters, digits and -_./:=,@+[] only"));
            }
            "apt" | "pip" if s.starts_with('-') => {
                return Err(format!("item {i} ({s:?}) is an option, not a package"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_round_trips_and_becomes_steps() {
        let text = r#"
base_image = "python:3.12-slim"
apt = ["libxml2-dev"]
install = ["python3 -m pip install ./vendor/gizmo", "echo 'it''s done' > /tmp/x"]
pip = ["hypothesis>=6"]
pytest_args = ["-p", "no:randomly"]
[env]
TZ = "UTC"
"#;
        let r = RecipeFile::parse(text, "x/.socratic/env.toml").unwrap();
        assert_eq!(r.base_image.as_deref(), Some("python:3.12-slim"));
        assert_eq!(r.install[1], "echo 'it''s done' > /tmp/x");
        assert_eq!(r.env_vars(), ["TZ=UTC"]);
        let again = RecipeFile::parse(&r.render("written by hand\n\nsecond line"), "f").unwrap();
        assert_eq!(again, r);
        assert_eq!(again.key(), r.key());
        assert!(r.render("a\n\nb").starts_with("# a\n#\n# b\n"), "{}", r.render("a\n\nb"));
        let steps = r.steps();
        let cmds: Vec<&str> = steps.iter().map(|s| s.alternatives[0].as_str()).collect();
        assert!(cmds[0].starts_with("apt-get update") && cmds[0].ends_with(" libxml2-dev"), "{cmds:?}");
        assert_eq!(cmds[1], "python3 -m pip install ./vendor/gizmo");
        assert_eq!(cmds[3], format!("{PIP} 'hypothesis>=6'"));
        assert_eq!(steps[2].what, ".socratic/env.toml install[1]");
        assert_eq!(RecipeFile::parse("", "f").unwrap(), RecipeFile::default());
        assert!(RecipeFile::default().steps().is_empty());
    }

    #[test]
    fn bad_recipes_name_the_file_and_the_key() {
        let e = |text: &str| RecipeFile::parse(text, "repo/.socratic/env.toml").unwrap_err();
        let syntax = e("install = [\"a\"");
        assert!(syntax.key.is_empty() && syntax.to_string().starts_with("repo/.socratic/env.toml: not valid TOML"));
        let wrong = e("install = \"pip install x\"");
        assert_eq!(wrong.key, "install");
        assert_eq!(wrong.to_string(), "repo/.socratic/env.toml: key `install`: expected an array of strings");
        assert_eq!(e("instal = []").key, "instal");
        assert!(e("instal = []").message.contains("unknown key (known: base_image"));
        assert_eq!(e("install = [1]").message, "item 0 is not a string");
        assert_eq!(e("pytest_args = [\"-k not slow\"]").key, "pytest_args");
        assert_eq!(e("pip = [\"--index-url=x\"]").key, "pip");
        assert_eq!(e("install = [\"  \"]").message, "item 0 is empty");
        assert_eq!(e("[env]\nTZ = 1").key, "env.TZ");
        assert_eq!(e("[env]\n\"A-B\" = \"x\"").key, "env.A-B");
        assert_eq!(e("env = 3").key, "env");
        assert_eq!(e("base_image = \"a b\"").key, "base_image");
        let long = format!("install = [\"{}\"]", "x".repeat(MAX_COMMAND_CHARS + 1));
        assert!(e(&long).message.contains("longer than"));
    }

    #[test]
    fn a_missing_file_is_no_recipe_and_a_present_one_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RecipeFile::read(dir.path()).unwrap(), None);
        let r = RecipeFile { install: vec!["true".into()], ..Default::default() };
        let path = r.write(dir.path(), "test").unwrap();
        assert!(path.ends_with(RECIPE_PATH));
        assert_eq!(RecipeFile::read(dir.path()).unwrap(), Some(r));
        std::fs::write(&path, "pip = 1").unwrap();
        let err = RecipeFile::read(dir.path()).unwrap_err();
        assert!(err.file.ends_with(".socratic/env.toml") && err.key == "pip", "{err}");
    }
}
