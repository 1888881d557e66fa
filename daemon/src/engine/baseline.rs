//! The `baseline` Solver: spectrum-based fault localisation, then a bounded search over a fixed
//! set of one-line repair templates. It runs the suite once on the bugged tree under coverage
//! with per-test contexts, ranks source lines by Ochiai suspiciousness
//! (failing tests that execute the line / √(all failing × all that execute it)), and at the top
//! lines tries single-token rewrites: comparison and boolean operator flips, arithmetic operator
//! swaps, `True`/`False`, `is`/`is not`, `in`/`not in`, `break`/`continue`, adding or removing
//! `not`, integer constants ±1. Each rewrite that still parses is checked in the container
//! against the failing tests and the tests executing that line; the first that passes them all
//! is its answer. It cannot restore deleted statements, reorder arguments or undo swallowed
//! exceptions, so its successes genuinely differ by kind of bug.
//!
//! In: the coverage and results of the bugged run, the checkout's files. Out: ranked lines and
//! candidate rewrites (pure), plus the coverage run in a container (IO at the edge).

use crate::model::Environment;
use crate::model::TestResult;
use crate::model::TestStatus;
use crate::sandbox::image::parse_coverage;
use crate::sandbox::junit;
use crate::sandbox::worker::REPO_DIR;
use crate::sandbox::{Container, Engine, Limits};
use std::collections::{BTreeMap, BTreeSet};

/// Lines tried, best first.
pub const TOP_LINES: usize = 5;
/// Rewrites checked in the container per task, at most.
pub const MAX_ATTEMPTS: usize = 40;

/// A line and its suspiciousness.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    pub file: String,
    /// 1-based.
    pub line: u32,
    pub score: f64,
    /// Tests that execute the line (failing and passing).
    pub tests: Vec<String>,
}

/// Is this a test file (never a repair site)?
pub fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("tests/")
        || path.contains("/tests/")
        || name.starts_with("test_")
        || name.ends_with("_test.py")
        || name == "conftest.py"
}

/// Ochiai ranking of the source lines executed by at least one failing test.
pub fn ochiai(coverage: &BTreeMap<String, BTreeMap<u32, Vec<String>>>, failing: &BTreeSet<String>) -> Vec<Suspect> {
    let total_failing = failing.len() as f64;
    let mut out = Vec::new();
    for (file, lines) in coverage {
        if is_test_file(file) || !file.ends_with(".py") {
            continue;
        }
        for (line, tests) in lines {
            let ef = tests.iter().filter(|t| failing.contains(*t)).count() as f64;
            if ef == 0.0 {
                continue;
            }
            let score = ef / (total_failing * tests.len() as f64).sqrt();
            out.push(Suspect { file: file.clone(), line: *line, score, tests: tests.clone() });
        }
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.tests.len().cmp(&b.tests.len()))
            .then(a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    });
    out
}

/// Token rewrites: each operator or keyword → what it may have been.
const SWAPS: &[(&str, &[&str])] = &[
    ("<=", &["<", ">="]),
    (">=", &[">", "<="]),
    ("<", &["<=", ">"]),
    (">", &[">=", "<"]),
    ("==", &["!="]),
    ("!=", &["=="]),
    ("+", &["-"]),
    ("-", &["+"]),
    ("*", &["/"]),
    ("//", &["/"]),
    ("/", &["//", "*"]),
    ("and", &["or"]),
    ("or", &["and"]),
    ("True", &["False"]),
    ("False", &["True"]),
    ("is not", &["is"]),
    ("is", &["is not"]),
    ("not in", &["in"]),
    ("in", &["not in"]),
    ("break", &["continue"]),
    ("continue", &["break"]),
];

fn token_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"<=|>=|==|!=|//|\*\*|<<|>>|->|[<>+\-*/]|\bis not\b|\bnot in\b|\b(?:and|or|True|False|is|in|break|continue|not)\b|\b\d+\b")
            .expect("valid token pattern")
    })
}

/// One-token rewrites of a line of code (the part before a `#` comment), in a fixed order.
pub fn rewrites(line: &str) -> Vec<String> {
    let code_end = line.find('#').unwrap_or(line.len());
    let code = &line[..code_end];
    let mut out = Vec::new();
    let mut push = |start: usize, end: usize, with: &str| {
        let candidate = format!("{}{}{}", &line[..start], with, &line[end..]);
        if candidate != line && !out.contains(&candidate) {
            out.push(candidate);
        }
    };
    for m in token_regex().find_iter(code) {
        let tok = m.as_str();
        if tok == "**" || tok == "<<" || tok == ">>" || tok == "->" {
            continue;
        }
        if tok == "-" && code[..m.start()].trim_end().ends_with(['(', ',', '=', '[']) {
            continue; // a unary minus
        }
        if let Ok(n) = tok.parse::<i64>() {
            push(m.start(), m.end(), &(n + 1).to_string());
            if n > 0 {
                push(m.start(), m.end(), &(n - 1).to_string());
            }
            continue;
        }
        if tok == "not" {
            let after = code[m.end()..].trim_start();
            let skip = code.len() - after.len();
            push(m.start(), skip, "");
            continue;
        }
        if let Some((_, alts)) = SWAPS.iter().find(|(from, _)| *from == tok) {
            for alt in *alts {
                push(m.start(), m.end(), alt);
            }
        }
    }
    // A condition that may have lost (or gained) its negation.
    let trimmed = code.trim_start();
    let indent = &code[..code.len() - trimmed.len()];
    for kw in ["if ", "elif ", "while ", "return "] {
        if let Some(rest) = trimmed.strip_prefix(kw) {
            let rest = rest.trim_end().trim_end_matches(':');
            if !rest.is_empty() && !rest.starts_with("not ") {
                let colon = if trimmed.trim_end().ends_with(':') { ":" } else { "" };
                let candidate = format!("{indent}{kw}not ({rest}){colon}{}", &line[code_end..]);
                if !out.contains(&candidate) {
                    out.push(candidate);
                }
            }
        }
    }
    out
}

/// True when the text parses as Python without errors.
pub fn parses(source: &str) -> bool {
    crate::anchor::file::parse_python(source).is_ok_and(|t| !t.root_node().has_error())
}

/// File texts to try, in order: for each top suspect, each rewrite of its line that parses.
pub fn candidates(suspects: &[Suspect], read: impl Fn(&str) -> Option<String>) -> Vec<(Suspect, String, String)> {
    let mut out = Vec::new();
    for s in suspects.iter().take(TOP_LINES) {
        let Some(text) = read(&s.file) else { continue };
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let Some(original) = lines.get(s.line as usize - 1) else { continue };
        let (body, newline) = match original.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (*original, ""),
        };
        for rewritten in rewrites(body) {
            let mut new_text = String::with_capacity(text.len() + 8);
            for (i, l) in lines.iter().enumerate() {
                if i == s.line as usize - 1 {
                    new_text.push_str(&rewritten);
                    new_text.push_str(newline);
                } else {
                    new_text.push_str(l);
                }
            }
            if parses(&new_text) {
                out.push((s.clone(), rewritten, new_text));
            }
            if out.len() >= MAX_ATTEMPTS {
                return out;
            }
        }
    }
    out
}

/// A container for coverage runs of patched trees (network off), reused across tasks.
pub struct CoverageRunner {
    container: Container,
    timeout_s: u64,
}

/// What a coverage run of the bugged tree found.
pub struct Spectrum {
    pub results: BTreeMap<String, TestResult>,
    pub coverage: BTreeMap<String, BTreeMap<u32, Vec<String>>>,
    pub failing: BTreeSet<String>,
}

impl CoverageRunner {
    pub async fn start(engine: &Engine, env: &Environment) -> anyhow::Result<CoverageRunner> {
        let container = engine.start_container(&env.image, &Limits::default(), &env.run_env()).await?;
        let clean: f64 = env.durations.values().sum();
        Ok(CoverageRunner { container, timeout_s: (60.0 + 20.0 * clean) as u64 })
    }

    /// Run the whole suite under coverage with `patch` applied; the tree is restored after.
    pub async fn spectrum(&self, patch: &str) -> anyhow::Result<Spectrum> {
        self.container.write_file("/tmp/socratic.patch", patch.as_bytes(), 60).await?;
        let script = format!(
            "cd {REPO_DIR} && git apply /tmp/socratic.patch && \
             {{ python3 -m pytest -q -p no:cacheprovider -o junit_family=xunit1 --junitxml=/tmp/spectrum.xml \
             --cov=. --cov-context=test --cov-report= >/tmp/spectrum.log 2>&1; \
             python3 -m coverage json --show-contexts -q -o /tmp/spectrum.json >/dev/null 2>&1; }}; \
             rm -f .coverage; git checkout -q -- . && git clean -fdq"
        );
        let run = self.container.exec(&["sh", "-c", &script], self.timeout_s).await?;
        if run.exit_code != 0 {
            anyhow::bail!("the coverage run did not start (exit {}): {}", run.exit_code, run.stderr.trim());
        }
        let xml = self.container.exec(&["cat", "/tmp/spectrum.xml"], 60).await?;
        let results = junit::parse(&xml.stdout).map_err(|e| anyhow::anyhow!("coverage run: {e}"))?;
        let cov = self.container.exec(&["cat", "/tmp/spectrum.json"], 60).await?;
        let coverage = parse_coverage(&cov.stdout);
        let failing = results
            .iter()
            .filter(|(_, r)| r.status != TestStatus::Passed && r.status != TestStatus::Skipped)
            .map(|(t, _)| t.clone())
            .collect();
        self.container.exec(&["rm", "-f", "/tmp/spectrum.xml", "/tmp/spectrum.json"], 30).await?;
        Ok(Spectrum { results, coverage, failing })
    }

    pub async fn shutdown(self) {
        if let Err(e) = self.container.remove().await {
            tracing::warn!("removing the coverage container: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ochiai_ranks_lines_only_failing_tests_execute_first() {
        let mut cov: BTreeMap<String, BTreeMap<u32, Vec<String>>> = BTreeMap::new();
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        cov.entry("pkg/m.py".into()).or_default().insert(3, t(&["f1", "p1", "p2"]));
        cov.entry("pkg/m.py".into()).or_default().insert(7, t(&["f1"]));
        cov.entry("pkg/m.py".into()).or_default().insert(9, t(&["p1"]));
        cov.entry("tests/test_m.py".into()).or_default().insert(1, t(&["f1"]));
        let failing: BTreeSet<String> = ["f1".to_string()].into();
        let ranked = ochiai(&cov, &failing);
        assert_eq!(ranked.iter().map(|s| s.line).collect::<Vec<_>>(), vec![7, 3]);
        assert!((ranked[0].score - 1.0).abs() < 1e-9);
        assert!((ranked[1].score - 1.0 / 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn rewrites_cover_the_templates() {
        let r = rewrites("    if a < b and not done:  # x < y");
        assert!(r.contains(&"    if a <= b and not done:  # x < y".to_string()), "{r:?}");
        assert!(r.contains(&"    if a < b or not done:  # x < y".to_string()));
        assert!(r.contains(&"    if a < b and done:  # x < y".to_string()));
        assert!(r.iter().all(|l| l.ends_with("# x < y")), "comments are left alone");
        let r = rewrites("    return total - 1");
        assert!(r.contains(&"    return total + 1".to_string()));
        assert!(r.contains(&"    return total - 2".to_string()));
        assert!(r.contains(&"    return total - 0".to_string()));
        assert!(r.contains(&"    return not (total - 1)".to_string()));
        assert!(rewrites("    x = f(-1)").iter().all(|l| !l.contains("f(+1)")), "unary minus kept");
        assert!(rewrites("    pass").is_empty());
    }

    #[test]
    fn candidates_parse_and_are_bounded() {
        let text = "def f(a, b):\n    if a < b:\n        return a + 1\n    return b\n";
        let suspects = vec![Suspect { file: "m.py".into(), line: 2, score: 1.0, tests: vec![] }];
        let got = candidates(&suspects, |_| Some(text.to_string()));
        assert!(!got.is_empty());
        assert!(got.iter().all(|(_, _, t)| parses(t) && t != text));
        assert!(got.iter().any(|(_, l, _)| l == "    if a <= b:"));
        assert!(got.len() <= MAX_ATTEMPTS);
    }
}
