//! End to end: a real git repository in a tempdir, indexed with tree-sitter, mutated into
//! candidate tasks whose patches are checked with git2 and with the `git` command.

use socratic::anchor::{index_repo, FileIndex, IndexConfig, QuerySet};
use socratic::diff::git::Repo;
use socratic::diff::Patch;
use socratic::operators::CATALOGUE;
use socratic::tasks::{generate, GenerateConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::commit_all;

const LEDGER: &str = include_str!("fixtures/tallyho/ledger.py");
const UTIL: &str = include_str!("fixtures/tallyho/util.py");
const INIT: &str = include_str!("fixtures/tallyho/__init__.py");
const BROKEN: &str = include_str!("fixtures/tallyho/broken.py");

/// A committed repository plus a folder outside it (the symlink target).
struct Fixture {
    repo: tempfile::TempDir,
    _outside: tempfile::TempDir,
}

impl Fixture {
    fn root(&self) -> &Path {
        self.repo.path()
    }
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn fixture() -> Fixture {
    let repo_dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let root = repo_dir.path();
    write(root, "tallyho/__init__.py", INIT.as_bytes());
    write(root, "tallyho/ledger.py", LEDGER.as_bytes());
    write(root, "tallyho/util.py", UTIL.as_bytes());
    write(root, "tallyho/broken.py", BROKEN.as_bytes());
    write(root, "tallyho/latin.py", b"# caf\xe9\nname = 'caf\xe9'\n");
    write(
        root,
        "tests/test_ledger.py",
        b"from tallyho import Ledger\n\ndef test_balance():\n    assert Ledger('a', [1, 2]).balance() == 3\n",
    );
    write(root, "tallyho/conftest.py", b"import pytest\n");
    write(root, "README.md", b"# tallyho\n");
    write(outside.path(), "elsewhere.py", b"def elsewhere():\n    return 1\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("elsewhere.py"), root.join("tallyho/elsewhere.py"))
        .expect("symlink");
    commit_all(root);
    Fixture { repo: repo_dir, _outside: outside }
}

fn config(seed: u64, budget: usize) -> GenerateConfig {
    GenerateConfig { seed, budget, ..Default::default() }
}

/// The file a patch produces at HEAD, via git2.
fn patched_file(root: &Path, patch_text: &str, file: &str) -> String {
    let repo = git2::Repository::open(root).expect("open");
    let diff = git2::Diff::from_buffer(patch_text.as_bytes()).expect("diff");
    let head = repo.head().and_then(|h| h.peel_to_tree()).expect("head tree");
    let index = repo.apply_to_tree(&head, &diff, None).expect("apply to tree");
    let entry = index.get_path(Path::new(file), 0).expect("patched entry");
    let blob = repo.find_blob(entry.id).expect("blob");
    String::from_utf8(blob.content().to_vec()).expect("utf8")
}

fn git_apply_check(root: &Path, patch_text: &str) -> bool {
    let patch_file = root.join(".git").join("candidate.patch");
    std::fs::write(&patch_file, patch_text).expect("write patch");
    let out =
        Command::new("git").arg("apply").arg("--check").arg(&patch_file).current_dir(root).output().expect("run git");
    if !out.status.success() {
        eprintln!("git apply --check: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

#[test]
fn index_skips_what_it_should_and_reports_errors() {
    let fx = fixture();
    let queries = QuerySet::embedded();
    let index = index_repo(fx.root(), &queries, &IndexConfig::default()).expect("index");
    let files: Vec<&str> = index.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(files, ["tallyho/__init__.py", "tallyho/broken.py", "tallyho/ledger.py", "tallyho/util.py"]);
    let reason = |p: &str| index.skipped.iter().find(|s| s.path == p).map(|s| s.reason.clone()).unwrap_or_default();
    assert_eq!(reason("tests/"), "test folder");
    assert_eq!(reason("tallyho/conftest.py"), "test file");
    assert!(reason("tallyho/latin.py").starts_with("not UTF-8"), "{:?}", index.skipped);
    #[cfg(unix)]
    assert!(reason("tallyho/elsewhere.py").contains("outside the repository"), "{:?}", index.skipped);
    let broken = index.files.iter().find(|f| f.path == "tallyho/broken.py").expect("broken indexed");
    assert!(!broken.syntax_errors.is_empty());
    assert!(broken.definitions.iter().any(|d| d.name == "fine"), "what parsed is indexed");
    let ledger = index.files.iter().find(|f| f.path == "tallyho/ledger.py").expect("ledger");
    assert!(ledger.definitions.iter().any(|d| d.name == "Ledger.balance"));
    let loop_site = ledger.sites.iter().find(|s| s.query == "remove_loop").expect("loop site");
    assert_eq!(loop_site.scope, "Ledger.balance");
}

#[test]
fn every_operator_yields_applying_candidates() {
    let fx = fixture();
    let (tasks, reports) = generate(fx.root(), &config(7, 300)).expect("generate");
    assert_eq!(reports.len(), CATALOGUE.len());
    for r in &reports {
        assert!(r.candidates > 0 || r.reason.as_deref() == Some("no site"), "{r:?}");
        assert!(r.candidates > 0, "the fixture has a site for every operator: {r:?}");
    }
    let repo = Repo::open(fx.root()).expect("open");
    for t in &tasks {
        assert!(repo.check_applies(&t.bug_patch).is_ok(), "git2: {}", t.bug_patch);
        assert!(git_apply_check(fx.root(), &t.bug_patch), "git apply: {}", t.bug_patch);
        let after = patched_file(fx.root(), &t.bug_patch, &t.site.file);
        let original = std::fs::read_to_string(fx.root().join(&t.site.file)).expect("read the clean file");
        let patch = Patch::parse(&t.bug_patch).expect("the bug patch parses");
        assert_eq!(
            patch.files[0].apply(&original).as_deref(),
            Ok(after.as_str()),
            "in memory as git2: {}",
            t.bug_patch
        );
        let tree = socratic::anchor::parse_python(&after).expect("parse");
        assert!(!tree.root_node().has_error(), "{} broke the syntax:\n{}", t.operator, t.bug_patch);
        assert!(!t.problem_statement.contains(&t.operator));
        assert!(t.problem_statement.contains(&t.site.file));
        assert!(!t.enclosing.is_empty());
    }
    let ids: std::collections::HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), tasks.len(), "no duplicate ids");
}

#[test]
fn same_seed_same_tasks_and_budget_is_respected() {
    let fx = fixture();
    let ids = |seed| {
        generate(fx.root(), &config(seed, 40)).expect("generate").0.into_iter().map(|t| t.id).collect::<Vec<_>>()
    };
    let a = ids(11);
    assert_eq!(a.len(), 40);
    assert_eq!(a, ids(11));
    let only = GenerateConfig { operators: Some(vec!["remove_loop".into()]), ..config(3, 100) };
    let (tasks, reports) = generate(fx.root(), &only).expect("generate");
    assert_eq!(reports.len(), 1);
    assert!(tasks.iter().all(|t| t.operator == "remove_loop"));
    assert_eq!(tasks.len(), reports[0].candidates);
}

#[test]
fn executed_lines_keep_generation_to_code_the_tests_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = "def run(x):\n    if x > 1:\n        return x + 1\n    return 0\n\n\ndef idle(y):\n    if y < 2:\n        return y - 1\n    return 1\n";
    write(dir.path(), "pkg/mod.py", src.as_bytes());
    commit_all(dir.path());
    let all = generate(dir.path(), &config(0, 100)).expect("generate").0;
    assert!(all.iter().any(|t| t.site.start_line >= 6), "idle() has sites");
    let executed = [("pkg/mod.py".to_string(), (1..=4).collect())].into_iter().collect();
    let (tasks, reports) =
        generate(dir.path(), &GenerateConfig { executed_lines: Some(executed), ..config(0, 100) }).expect("generate");
    assert!(!tasks.is_empty());
    assert!(
        tasks.iter().all(|t| t.site.end_line < 4),
        "only run()'s lines 1-4 (rows 0-3): {:?}",
        tasks.iter().map(|t| (&t.operator, t.site.start_line)).collect::<Vec<_>>()
    );
    assert!(reports.iter().any(|r| r.rejected.get("not-executed-by-tests").is_some_and(|n| *n > 0)));
}

#[test]
fn operator_without_site_says_no_site() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "plain.py", b"def f(x):\n    return x\n");
    commit_all(dir.path());
    let (_, reports) = generate(dir.path(), &config(0, 50)).expect("generate");
    let loops = reports.iter().find(|r| r.operator == "remove_loop").expect("report");
    assert_eq!((loops.candidates, loops.reason.as_deref()), (0, Some("no site")));
}

#[test]
fn incremental_edits_match_a_full_reindex() {
    let queries = QuerySet::embedded();
    let mut file = FileIndex::new("tallyho/ledger.py", LEDGER.to_string(), &queries).expect("index");
    let insert_at = LEDGER.find("    def countdown").expect("anchor");
    let edits: Vec<(usize, usize, String)> = vec![
        (
            insert_at,
            insert_at,
            "    def extra(self, x):\n        if x is None:\n            return 0\n        return x * 2\n\n"
                .to_string(),
        ),
        (0, 0, "import os\n".to_string()),
        (20, 21, String::new()),
        (30, 30, "(".to_string()),
        (30, 31, String::new()),
    ];
    for (start, end, text) in edits {
        let (start, end) = (start.min(file.source().len()), end.min(file.source().len()));
        file.apply_edit(start, end, &text, &queries).expect("edit");
        let fresh = FileIndex::new("tallyho/ledger.py", file.source().to_string(), &queries).expect("fresh");
        assert_eq!(file.sites, fresh.sites, "after editing {start}..{end}");
        assert_eq!(file.definitions, fresh.definitions);
        assert_eq!(file.syntax_errors, fresh.syntax_errors);
    }
    assert!(file.definitions.iter().any(|d| d.name == "Ledger.extra"));
}

#[test]
fn broken_user_query_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "good.scm", b"(return_statement) @site\n");
    write(dir.path(), "broken.scm", b"; a user anchor\n\n(if_statement\n  condition: (no_such_node)) @site\n");
    let set = QuerySet::from_dir(dir.path()).expect("load");
    assert_eq!(set.names(), ["good"]);
    let p = &set.problems[0];
    assert!(p.file.ends_with("broken.scm"), "{p}");
    assert_eq!(p.line, 4, "{p}");
}

#[test]
fn non_git_path_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = index_repo(dir.path(), &QuerySet::embedded(), &IndexConfig::default()).expect_err("not a repo");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()) && msg.contains("not a git repository"), "{msg}");
    assert!(generate(&dir.path().join("missing"), &config(0, 1)).is_err());
}

use common::{socratic, stdout_json as json};

#[test]
fn cli_index_generate_list_show() {
    let fx = fixture();
    let home = tempfile::tempdir().expect("home");
    let root: PathBuf = fx.root().to_path_buf();
    let root_s = root.to_str().expect("path");

    let out = socratic(home.path(), &["repo", "index", root_s, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let index = json(&out);
    assert_eq!(index["files"], 4);
    assert!(index["sites"]["remove_loop"].as_u64().unwrap_or(0) >= 3);
    assert!(index["skipped"].as_array().is_some_and(|s| s.iter().any(|k| k["path"] == "tests/")));
    assert!(index["syntax_errors"][0]["file"] == "tallyho/broken.py");

    let out =
        socratic(home.path(), &["tasks", "generate", "--repo", root_s, "--budget", "30", "--seed", "5", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = json(&out);
    assert_eq!(generated["generated"], 30);
    assert_eq!(generated["stored_new"], 30);

    let out = socratic(home.path(), &["tasks", "list", "--json"]);
    let list = json(&out);
    let rows = list.as_array().expect("rows");
    assert_eq!(rows.len(), 30);
    let id = rows[0]["id"].as_str().expect("id");

    let out = socratic(home.path(), &["tasks", "show", &id[..8]]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("diff --git a/"), "{text}");

    let out = socratic(home.path(), &["tasks", "generate", "--repo", root_s, "--operators", "nope"]);
    assert_eq!(out.status.code(), Some(2));

    let queries = tempfile::tempdir().expect("queries");
    write(queries.path(), "broken.scm", b"(nonexistent) @site\n");
    let out = socratic(home.path(), &["repo", "index", root_s, "--queries", queries.path().to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.scm:1:"), "{}", String::from_utf8_lossy(&out.stderr));

    let not_repo = tempfile::tempdir().expect("dir");
    let out = socratic(home.path(), &["repo", "index", not_repo.path().to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a git repository"));
}
