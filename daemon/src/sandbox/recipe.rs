//! Install recipes: what a Python project declares it needs to run its tests, read from its
//! files (never by running them), and the install steps that follow from it.
//!
//! In: the text of a repository's packaging and test configuration files (`pyproject.toml`,
//! `setup.cfg`, `setup.py` — parsed as text —, `tox.ini`, `pytest.ini`, requirement files in
//! conventional places) and the names of its top-level files and folders. Out: `Declared` (extras,
//! dependency groups, requirement files, tox deps and extras, pytest plugins, packages) and an
//! ordered list of `Step`s, each a list of alternative shell commands tried in turn; plus the
//! pure pieces of the repair loop (missing modules in pytest's output → distributions).

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

/// pip, quiet, allowed to install into the system Python of the image.
pub const PIP: &str = "python3 -m pip install --quiet --break-system-packages --disable-pip-version-check";

/// Extras and dependency groups whose names say they hold what the tests need, best first.
const TEST_NAMES: &[&str] = &["test", "tests", "testing", "test-deps", "tests-deps", "pytest"];
/// Used only when no test-named extra or group exists.
const DEV_NAMES: &[&str] = &["dev", "develop", "development", "all", "full", "ci"];

use crate::anchor::walk::{NON_LIBRARY_DIRS, NON_LIBRARY_FILES};

/// Folders that hold tests, never the library.
const TEST_DIRS: &[&str] = &["tests", "test", "testing"];

/// One install step: alternatives tried in order until one succeeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the step installs (for messages).
    pub what: String,
    pub alternatives: Vec<String>,
}

/// A package the project ships: the folder (or single module file) and its import name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Repository-relative path: `pkg`, `src/pkg`, `six.py`.
    pub path: String,
    /// The name it is imported by: `pkg`, `six`.
    pub import_name: String,
}

/// What the project declares about installing and testing it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declared {
    /// Every extra name declared (pyproject, setup.cfg, setup.py).
    pub extras: BTreeSet<String>,
    /// PEP 735 groups: name → requirement strings (includes resolved).
    pub groups: BTreeMap<String, Vec<String>>,
    /// Requirement files to install, in order (runtime first).
    pub requirement_files: Vec<String>,
    /// Requirements tox's test environment installs.
    pub tox_deps: Vec<String>,
    /// Extras tox's test environment installs.
    pub tox_extras: Vec<String>,
    /// Distributions of the pytest plugins the configuration needs (`-p`, `required_plugins`,
    /// plugin options in `addopts`).
    pub pytest_plugins: Vec<String>,
    /// True when there is something pip can install the project from.
    pub installable: bool,
    /// The version `PKG-INFO` states (an unpacked sdist): given to setuptools-scm / hatch-vcs,
    /// which would otherwise make `0.1.dev1` of a repository without tags, and pip would then
    /// pick ancient releases of whatever requires a recent version of the project.
    pub version: Option<String>,
    pub packages: Vec<Package>,
}

impl Declared {
    /// The extras to install with the project: tox's, plus the test-named ones declared (dev-named
    /// ones only when no test-named one exists).
    pub fn chosen_extras(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |e: &str| {
            if !out.iter().any(|o| o == e) {
                out.push(e.to_string());
            }
        };
        for e in &self.tox_extras {
            add(e);
        }
        let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
        let test: Vec<&String> = self.extras.iter().filter(|e| TEST_NAMES.contains(&norm(e).as_str())).collect();
        if test.is_empty() {
            if let Some(dev) = DEV_NAMES.iter().find_map(|d| self.extras.iter().find(|e| norm(e) == *d)) {
                add(dev);
            }
        }
        for e in test {
            add(e);
        }
        out
    }

    /// The dependency groups to install (test-named, else dev-named).
    pub fn chosen_groups(&self) -> Vec<String> {
        let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
        let test: Vec<String> =
            self.groups.keys().filter(|g| TEST_NAMES.contains(&norm(g).as_str())).cloned().collect();
        if !test.is_empty() {
            return test;
        }
        DEV_NAMES.iter().find_map(|d| self.groups.keys().find(|g| norm(g) == *d).cloned()).into_iter().collect()
    }
}

/// Read the files a recipe is made from (those present) out of a repository folder.
pub fn read_project(repo: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut consider = |rel: String| {
        if let Ok(text) = std::fs::read_to_string(repo.join(&rel)) {
            out.insert(rel, text);
        }
    };
    for name in ["pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "pytest.ini", "PKG-INFO"] {
        consider(name.to_string());
    }
    for dir in ["", "requirements", "requirements.d", "reqs", "tests", "test", "ci", ".github"] {
        let Ok(entries) = std::fs::read_dir(repo.join(dir)) else { continue };
        let mut names: Vec<String> =
            entries.flatten().filter_map(|e| e.file_name().to_str().map(String::from)).collect();
        names.sort();
        for name in names {
            let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            if is_requirement_file(&rel) {
                consider(rel);
            }
        }
    }
    out
}

/// The top-level entries (and `src/`'s) a package list is made from: `pkg/__init__.py`,
/// `src/pkg/__init__.py`, `six.py`, `src/ns/sub/__init__.py` (namespace package).
pub fn package_markers(repo: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for base in ["", "src"] {
        let Ok(entries) = std::fs::read_dir(repo.join(base)) else { continue };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(String::from) else { continue };
            let rel = if base.is_empty() { name.clone() } else { format!("{base}/{name}") };
            let path = entry.path();
            if path.is_dir() {
                if path.join("__init__.py").is_file() {
                    out.push(format!("{rel}/__init__.py"));
                } else if !base.is_empty() {
                    let nested = std::fs::read_dir(&path).into_iter().flatten().flatten();
                    if nested.into_iter().any(|e| e.path().join("__init__.py").is_file()) {
                        out.push(format!("{rel}/"));
                    }
                }
            } else if name.ends_with(".py") {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// Whether a repository-relative path is a requirement file in a conventional place.
pub fn is_requirement_file(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    // `.in` files are pip-compile inputs: the `.txt` beside them is the list.
    if !lower.ends_with(".txt") {
        return false;
    }
    let (dir, name) = lower.rsplit_once('/').unwrap_or(("", &lower));
    let named = name.starts_with("requirements") || name.contains("requirements") || name.starts_with("reqs");
    let unrelated = ["doc", "lint", "typing", "mypy", "update", "release", "publish", "build"];
    if unrelated.iter().any(|u| name.contains(u)) {
        return false;
    }
    match dir {
        "" => named,
        "requirements" | "requirements.d" | "reqs" => true,
        "tests" | "test" | "ci" | ".github" => named,
        _ => false,
    }
}

/// Requirement files to install, ordered: runtime (`requirements.txt`, `requirements/base.txt`)
/// first, then test ones. Where test-named files exist, dev-named and other lists are left out
/// (they pin linters, docs tools, release tools); of test files told apart only by a Python
/// version (`requirements-tests37.txt`, `requirements-tests39.txt`) the newest is kept.
fn order_requirement_files(files: Vec<String>) -> Vec<String> {
    let rank = |f: &String| {
        let l = f.to_ascii_lowercase();
        let name = l.rsplit('/').next().unwrap_or(&l);
        if (name == "requirements.txt" && !l.starts_with("test")) || name == "base.txt" || name == "main.txt" {
            0
        } else if l.contains("test") {
            1
        } else {
            2
        }
    };
    let has_tests = files.iter().any(|f| rank(f) == 1);
    let mut kept: Vec<String> = files.into_iter().filter(|f| !has_tests || rank(f) < 2).collect();
    let undigited = |f: &String| f.chars().filter(|c| !c.is_ascii_digit()).collect::<String>();
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for f in &kept {
        let key = undigited(f);
        if newest.get(&key).is_none_or(|cur| digits(cur) < digits(f)) {
            newest.insert(key, f.clone());
        }
    }
    kept.retain(|f| newest.get(&undigited(f)) == Some(f));
    kept.sort_by_key(|f| (rank(f), f.clone()));
    kept
}

fn digits(s: &str) -> u64 {
    s.chars().filter(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap_or(0)
}

/// Everything the project declares, from its files (path → text) and package markers.
pub fn declared(files: &BTreeMap<String, String>, markers: &[String]) -> Declared {
    let mut d = Declared {
        installable: ["pyproject.toml", "setup.py", "setup.cfg"].iter().any(|f| files.contains_key(*f)),
        ..Default::default()
    };
    let mut pytest_cfg: Vec<BTreeMap<String, String>> = Vec::new();
    let mut tox_text = files.get("tox.ini").cloned();
    if let Some(text) = files.get("pyproject.toml") {
        if let Ok(doc) = text.parse::<toml_edit::DocumentMut>() {
            read_pyproject(&doc, &mut d, &mut pytest_cfg);
            if tox_text.is_none() {
                tox_text = doc
                    .get("tool")
                    .and_then(|t| t.get("tox"))
                    .and_then(|t| t.get("legacy_tox_ini"))
                    .and_then(|v| v.as_str())
                    .map(String::from);
            }
        }
    }
    if let Some(text) = files.get("setup.cfg") {
        let ini = parse_ini(text);
        if let Some(extras) = ini.get("options.extras_require") {
            d.extras.extend(extras.keys().cloned());
        }
        pytest_cfg.extend(ini.get("tool:pytest").cloned());
    }
    if let Some(text) = files.get("setup.py") {
        d.extras.extend(setup_py_extras(text));
    }
    if let Some(text) = files.get("pytest.ini") {
        pytest_cfg.extend(parse_ini(text).get("pytest").cloned());
    }
    if let Some(text) = tox_text {
        let ini = parse_ini(&text);
        pytest_cfg.extend(ini.get("pytest").cloned());
        read_tox(&ini, &mut d);
    }
    for cfg in &pytest_cfg {
        for plugin in pytest_plugins(cfg) {
            if !d.pytest_plugins.contains(&plugin) {
                d.pytest_plugins.push(plugin);
            }
        }
    }
    d.version = files.get("PKG-INFO").and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("Version:"))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || ".+-_!".contains(c)))
    });
    let reqs: Vec<String> = files.keys().filter(|f| is_requirement_file(f)).cloned().collect();
    d.requirement_files = order_requirement_files(reqs);
    d.packages = packages(markers);
    d
}

fn read_pyproject(doc: &toml_edit::DocumentMut, d: &mut Declared, pytest_cfg: &mut Vec<BTreeMap<String, String>>) {
    if let Some(extras) =
        doc.get("project").and_then(|p| p.get("optional-dependencies")).and_then(|e| e.as_table_like())
    {
        d.extras.extend(extras.iter().map(|(k, _)| k.to_string()));
    }
    // Poetry: [tool.poetry.extras] and groups under [tool.poetry.group.<name>.dependencies].
    let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
    if let Some(extras) = poetry.and_then(|p| p.get("extras")).and_then(|e| e.as_table_like()) {
        d.extras.extend(extras.iter().map(|(k, _)| k.to_string()));
    }
    if let Some(groups) = doc.get("dependency-groups").and_then(|g| g.as_table_like()) {
        let raw: BTreeMap<String, &toml_edit::Item> = groups.iter().map(|(k, v)| (k.to_string(), v)).collect();
        for name in raw.keys() {
            let mut out = Vec::new();
            resolve_group(&raw, name, &mut out, 0);
            d.groups.insert(name.clone(), out);
        }
    }
    if let Some(opts) = doc.get("tool").and_then(|t| t.get("pytest")).and_then(|p| p.get("ini_options")) {
        if let Some(table) = opts.as_table_like() {
            let mut cfg = BTreeMap::new();
            for (k, v) in table.iter() {
                let text = match v.as_value() {
                    Some(toml_edit::Value::String(s)) => s.value().clone(),
                    Some(toml_edit::Value::Array(a)) => {
                        a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("\n")
                    }
                    Some(other) => other.to_string(),
                    None => continue,
                };
                cfg.insert(k.to_string(), text);
            }
            pytest_cfg.push(cfg);
        }
    }
}

/// A PEP 735 group's requirement strings, `{include-group = "..."}` entries resolved.
fn resolve_group(raw: &BTreeMap<String, &toml_edit::Item>, name: &str, out: &mut Vec<String>, depth: usize) {
    let Some(array) = raw.get(name).and_then(|i| i.as_array()) else { return };
    for v in array.iter() {
        if let Some(s) = v.as_str() {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        } else if let Some(include) = v.as_inline_table().and_then(|t| t.get("include-group")).and_then(|i| i.as_str())
        {
            if depth < 8 {
                resolve_group(raw, include, out, depth + 1);
            }
        }
    }
}

/// tox's test environment: `[testenv]` (or the first `[testenv:*]` named like a test run) deps
/// and extras; factor-conditional lines and unresolved substitutions are left out.
fn read_tox(ini: &BTreeMap<String, BTreeMap<String, String>>, d: &mut Declared) {
    let env = ini.get("testenv").or_else(|| {
        ini.iter().find(|(k, _)| k.starts_with("testenv:") && (k.contains("py") || k.contains("test"))).map(|(_, v)| v)
    });
    let Some(env) = env else { return };
    static FACTOR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_.,!{}\-]+:\s").expect("regex"));
    let lines = |key: &str| -> Vec<String> {
        env.get(key)
            .map(|v| {
                v.lines()
                    .map(|l| {
                        l.split(" #")
                            .next()
                            .unwrap_or("")
                            .trim()
                            .replace("{toxinidir}/", "")
                            .replace("{toxinidir}", ".")
                    })
                    .filter(|l| !l.is_empty() && !l.starts_with('#') && !FACTOR.is_match(l) && !l.contains('{'))
                    .collect()
            })
            .unwrap_or_default()
    };
    for dep in lines("deps") {
        // `-r file` and `-c file` lines are kept as pip arguments.
        if !d.tox_deps.contains(&dep) {
            d.tox_deps.push(dep);
        }
    }
    for extras in lines("extras") {
        for e in extras.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if !d.tox_extras.iter().any(|x| x == e) {
                d.tox_extras.push(e.to_string());
            }
        }
    }
}

/// Distributions of the plugins a pytest configuration needs.
fn pytest_plugins(cfg: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(req) = cfg.get("required_plugins") {
        out.extend(req.split_whitespace().map(|r| r.to_string()));
    }
    if let Some(addopts) = cfg.get("addopts") {
        let words = shlex::split(addopts).unwrap_or_else(|| addopts.split_whitespace().map(String::from).collect());
        let mut it = words.iter();
        while let Some(w) = it.next() {
            if w == "-p" {
                if let Some(name) = it.next() {
                    if !name.starts_with("no:") {
                        out.push(distribution_for_module(name));
                    }
                }
            } else if let Some(name) = w.strip_prefix("-p").filter(|n| !n.is_empty() && !n.starts_with("no:")) {
                out.push(distribution_for_module(name));
            } else if let Some(dist) = plugin_for_option(w) {
                out.push(dist.to_string());
            }
        }
    }
    if cfg.contains_key("asyncio_mode") {
        out.push("pytest-asyncio".into());
    }
    if cfg.contains_key("timeout") {
        out.push("pytest-timeout".into());
    }
    // pytest-cov is part of every environment already.
    let mut seen = BTreeSet::new();
    out.retain(|d| d != "pytest-cov" && d != "pytest" && seen.insert(d.clone()));
    out
}

/// The plugin distribution that adds a command-line option, for the options projects put in
/// `addopts` (an unknown option stops pytest before it runs anything).
pub fn plugin_for_option(option: &str) -> Option<&'static str> {
    let name = option.split('=').next().unwrap_or(option);
    const TABLE: &[(&str, &str)] = &[
        ("--cov", "pytest-cov"),
        ("-n", "pytest-xdist"),
        ("--numprocesses", "pytest-xdist"),
        ("--dist", "pytest-xdist"),
        ("--timeout", "pytest-timeout"),
        ("--benchmark", "pytest-benchmark"),
        ("--mypy", "pytest-mypy"),
        ("--flake8", "pytest-flake8"),
        ("--reruns", "pytest-rerunfailures"),
        ("--hypothesis", "hypothesis"),
        ("--asyncio-mode", "pytest-asyncio"),
        ("--mpl", "pytest-mpl"),
        ("-p randomly", "pytest-randomly"),
        ("--randomly", "pytest-randomly"),
        ("--forked", "pytest-forked"),
        ("--snapshot", "syrupy"),
        ("--doctest-glob", ""),
        ("--black", "pytest-black"),
        ("--isort", "pytest-isort"),
        ("--ruff", "pytest-ruff"),
        ("--mypy-ini-file", "pytest-mypy"),
        ("--html", "pytest-html"),
        ("--instafail", "pytest-instafail"),
        ("--codeblocks", "pytest-codeblocks"),
        ("--memray", "pytest-memray"),
        ("--freezer", "pytest-freezer"),
    ];
    TABLE
        .iter()
        .find(|(opt, _)| name == *opt || (opt.starts_with("--") && name.starts_with(&format!("{opt}-"))))
        .map(|(_, d)| *d)
        .filter(|d| !d.is_empty())
}

/// Packages from the package markers (see [`package_markers`]); test and tooling folders and
/// build scripts are left out.
fn packages(markers: &[String]) -> Vec<Package> {
    let mut out = BTreeSet::new();
    for m in markers {
        let (base, rest) = match m.strip_prefix("src/") {
            Some(rest) => ("src/", rest),
            None => ("", m.as_str()),
        };
        let (name, path) = if let Some(dir) = rest.strip_suffix("/__init__.py").or_else(|| rest.strip_suffix('/')) {
            if dir.contains('/') {
                continue;
            }
            (dir.to_string(), format!("{base}{dir}"))
        } else if let Some(module) = rest.strip_suffix(".py") {
            if module.contains('/') || NON_LIBRARY_FILES.contains(&rest) || module.starts_with("test_") {
                continue;
            }
            if module.ends_with("_test") || module == "__init__" || module == "__main__" {
                continue;
            }
            (module.to_string(), format!("{base}{rest}"))
        } else {
            continue;
        };
        let import_name_ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !import_name_ok || NON_LIBRARY_DIRS.contains(&name.as_str()) || TEST_DIRS.contains(&name.as_str()) {
            continue;
        }
        out.insert(Package { path, import_name: name });
    }
    out.into_iter().collect()
}

/// The install steps for what the project declares, in order: requirement files, the project
/// with its extras (each fallback an alternative), dependency groups, tox deps, pytest plugins.
pub fn install_plan(d: &Declared) -> Vec<Step> {
    let mut steps = Vec::new();
    for f in &d.requirement_files {
        steps.push(Step {
            what: format!("requirements file {f}"),
            alternatives: vec![format!("{PIP} -r {}", quote(f))],
        });
    }
    if d.installable {
        let mut alternatives = Vec::new();
        let extras = d.chosen_extras();
        if !extras.is_empty() {
            alternatives.push(format!("{PIP} -e {}", quote(&format!(".[{}]", extras.join(",")))));
            if extras.len() > 1 {
                // One broken extra should not cost the others.
                for e in &extras {
                    alternatives.push(format!("{PIP} -e {}", quote(&format!(".[{e}]"))));
                }
            }
        }
        alternatives.push(format!("{PIP} -e ."));
        alternatives.push(format!("{PIP} --no-build-isolation --no-deps -e ."));
        if let Some(v) = &d.version {
            for a in &mut alternatives {
                *a = format!("SETUPTOOLS_SCM_PRETEND_VERSION={v} {a}");
            }
        }
        steps.push(Step { what: "the project".into(), alternatives });
    }
    for g in d.chosen_groups() {
        let reqs = &d.groups[&g];
        if !reqs.is_empty() {
            let args: Vec<String> = reqs.iter().map(|r| quote(r)).collect();
            steps.push(Step {
                what: format!("dependency group {g}"),
                alternatives: vec![format!("{PIP} {}", args.join(" "))],
            });
        }
    }
    if !d.tox_deps.is_empty() {
        let args: Vec<String> = d
            .tox_deps
            .iter()
            .flat_map(|dep| match dep.split_once(char::is_whitespace).filter(|(f, _)| *f == "-r" || *f == "-c") {
                Some((flag, file)) => vec![flag.to_string(), quote(file.trim())],
                None if dep.starts_with("-r") || dep.starts_with("-c") => {
                    vec![dep[..2].to_string(), quote(dep[2..].trim())]
                }
                None => vec![quote(dep)],
            })
            .collect();
        steps.push(Step { what: "tox test deps".into(), alternatives: vec![format!("{PIP} {}", args.join(" "))] });
    }
    if !d.pytest_plugins.is_empty() {
        let args: Vec<String> = d.pytest_plugins.iter().map(|p| quote(p)).collect();
        steps.push(Step { what: "pytest plugins".into(), alternatives: vec![format!("{PIP} {}", args.join(" "))] });
    }
    steps
}

fn quote(s: &str) -> String {
    shlex::try_quote(s).map(|q| q.into_owned()).unwrap_or_else(|_| format!("'{}'", s.replace('\'', "")))
}

/// True when pip's output says it installed without an extra that was asked for (pip exits 0).
pub fn missed_extra(output: &str) -> bool {
    output.contains("does not provide the extra")
}

/// A minimal INI reader (setup.cfg, tox.ini, pytest.ini): section → key → value, continuation
/// lines joined with newlines, `#` / `;` comment lines dropped.
pub fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    let mut key: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        if indented {
            if let Some(k) = &key {
                let v = out.entry(section.clone()).or_default().entry(k.clone()).or_default();
                if !v.is_empty() {
                    v.push('\n');
                }
                v.push_str(trimmed);
            }
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed[1..trimmed.len() - 1].trim().to_string();
            key = None;
            continue;
        }
        let split = trimmed.find(['=', ':']);
        if let Some(i) = split {
            let k = trimmed[..i].trim().to_string();
            let v = trimmed[i + 1..].trim().to_string();
            out.entry(section.clone()).or_default().insert(k.clone(), v);
            key = Some(k);
        }
    }
    out
}

/// Extra names in a `setup.py`, read as text: the string keys of the dict given as
/// `extras_require` (inline, or a name assigned a dict literal in the same file).
pub fn setup_py_extras(text: &str) -> Vec<String> {
    static ARG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"extras_require\s*=\s*(\{|[A-Za-z_][A-Za-z0-9_]*)").expect("regex"));
    let mut out = Vec::new();
    for cap in ARG.captures_iter(text) {
        let m = cap.get(1).expect("group");
        let start = if m.as_str() == "{" {
            Some(m.start())
        } else {
            let assign = Regex::new(&format!(r"(?m)^\s*{}\s*=\s*\{{", regex::escape(m.as_str()))).expect("regex");
            assign.find(text).map(|a| a.end() - 1)
        };
        if let Some(start) = start {
            out.extend(dict_keys(&text[start..]));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The string keys at the top level of the dict literal that `text` starts with.
fn dict_keys(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                let end = text[i + 1..].find(c as char).map(|e| i + 1 + e).unwrap_or(bytes.len());
                let s = &text[i + 1..end.min(text.len())];
                let after = text[end.min(text.len())..].get(1..).unwrap_or("").trim_start();
                if depth == 1 && after.starts_with(':') && !s.is_empty() {
                    keys.push(s.to_string());
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

/// What a collection run's output says is missing: distributions to install (from
/// `ModuleNotFoundError`s, "Missing required plugins", unrecognized plugin options), leaving
/// out the project's own modules (`local`).
pub fn missing_distributions(output: &str, local: &[String]) -> Vec<String> {
    static MODULE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"No module named ['"]?([A-Za-z_][A-Za-z0-9_.]*)['"]?"#).expect("regex"));
    static PLUGINS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"Missing required plugins: ([^\n]+)").expect("regex"));
    static OPTIONS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"unrecognized arguments: ([^\n]+)").expect("regex"));
    let mut out: Vec<String> = Vec::new();
    let mut push = |d: String| {
        if !out.contains(&d) {
            out.push(d);
        }
    };
    for cap in MODULE.captures_iter(output) {
        let top = cap[1].split('.').next().unwrap_or("").to_string();
        if top.is_empty() || local.contains(&top) || (top.starts_with('_') && top != "_pytest") {
            continue;
        }
        push(distribution_for_module(&top));
    }
    for cap in PLUGINS.captures_iter(output) {
        for p in cap[1].split(',').map(str::trim).filter(|p| !p.is_empty()) {
            push(p.to_string());
        }
    }
    for cap in OPTIONS.captures_iter(output) {
        for w in cap[1].split_whitespace() {
            if let Some(d) = plugin_for_option(w) {
                push(d.to_string());
            }
        }
    }
    out
}

/// The distribution that provides an import name: well-known mismatches, `pytest_x` plugins,
/// else the name itself with `_` as `-`.
pub fn distribution_for_module(module: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("yaml", "PyYAML"),
        ("dateutil", "python-dateutil"),
        ("PIL", "Pillow"),
        ("sklearn", "scikit-learn"),
        ("bs4", "beautifulsoup4"),
        ("attr", "attrs"),
        ("cv2", "opencv-python-headless"),
        ("google", "protobuf"),
        ("jwt", "PyJWT"),
        ("OpenSSL", "pyOpenSSL"),
        ("Crypto", "pycryptodome"),
        ("serial", "pyserial"),
        ("magic", "python-magic"),
        ("dotenv", "python-dotenv"),
        ("docx", "python-docx"),
        ("git", "GitPython"),
        ("jose", "python-jose"),
        ("multipart", "python-multipart"),
        ("zmq", "pyzmq"),
        ("usb", "pyusb"),
        ("pkg_resources", "setuptools"),
        ("_pytest", "pytest"),
        ("xdist", "pytest-xdist"),
        ("hamcrest", "PyHamcrest"),
        ("dns", "dnspython"),
        ("nacl", "PyNaCl"),
        ("slugify", "python-slugify"),
        ("ruamel", "ruamel.yaml"),
        ("Levenshtein", "python-Levenshtein"),
        ("markdown", "Markdown"),
        ("jinja2", "Jinja2"),
        ("pytest_cov", "pytest-cov"),
        ("typeguard", "typeguard"),
        ("tzdata", "tzdata"),
        ("fitz", "PyMuPDF"),
        ("skimage", "scikit-image"),
        ("Bio", "biopython"),
        ("win32api", "pywin32"),
        ("wx", "wxPython"),
        ("gi", "PyGObject"),
        ("lxml", "lxml"),
        ("simplejson", "simplejson"),
        ("memcache", "python-memcached"),
        ("MySQLdb", "mysqlclient"),
        ("psycopg2", "psycopg2-binary"),
        ("socks", "PySocks"),
        ("pydantic_core", "pydantic"),
        ("editdistance", "editdistance"),
        ("flask_sqlalchemy", "Flask-SQLAlchemy"),
        ("speedups", ""),
    ];
    if let Some((_, d)) = KNOWN.iter().find(|(m, _)| *m == module) {
        if !d.is_empty() {
            return d.to_string();
        }
    }
    module.replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn declared_extras_come_from_every_format() {
        let d = declared(
            &files(&[(
                "pyproject.toml",
                "[project]\nname='x'\n[project.optional-dependencies]\ntests = ['hypothesis']\ndocs = ['sphinx']\n",
            )]),
            &[],
        );
        assert_eq!(d.chosen_extras(), vec!["tests"]);
        let plan = install_plan(&d);
        assert_eq!(plan.len(), 1);
        assert!(plan[0].alternatives[0].ends_with("-e '.[tests]'"), "{plan:?}");
        assert!(plan[0].alternatives.iter().any(|a| a.ends_with("-e .")));

        let cfg = "[metadata]\nname = x\n[options.extras_require]\ntesting =\n    pretend\n    pytest\ndev = black\n";
        let d = declared(&files(&[("setup.cfg", cfg)]), &[]);
        assert_eq!(d.chosen_extras(), vec!["testing"]);

        let setup = "extras = {\n    'test': ['freezegun'],  # comment: 'no': 1\n    \"docs\": [\"sphinx\"],\n}\nsetup(name='x', extras_require=extras)\n";
        assert_eq!(setup_py_extras(setup), vec!["docs", "test"]);
        assert_eq!(setup_py_extras("setup(extras_require={'a': ['b'], 'c': {'d': 1}})"), vec!["a", "c"]);
        // Only dev-named extras: the first of them.
        let d = declared(&files(&[("setup.py", "setup(extras_require={'dev': [], 'docs': []})")]), &[]);
        assert_eq!(d.chosen_extras(), vec!["dev"]);
    }

    #[test]
    fn tox_groups_requirements_and_pytest_config() {
        let tox = "[tox]\nenvlist = py3{8,9}\n[testenv]\nextras = diagrams\ndeps =\n    -r{toxinidir}/tests/requirements.txt\n    py38: old-thing\n    coverage\ncommands = pytest {posargs}\n[pytest]\naddopts = -p pytest_mock --timeout=30\n";
        let pyproject = "[project]\nname='x'\n[dependency-groups]\ntest = ['pretend', {include-group = 'base'}]\nbase = ['six']\n[tool.pytest.ini_options]\nrequired_plugins = 'pytest-randomly>=3'\naddopts = ['-n', 'auto']\n";
        let d = declared(
            &files(&[
                ("tox.ini", tox),
                ("pyproject.toml", pyproject),
                ("tests/requirements.txt", "pretend\n"),
                ("requirements.txt", "six\n"),
                ("requirements/docs.txt", "sphinx\n"),
            ]),
            &[],
        );
        assert_eq!(d.tox_extras, vec!["diagrams"]);
        assert_eq!(d.tox_deps, vec!["-rtests/requirements.txt", "coverage"]);
        assert_eq!(d.groups["test"], vec!["pretend", "six"]);
        assert_eq!(d.chosen_groups(), vec!["test"]);
        assert_eq!(d.requirement_files, vec!["requirements.txt", "tests/requirements.txt"]);
        let wcwidth = order_requirement_files(
            [
                "requirements-develop.txt",
                "requirements-tests36.txt",
                "requirements-tests39.txt",
                "requirements-tests37.txt",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert_eq!(wcwidth, vec!["requirements-tests39.txt"]);
        let flask = order_requirement_files(
            ["requirements/dev.txt", "requirements/tests.txt", "requirements/base.txt"].map(String::from).to_vec(),
        );
        assert_eq!(flask, vec!["requirements/base.txt", "requirements/tests.txt"]);
        assert_eq!(order_requirement_files(vec!["requirements-dev.txt".into()]), vec!["requirements-dev.txt"]);
        for p in ["pytest-mock", "pytest-timeout", "pytest-randomly>=3", "pytest-xdist"] {
            assert!(d.pytest_plugins.iter().any(|x| x == p), "{p} in {:?}", d.pytest_plugins);
        }
        let plan = install_plan(&d);
        let whats: Vec<&str> = plan.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(
            whats,
            vec![
                "requirements file requirements.txt",
                "requirements file tests/requirements.txt",
                "the project",
                "dependency group test",
                "tox test deps",
                "pytest plugins"
            ]
        );
        assert!(plan[2].alternatives[0].contains(".[diagrams]"), "{:?}", plan[2]);
        assert!(plan[4].alternatives[0].ends_with("-r tests/requirements.txt coverage"), "{:?}", plan[4]);
        assert!(install_plan(&declared(&files(&[("README.md", "")]), &[])).is_empty());
        let sdist = declared(
            &files(&[("setup.py", "setup()"), ("PKG-INFO", "Metadata-Version: 2.1\nName: x\nVersion: 1.5.0\n")]),
            &[],
        );
        assert!(
            install_plan(&sdist)[0].alternatives[0].starts_with("SETUPTOOLS_SCM_PRETEND_VERSION=1.5.0 python3 -m pip")
        );
    }

    #[test]
    fn requirement_files_in_conventional_places() {
        for yes in [
            "requirements.txt",
            "requirements-test.txt",
            "dev-requirements.txt",
            "requirements/tests.txt",
            "tests/requirements.txt",
            "test/requirements-dev.txt",
        ] {
            assert!(is_requirement_file(yes), "{yes}");
        }
        for no in ["requirements/docs.txt", "docs/requirements.txt", "tests/data.txt", "README.txt", "requirements.in"]
        {
            assert!(!is_requirement_file(no), "{no}");
        }
    }

    #[test]
    fn packages_from_markers() {
        let markers: Vec<String> = [
            "src/cachetools/__init__.py",
            "six.py",
            "setup.py",
            "tests/__init__.py",
            "docs/__init__.py",
            "src/ns/",
            "conftest.py",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = packages(&markers);
        let names: Vec<(&str, &str)> = p.iter().map(|p| (p.path.as_str(), p.import_name.as_str())).collect();
        assert_eq!(names, vec![("six.py", "six"), ("src/cachetools", "cachetools"), ("src/ns", "ns")]);
    }

    #[test]
    fn missing_modules_map_to_distributions() {
        let out = "E   ModuleNotFoundError: No module named 'yaml'\nE   ModuleNotFoundError: No module named 'mypkg.sub'\nImportError while loading conftest: No module named 'hypothesis.strategies'\nERROR: Missing required plugins: pytest-mock, pytest-asyncio>=0.2\npytest: error: unrecognized arguments: --timeout=5 -n 2\n";
        assert_eq!(
            missing_distributions(out, &["mypkg".to_string()]),
            vec!["PyYAML", "hypothesis", "pytest-mock", "pytest-asyncio>=0.2", "pytest-timeout", "pytest-xdist"]
        );
        assert_eq!(distribution_for_module("dateutil"), "python-dateutil");
        assert_eq!(distribution_for_module("typing_extensions"), "typing-extensions");
        assert!(missed_extra("WARNING: attrs 24.2.0 does not provide the extra 'test'"));
    }

    #[test]
    fn ini_continuations_and_comments() {
        let ini = parse_ini("[a]\nk = 1\n  2\n# c\nj: x\n[b]\n; c\nz=\n    y\n");
        assert_eq!(ini["a"]["k"], "1\n2");
        assert_eq!(ini["a"]["j"], "x");
        assert_eq!(ini["b"]["z"], "y");
    }
}
