//! Data-driven tests of the diff module: one `check_*` helper per behaviour.

use super::*;
use proptest::prelude::*;

/// Two files (the second with two hunks and a section), an index line, a missing final newline.
const TWO_FILES: &str = "diff --git a/pkg/m.py b/pkg/m.py\nindex 3b18e51..a9c2f0d 100644\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1,4 +1,5 @@ def f():\n a\n-b\n-c\n+B\n+C\n+D\n d\ndiff --git a/pkg/n.py b/pkg/n.py\n--- a/pkg/n.py\n+++ b/pkg/n.py\n@@ -2,3 +2,3 @@ class Box:\n     def area(self, w, h):\n-        return w + h\n+        return w * h\n \n@@ -10 +10 @@ def last():\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n";
const NEW_FILE: &str = "diff --git a/n.py b/n.py\nnew file mode 100644\nindex 0000000..abc\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1,2 @@\n+hi\n+there\n";
const DELETED_FILE: &str = "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\nindex abc..0000000\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n";
const RENAME: &str = "diff --git a/old.py b/new.py\nsimilarity index 80%\nrename from old.py\nrename to new.py\nindex 111..222\n--- a/old.py\n+++ b/new.py\n@@ -1 +1 @@\n-a\n+b\n";
const MODE_AND_EMPTY: &str = "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\ndiff --git a/e.txt b/e.txt\nnew file mode 100644\nindex 0000000..e69de29\n";
const CRLF: &str =
    "diff --git a/w.py b/w.py\r\n--- a/w.py\r\n+++ b/w.py\r\n@@ -1,3 +1,3 @@\r\n a = 1\r\n-b = 2\r\n+b = 3\r\n\r\n";
const PLAIN: &str = "--- m.py\t2024-01-01 10:00:00.000000000 +0000\n+++ m.py\t2024-01-02 10:00:00.000000000 +0000\n@@ -3,2 +3,3 @@\n a\n+b\n c\n";
const MAIL: &str = "From 1234 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] fix\n\n---\n m.py | 2 +-\n\ndiff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.0\n\n";
const BINARY: &str = "diff --git a/x.bin b/x.bin\nindex 1..2 100644\nGIT binary patch\nliteral 1\nIcmZo*00001\n\n";
const SVN: &str = "Index: a.py\n===================================================================\n--- a.py\t(revision 1)\n+++ a.py\t(working copy)\n@@ -1 +1 @@\n-x\n+y\nIndex: b.py\n===================================================================\n--- b.py\t(revision 1)\n+++ b.py\t(working copy)\n@@ -1 +1 @@\n-p\n+q\n";

const REALISTIC: &[&str] = &[TWO_FILES, NEW_FILE, DELETED_FILE, RENAME, MODE_AND_EMPTY, CRLF, PLAIN, MAIL, BINARY, SVN];

fn check_round_trip(text: &str) {
    let patch = Patch::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(patch.render(), text);
}

#[test]
fn parse_then_render_gives_the_same_bytes() {
    for text in REALISTIC {
        check_round_trip(text);
    }
    check_round_trip("");
    check_round_trip("just text\nno diff\n");
    check_round_trip(&REALISTIC.concat());
    check_round_trip(TWO_FILES.trim_end_matches('\n'));
}

fn check_paths(text: &str, expected: &[(Option<&str>, Option<&str>)]) {
    let patch = Patch::parse(text).unwrap();
    let got: Vec<(Option<String>, Option<String>)> = patch.files.iter().map(|f| (f.old_path(), f.new_path())).collect();
    let want: Vec<(Option<String>, Option<String>)> =
        expected.iter().map(|(o, n)| (o.map(str::to_string), n.map(str::to_string))).collect();
    assert_eq!(got, want, "{text}");
}

#[test]
fn files_name_their_old_and_new_paths() {
    check_paths(TWO_FILES, &[(Some("pkg/m.py"), Some("pkg/m.py")), (Some("pkg/n.py"), Some("pkg/n.py"))]);
    check_paths(NEW_FILE, &[(None, Some("n.py"))]);
    check_paths(DELETED_FILE, &[(Some("gone.py"), None)]);
    check_paths(RENAME, &[(Some("old.py"), Some("new.py"))]);
    check_paths(MODE_AND_EMPTY, &[(Some("run.sh"), Some("run.sh")), (Some("e.txt"), Some("e.txt"))]);
    check_paths(PLAIN, &[(Some("m.py"), Some("m.py"))]);
    check_paths(SVN, &[(Some("a.py"), Some("a.py")), (Some("b.py"), Some("b.py"))]);
    check_paths(
        "--- \"a/caf\\303\\251.py\"\n+++ \"b/caf\\303\\251.py\"\n@@ -1 +1 @@\n-a\n+b\n",
        &[(Some("café.py"), Some("café.py"))],
    );
    check_paths("@@ -1 +1 @@\n-a\n+b\n", &[(None, None)]);
}

#[test]
fn headers_are_typed() {
    let patch = Patch::parse(RENAME).unwrap();
    let kinds: Vec<&Header> = patch.files[0].header.iter().map(|h| &h.header).collect();
    assert_eq!(kinds[0], &Header::Git("a/old.py b/new.py".into()));
    assert_eq!(kinds[1], &Header::Text("similarity index 80%".into()));
    assert_eq!(kinds[2], &Header::RenameFrom("old.py".into()));
    assert_eq!(kinds[4], &Header::Index { from: "111".into(), to: "222".into(), mode: None });
    let mail = Patch::parse(MAIL).unwrap();
    assert_eq!(mail.files.len(), 1);
    assert_eq!(mail.trailer.len(), 3, "the signature after the last hunk: {:?}", mail.trailer);
    assert!(Patch::parse(BINARY).unwrap().files[0].is_binary());
}

/// The hunks of a parsed patch: (old start, old len, new start, new len, section, kinds).
fn check_hunks(text: &str, expected: &[(u32, u32, u32, u32, &str, &str)]) {
    let patch = Patch::parse(text).unwrap();
    let got: Vec<(u32, u32, u32, u32, String, String)> = patch
        .hunks()
        .map(|h| {
            let kinds = h.lines.iter().map(|l| if l.sign().is_empty() { "_" } else { l.sign() }).collect::<String>();
            (h.old.start, h.old.len, h.new.start, h.new.len, h.section.clone(), kinds)
        })
        .collect();
    let want: Vec<(u32, u32, u32, u32, String, String)> =
        expected.iter().map(|(a, b, c, d, s, k)| (*a, *b, *c, *d, s.to_string(), k.to_string())).collect();
    assert_eq!(got, want, "{text}");
}

#[test]
fn hunks_are_read_by_their_counts() {
    check_hunks(
        TWO_FILES,
        &[
            (1, 4, 1, 5, " def f():", " --+++ "),
            (2, 3, 2, 3, " class Box:", " -+ "),
            (10, 1, 10, 1, " def last():", "-+"),
        ],
    );
    check_hunks(CRLF, &[(1, 3, 1, 3, "", " -+_")]);
    check_hunks(NEW_FILE, &[(0, 0, 1, 2, "", "++")]);
    // `-- ` after the last hunk is a mail signature, not a removed line.
    check_hunks(MAIL, &[(1, 1, 1, 1, "", "-+")]);
}

#[test]
fn hunk_sides_are_rebuilt() {
    let patch = Patch::parse(TWO_FILES).unwrap();
    let h = patch.files[1].hunks[0].clone();
    let (old, new) = (h.old_side(), h.new_side());
    assert_eq!(old.lines, ["    def area(self, w, h):", "        return w + h", ""]);
    assert_eq!(old.changed, [1]);
    assert_eq!(new.lines[new.changed[0]], "        return w * h");
    let last = &patch.files[1].hunks[1];
    assert_eq!(last.lines[0].file_text(), "x", "a marker means the file's line has no end");
    let crlf = Patch::parse(CRLF).unwrap();
    assert_eq!(crlf.files[0].hunks[0].old_side().lines, ["a = 1", "b = 2", ""]);
}

fn check_parse_error(text: &str, line: usize, problem: &str) {
    match Patch::parse(text) {
        Err(PatchError::Malformed { line: l, problem: p }) => {
            assert_eq!(l, line, "{p}");
            assert!(p.contains(problem), "{p:?} should say {problem:?}");
        }
        other => panic!("{text:?} gave {other:?}"),
    }
}

#[test]
fn malformed_patches_name_the_line_and_the_problem() {
    check_parse_error("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n", 3, "ends early");
    check_parse_error("--- a/x\n+++ b/x\n@@ -1 +1 @@\n?a\n+b\n", 4, "neither context");
    check_parse_error("--- a/x\n@@ -1 +1 @@\n-a\n+b\n", 1, "not followed by a `+++`");
    check_parse_error("+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", 1, "without a `---`");
    check_parse_error("--- a/x\n+++ b/x\n@@ -1 +1\n-a\n", 3, "malformed hunk header");
    check_parse_error("--- a/x\n+++ b/x\n@@ -01 +1 @@\n-a\n+b\n", 3, "malformed hunk header");
    check_parse_error("--- a/x\n+++ b/x\n@@ -1,0 +1 @@\n-a\n+b\n", 4, "more removed lines");
    check_parse_error("--- a/x\n+++ b/x\n@@ -1 +1 @@\n\\ No newline at end of file\n-a\n+b\n", 4, "before any line");
    check_parse_error("@@ -1 +1 @@\n-a\n\\ x\n\\ y\n+b\n", 4, "two `\\` markers");
    check_parse_error("@@ -99999999999 +1 @@\n-a\n+b\n", 1, "malformed hunk header");
}

/// `reverse(text)` is `expected`, or an error containing the `Err` text.
fn check_reverse(text: &str, expected: Result<&str, &str>) {
    match (reverse(text), expected) {
        (Ok(got), Ok(want)) => assert_eq!(got, want, "reverse of\n{text}"),
        (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e} should say {want:?}"),
        (got, want) => panic!("reverse of {text:?}: {got:?}, expected {want:?}"),
    }
}

#[test]
fn reverse_swaps_lines_ranges_and_headers() {
    // Removals first in each change block; implicit lengths written out; markers move along.
    check_reverse(
        "diff --git a/m.py b/m.py\nindex 111..222 100644\n--- a/m.py\n+++ b/m.py\n@@ -1,4 +1,5 @@ def f():\n a\n-b\n-c\n+B\n+C\n+D\n d\n@@ -10 +11 @@\n-x\n+y\n\\ No newline at end of file\n",
        Ok("diff --git a/m.py b/m.py\nindex 222..111 100644\n--- a/m.py\n+++ b/m.py\n@@ -1,5 +1,4 @@ def f():\n a\n-B\n-C\n-D\n+b\n+c\n d\n@@ -11,1 +10,1 @@\n-y\n\\ No newline at end of file\n+x\n"),
    );
    // `a/` stays the old side, as `git apply` requires.
    check_reverse(
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@ def f\n def f(x):\n-    return x + 1\n+    return x - 1\n \n",
        Ok("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@ def f\n def f(x):\n-    return x - 1\n+    return x + 1\n \n"),
    );
    check_reverse(
        NEW_FILE,
        Ok("diff --git a/n.py b/n.py\ndeleted file mode 100644\nindex abc..0000000\n--- a/n.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-hi\n-there\n"),
    );
    check_reverse(
        RENAME,
        Ok("diff --git a/new.py b/old.py\nsimilarity index 80%\nrename to old.py\nrename from new.py\nindex 222..111\n--- a/new.py\n+++ b/old.py\n@@ -1,1 +1,1 @@\n-b\n+a\n"),
    );
    check_reverse(
        "--- m.py\n+++ m2.py\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.0\n",
        Ok("--- m2.py\n+++ m.py\n@@ -1,1 +1,1 @@\n-b\n+a\n-- \n2.39.0\n"),
    );
    check_reverse(CRLF, Ok("diff --git a/w.py b/w.py\r\n--- a/w.py\r\n+++ b/w.py\r\n@@ -1,3 +1,3 @@\r\n a = 1\r\n-b = 3\r\n+b = 2\r\n\r\n"));
}

#[test]
fn reverse_refuses_what_it_cannot_reverse() {
    check_reverse("", Err("no hunk"));
    check_reverse("just text\n", Err("no hunk"));
    check_reverse("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n", Err("line 3: the hunk `@@ -1,2 +1,2 @@` ends early"));
    check_reverse("--- a/x\n+++ b/x\n@@ -1 +1 @@\n?a\n+b\n", Err("line 4"));
    check_reverse("diff --git a/x b/x\nGIT binary patch\nliteral 1\n", Err("no hunk"));
    check_reverse(&format!("{BINARY}{RENAME}"), Err("binary content `GIT binary patch`"));
    check_reverse("--- a/x\n@@ -1 +1 @@\n-a\n+b\n", Err("not followed by a `+++` line"));
    check_reverse(
        "diff --git a/x b/y\ncopy from x\ncopy to y\n--- a/x\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n",
        Err("a copy `copy from x`"),
    );
    check_reverse("diff --git a/x b/y b/z\n--- a/x\n+++ b/z\n@@ -1 +1 @@\n-a\n+b\n", Err("cannot be told apart"));
}

#[test]
fn reversing_twice_gives_the_patch_with_lengths_written_out() {
    for text in [TWO_FILES, NEW_FILE, DELETED_FILE, RENAME, CRLF, PLAIN, MAIL, SVN] {
        let once = reverse(text).unwrap();
        let twice = reverse(&once).unwrap();
        assert_eq!(reverse(&twice).unwrap(), once, "{text}");
        let written_out = Patch::parse(text).unwrap().hunks().all(|h| h.old.len_written && h.new.len_written);
        if written_out {
            assert_eq!(twice, text);
        }
    }
}

fn check_changed_lines(text: &str, expected: &[(&str, &[u32])]) {
    let got = Patch::parse(text).unwrap().changed_old_lines();
    let want: BTreeMap<String, BTreeSet<u32>> =
        expected.iter().map(|(f, l)| (f.to_string(), l.iter().copied().collect())).collect();
    assert_eq!(got, want, "{text}");
}

#[test]
fn changed_lines_are_old_side_lines() {
    let replace = "diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -10,3 +10,3 @@ def f():\n     a = 1\n-    if a < 2:\n+    if a <= 2:\n         return a\n";
    check_changed_lines(replace, &[("pkg/m.py", &[11])]);
    // An insertion counts the lines on both sides of it.
    check_changed_lines("--- a/f.py\n+++ b/f.py\n@@ -3,2 +3,3 @@\n a\n+b\n c\n", &[("f.py", &[3, 4])]);
    check_changed_lines(TWO_FILES, &[("pkg/m.py", &[2, 3]), ("pkg/n.py", &[3, 10])]);
    check_changed_lines(NEW_FILE, &[("n.py", &[1])]);
    check_changed_lines(DELETED_FILE, &[("gone.py", &[1])]);
    check_changed_lines(RENAME, &[("old.py", &[1])]);
    check_changed_lines("@@ -1 +1 @@\n-a\n+b\n", &[]);
}

/// `apply(original)` of the patch's only file is `expected`, or an error containing the `Err`.
fn check_apply(text: &str, original: &str, expected: Result<&str, &str>) {
    let patch = Patch::parse(text).unwrap();
    match (patch.files[0].apply(original), expected) {
        (Ok(got), Ok(want)) => assert_eq!(got, want),
        (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e} should say {want:?}"),
        (got, want) => panic!("applying {text:?} to {original:?}: {got:?}, expected {want:?}"),
    }
}

#[test]
fn apply_in_memory() {
    let m = "a\nb\nc\nd\n";
    check_apply(&unified_diff("m.py", m, "a\nB\nc\nd\ne\n"), m, Ok("a\nB\nc\nd\ne\n"));
    check_apply("--- a/m\n+++ b/m\n@@ -0,0 +1 @@\n+top\n", m, Ok("top\na\nb\nc\nd\n"));
    check_apply(NEW_FILE, "", Ok("hi\nthere\n"));
    check_apply(DELETED_FILE, "bye\n", Ok(""));
    check_apply(CRLF, "a = 1\r\nb = 2\r\n\r\n", Ok("a = 1\r\nb = 3\r\n\r\n"));
    check_apply(&unified_diff("m", "x", "y"), "x", Ok("y"));
    check_apply(
        "--- a/m\n+++ b/m\n@@ -2 +2 @@\n-b\n+B\n",
        "a\nX\n",
        Err("m: hunk 1 does not apply: line 2 is \"X\\n\""),
    );
    check_apply("--- a/m\n+++ b/m\n@@ -5 +5 @@\n-b\n+B\n", m, Err("the file has 4 lines"));
    check_apply("--- a/m\n+++ b/m\n@@ -2 +2 @@\n-b\n+B\n@@ -1 +1 @@\n-a\n+A\n", m, Err("hunk 2 does not apply"));
    check_apply(BINARY, "", Err("binary"));
    // A line without its end does not match one with it.
    check_apply("--- a/m\n+++ b/m\n@@ -1 +1 @@\n-a\n+b\n", "a", Err("line 1 is \"a\""));
}

#[test]
fn unified_diff_has_git_header_and_hunk() {
    let p = unified_diff("pkg/m.py", "a = 1\nb = 2\n", "a = 1\nb = 3\n");
    assert!(p.starts_with("diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@"), "{p}");
    assert!(p.contains("-b = 2\n+b = 3\n"), "{p}");
    let no_newline = unified_diff("m.py", "a = 1", "a = 2");
    assert!(no_newline.contains("\\ No newline at end of file"), "{no_newline}");
    check_round_trip(&p);
    check_round_trip(&no_newline);
}

#[test]
fn normalisation_ignores_layout() {
    let a = unified_diff("m.py", "x = 1\n", "x = a+b\n");
    let b = unified_diff("m.py", "x = 1\n", "x = a + b\n");
    assert_eq!(normalised(&a), normalised(&b));
    assert_eq!(normalised(&a), "-x=1\n+x=a+b");
    assert_ne!(normalised(&a), normalised(&unified_diff("m.py", "x = 1\n", "x = a - b\n")));
    assert_eq!(normalised("@@ -1,2 +1 @@\n-a\n+ b\n"), "@@-1,2+1@@-a+b", "a malformed patch is its own key");
}

/// Lines of Python-ish text (with repeats), with or without a final newline, sometimes CRLF.
fn text_strategy() -> impl Strategy<Value = String> {
    let line = prop::sample::select(vec!["a = 1", "b = 2", "", "    return x", "if a:", "-- x", "+y", "\\ z", "@@"]);
    (prop::collection::vec(line, 0..12), any::<bool>(), any::<bool>()).prop_map(|(lines, crlf, final_end)| {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(end);
        if final_end && !text.is_empty() {
            text.push_str(end);
        }
        text
    })
}

/// What `similar` itself writes for the same texts.
fn similar_text_diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after).unified_diff().context_radius(3).header("a/m.py", "b/m.py").to_string()
}

#[test]
fn diffs_of_texts_with_repeated_lines_count_their_hunks_right() {
    // `similar` writes `@@ -1 +2 @@` here, with two lines on its old side.
    let (before, after) = ("\nif a:\n", "if a:\nif a:\n");
    assert!(Patch::parse(&similar_text_diff(before, after)).is_err());
    let ours = text_diff("a/m.py", "b/m.py", before, after);
    assert_eq!(ours, "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n-\n if a:\n+if a:\n");
    assert_eq!(Patch::parse(&ours).unwrap().files[0].apply(before).unwrap(), after);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Diffs of random texts parse, render back, apply, and their reverse applies back.
    #[test]
    fn apply_of_reverse_restores_the_original(before in text_strategy(), after in text_strategy()) {
        let text = unified_diff("m.py", &before, &after);
        let patch = Patch::parse(&text).unwrap();
        prop_assert_eq!(patch.render(), text.clone());
        if before == after {
            prop_assert!(patch.reverse().is_err());
        } else {
            prop_assert_eq!(patch.files[0].apply(&before), Ok(after.clone()), "{}", text);
            let reversed = patch.reverse().unwrap();
            prop_assert_eq!(reversed.files[0].apply(&after), Ok(before), "{}", reversed);
            prop_assert_eq!(reversed.reverse().unwrap().render(), reverse(&reversed.render()).unwrap());
        }
    }

    /// Where `similar`'s own output is right, ours is byte for byte the same.
    #[test]
    fn diffs_are_written_as_similar_writes_them(before in text_strategy(), after in text_strategy()) {
        let theirs = similar_text_diff(&before, &after);
        let right = Patch::parse(&theirs).ok().and_then(|p| p.files.first().map(|f| f.apply(&before)));
        prop_assume!(theirs.is_empty() || right == Some(Ok(after.clone())));
        prop_assert_eq!(text_diff("a/m.py", "b/m.py", &before, &after), theirs);
    }

    /// Mutated patches (a byte replaced, a line dropped or duplicated, cut short) and random
    /// text never panic; whatever parses renders back byte for byte.
    #[test]
    fn mutated_patches_parse_or_fail_cleanly(
        which in 0..REALISTIC.len(), at in any::<prop::sample::Index>(), byte in any::<u8>(), op in 0..4u8,
    ) {
        let original = REALISTIC[which];
        let text = mutate(original, at.index(original.len().max(1)), byte, op);
        if let Ok(patch) = Patch::parse(&text) {
            prop_assert_eq!(patch.render(), text.clone());
            if let Ok(reversed) = patch.reverse() {
                prop_assert!(Patch::parse(&reversed.render()).is_ok(), "{}", reversed);
            }
            for file in &patch.files {
                let _ = file.apply(&text);
            }
            let _ = patch.changed_old_lines();
        }
    }

    #[test]
    fn random_text_never_panics(text in "(@@ -[0-9,]{0,4} \\+[0-9,]{0,4} @@\n|[-+ \\\\]?[a-z\r]{0,3}\n|--- a/x\n|\\+\\+\\+ b/x\n|diff --git a/x b/x\n){0,12}") {
        if let Ok(patch) = Patch::parse(&text) {
            prop_assert_eq!(patch.render(), text.clone());
            let _ = patch.reverse();
            for file in &patch.files {
                let _ = file.apply("a\nb\n");
            }
        }
    }
}

/// `text` with one edit at byte `at`: 0 replaces a byte, 1 drops the line, 2 duplicates it,
/// 3 cuts the text there.
fn mutate(text: &str, at: usize, byte: u8, op: u8) -> String {
    let at = (0..=at.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
    match op {
        0 => {
            let mut bytes = text.as_bytes().to_vec();
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => format!("{}{}", &text[..line_start], &text[line_end..]),
        2 => format!("{}{}", &text[..line_end], &text[line_start..]),
        _ => text[..at].to_string(),
    }
}
