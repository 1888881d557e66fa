//! Agent Skills folders: `DIR/<name>/SKILL.md` with YAML front matter, and their validator.
//!
//! In: [`Skill`]s and example excerpts from their evidence (export); a folder (validate). Out:
//! the rendered `SKILL.md` text ([`render`], pure), the written folders ([`export`]), and the
//! [`Problem`]s a folder of skills has ([`validate`]): a missing `SKILL.md` or front matter,
//! a `name` that does not match its folder or breaks the rules (lowercase letters, digits and
//! hyphens, no leading / trailing / double hyphen, at most 64 characters), a `description`
//! that is empty or longer than 1024 characters.

use crate::model::{Skill, SkillKind};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Longest `name`.
pub const MAX_NAME: usize = 64;
/// Longest `description`.
pub const MAX_DESCRIPTION: usize = 1024;

/// An excerpt from one evidence trace, shown under "Examples".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub trace_id: String,
    pub instance_id: Option<String>,
    pub outcome: String,
    /// The changed lines of the fix (or of the attempt), a few lines at most.
    pub excerpt: String,
}

/// One thing wrong with an exported skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// Why a name is not a valid skill name, if it is not.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("name is empty".into());
    }
    if name.chars().count() > MAX_NAME {
        return Some(format!("name is {} characters (at most {MAX_NAME})", name.chars().count()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Some(format!("name has '{c}' (only lowercase letters, digits and hyphens)"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("name starts or ends with a hyphen".into());
    }
    if name.contains("--") {
        return Some("name has a double hyphen".into());
    }
    None
}

/// Why a description is not valid, if it is not.
pub fn description_problem(description: &str) -> Option<String> {
    if description.trim().is_empty() {
        return Some("description is empty".into());
    }
    let n = description.chars().count();
    (n > MAX_DESCRIPTION).then(|| format!("description is {n} characters (at most {MAX_DESCRIPTION})"))
}

/// A YAML double-quoted scalar on one line.
fn yaml_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Undo [`yaml_quote`] (and accept single-quoted or plain scalars).
fn yaml_unquote(s: &str) -> String {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(o) => out.push(o),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else {
        s.to_string()
    }
}

/// The `SKILL.md` text of a skill.
pub fn render(skill: &Skill, examples: &[Example]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "---");
    let _ = writeln!(s, "name: {}", skill.name);
    let _ = writeln!(s, "description: {}", yaml_quote(&skill.description));
    let _ = writeln!(s, "---");
    let _ = writeln!(s);
    let _ = writeln!(s, "# {}", skill.name);
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", skill.description);
    let _ = writeln!(s);
    let kind = match skill.kind {
        SkillKind::FailureMode => "failure mode",
        SkillKind::RepairPattern => "repair pattern",
    };
    let _ = writeln!(
        s,
        "Kind: {kind}. Version {}. Seen in {} traces, {} failed (failure rate {:.2}).",
        skill.version, skill.stats.traces, skill.stats.failures, skill.stats.failure_rate
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "## When it applies");
    let _ = writeln!(s);
    for a in &skill.applicability {
        let _ = writeln!(s, "- {a}");
    }
    if !skill.anchor.is_empty() {
        let _ = writeln!(s, "- code that matches the `{}` anchor query", skill.anchor);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "## Operations");
    let _ = writeln!(s);
    for (i, op) in skill.operations.iter().enumerate() {
        let _ = writeln!(s, "{}. {op}", i + 1);
    }
    if !examples.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "## Examples");
        for e in examples {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "Trace `{}` ({}, {}):",
                e.trace_id,
                e.instance_id.as_deref().unwrap_or("no instance"),
                e.outcome
            );
            if !e.excerpt.trim().is_empty() {
                let _ = writeln!(s);
                let _ = writeln!(s, "```diff");
                let _ = writeln!(s, "{}", e.excerpt.trim_end().replace("```", "'''"));
                let _ = writeln!(s, "```");
            }
        }
    }
    if !skill.operators.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Practice tasks come from the mutation operators: {}.", skill.operators.join(", "));
    }
    s
}

/// Write `dir/<name>/SKILL.md` for each skill; returns the files written.
pub fn export(dir: &Path, skills: &[(Skill, Vec<Example>)]) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (skill, examples) in skills {
        if name_problem(&skill.name).is_some() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("skill name '{}' is not a valid folder name", skill.name),
            ));
        }
        let folder = dir.join(&skill.name);
        std::fs::create_dir_all(&folder)?;
        let path = folder.join("SKILL.md");
        std::fs::write(&path, render(skill, examples))?;
        written.push(path);
    }
    Ok(written)
}

/// The front matter fields of a `SKILL.md` text: `(name, description)`, or why not.
pub fn front_matter(text: &str) -> Result<(Option<String>, Option<String>), String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("no front matter (the file must start with a `---` line)".into());
    }
    let (mut name, mut description) = (None, None);
    for line in lines.by_ref() {
        if line.trim_end() == "---" {
            return Ok((name, description));
        }
        if let Some((key, value)) = line.split_once(':') {
            match key.trim() {
                "name" => name = Some(yaml_unquote(value)),
                "description" => description = Some(yaml_unquote(value)),
                _ => {}
            }
        }
    }
    Err("front matter is not closed by a `---` line".into())
}

/// Check every skill folder under `dir`.
pub fn validate(dir: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let problem = |path: &Path, message: String| Problem { path: path.display().to_string(), message };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![problem(dir, format!("cannot read: {e}"))],
    };
    let mut folders: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    folders.sort();
    for folder in folders {
        let folder_name = folder.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let file = folder.join("SKILL.md");
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(problem(&file, format!("cannot read SKILL.md: {e}")));
                continue;
            }
        };
        match front_matter(&text) {
            Err(m) => problems.push(problem(&file, m)),
            Ok((name, description)) => {
                match name {
                    None => problems.push(problem(&file, "front matter has no `name`".into())),
                    Some(n) => {
                        if let Some(m) = name_problem(&n) {
                            problems.push(problem(&file, m));
                        }
                        if n != folder_name {
                            problems
                                .push(problem(&file, format!("name '{n}' does not match its folder '{folder_name}'")));
                        }
                    }
                }
                match description {
                    None => problems.push(problem(&file, "front matter has no `description`".into())),
                    Some(d) => {
                        if let Some(m) = description_problem(&d) {
                            problems.push(problem(&file, m));
                        }
                    }
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SkillStats;

    fn skill(name: &str, description: &str) -> Skill {
        Skill {
            name: name.into(),
            kind: SkillKind::RepairPattern,
            description: description.into(),
            applicability: vec!["a: b".into()],
            operations: vec!["do \"this\"".into()],
            anchor: "flip_comparison".into(),
            operators: vec!["flip_comparison".into()],
            evidence: vec!["tr-1".into()],
            stats: SkillStats { traces: 2, failures: 1, failure_rate: 0.5 },
            version: 1,
        }
    }

    /// Problems for a SKILL.md written by hand in folder `folder`.
    fn check(folder: &str, text: &str, expect: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        std::fs::write(dir.path().join(folder).join("SKILL.md"), text).unwrap();
        let got: Vec<String> = validate(dir.path()).into_iter().map(|p| p.message).collect();
        assert_eq!(got.len(), expect.len(), "{got:?}");
        for (g, e) in got.iter().zip(expect) {
            assert!(g.contains(e), "{g} lacks {e}");
        }
    }

    #[test]
    fn names() {
        for bad in ["", "Upper", "a_b", "-a", "a-", "a--b", &"a".repeat(65)] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
        for good in ["a", "off-by-one", "x1-y2", &"a".repeat(64)] {
            assert_eq!(name_problem(good), None, "{good}");
        }
    }

    #[test]
    fn validator_accepts_and_rejects() {
        check("ok", "---\nname: ok\ndescription: fine\n---\nbody\n", &[]);
        check("ok", "---\nname: \"ok\"\ndescription: 'it''s fine'\n---\n", &[]);
        check("ok", "---\nname: other\ndescription: x\n---\n", &["does not match"]);
        check("Bad_Name", "---\nname: Bad_Name\ndescription: x\n---\n", &["only lowercase"]);
        check("a--b", "---\nname: a--b\ndescription: x\n---\n", &["double hyphen"]);
        check("ok", &format!("---\nname: ok\ndescription: {}\n---\n", "d".repeat(1025)), &["1025 characters"]);
        check("ok", "---\nname: ok\ndescription: \"\"\n---\n", &["empty"]);
        check("ok", "---\nname: ok\n---\n", &["no `description`"]);
        check("ok", "no front matter", &["no front matter"]);
        check("ok", "---\nname: ok\n", &["not closed"]);
    }

    #[test]
    fn exported_skills_validate_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = skill("changed-comparison", "Fix a \"comparison\": use <= \\ not <.\nSecond line.");
        let ex = Example {
            trace_id: "tr-1".into(),
            instance_id: Some("a__b-1".into()),
            outcome: "resolved".into(),
            excerpt: "-a < b\n+a <= b".into(),
        };
        let written = export(dir.path(), &[(s.clone(), vec![ex])]).unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!(validate(dir.path()), vec![]);
        let text = std::fs::read_to_string(&written[0]).unwrap();
        assert_eq!(front_matter(&text).unwrap(), (Some(s.name.clone()), Some(s.description.clone())));
        assert!(text.contains("## Operations\n\n1. do \"this\"") && text.contains("```diff\n-a < b"), "{text}");
        assert!(export(dir.path(), &[(skill("Bad", "x"), vec![])]).is_err());
    }
}
