//! JUnit XML (pytest `--junitxml`, `junit_family=xunit1`) to per-test statuses.
//!
//! In: the XML text. Out: pytest node id (`tests/test_x.py::TestC::test_a[1]`) → `TestStatus`,
//! plus the first failure message of each failing test (for problem statements).

use crate::model::{TestResult, TestStatus};
use quick_xml::events::{BytesStart, Event};
use std::collections::BTreeMap;

/// Parse a JUnit report; `Err` names what was malformed.
pub fn parse(xml: &str) -> Result<BTreeMap<String, TestResult>, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = BTreeMap::new();
    let mut current: Option<(String, TestResult)> = None;
    loop {
        match reader.read_event().map_err(|e| format!("JUnit XML at byte {}: {e}", reader.buffer_position()))? {
            Event::Start(e) if e.name().as_ref() == b"testcase" => {
                current = Some((node_id(&e), passed(&e)));
            }
            Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                out.insert(node_id(&e), passed(&e));
            }
            Event::Start(e) | Event::Empty(e) if current.is_some() => {
                if let Some((_, result)) = current.as_mut() {
                    apply_child(result, &e);
                }
            }
            Event::End(e) if e.name().as_ref() == b"testcase" => {
                if let Some((id, result)) = current.take() {
                    out.insert(id, result);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// A test case before its children say otherwise.
fn passed(e: &BytesStart) -> TestResult {
    let seconds = attr(e, "time").and_then(|t| t.parse().ok()).unwrap_or(0.0);
    TestResult { status: TestStatus::Passed, message: String::new(), seconds }
}

/// A `<failure>`, `<error>` or `<skipped>` child sets the status (the worst one wins).
fn apply_child(result: &mut TestResult, e: &BytesStart) {
    let status = match e.name().as_ref() {
        b"failure" => TestStatus::Failed,
        b"error" => TestStatus::Error,
        b"skipped" => {
            if attr(e, "type").is_some_and(|t| t.contains("xfail")) {
                TestStatus::XFail
            } else {
                TestStatus::Skipped
            }
        }
        _ => return,
    };
    if result.status == TestStatus::Passed || status == TestStatus::Error {
        result.status = status;
        result.message = attr(e, "message").unwrap_or_default();
    }
}

fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Rebuild the pytest node id from `classname` and `name`. pytest derives `classname` from the
/// node id (the collecting module's dotted path, then the classes), while `file` names where the
/// function is defined — another module for inherited tests — so `file` only serves when the
/// classname cannot be split. Test classes start with an upper-case letter (`Test*`); modules
/// don't.
fn node_id(e: &BytesStart) -> String {
    node_id_from(
        &attr(e, "classname").unwrap_or_default(),
        &attr(e, "name").unwrap_or_default(),
        attr(e, "file").as_deref(),
    )
}

/// The node id for a JUnit `classname`, `name` and `file` (see `node_id`); also used for the
/// runner's results, which carry the same three fields, so both read back the same ids.
pub fn node_id_from(classname: &str, name: &str, file: Option<&str>) -> String {
    let parts: Vec<&str> = classname.split('.').filter(|p| !p.is_empty()).collect();
    let first_class = parts.iter().position(|p| p.starts_with(|c: char| c.is_ascii_uppercase())).unwrap_or(parts.len());
    let (module, classes) = parts.split_at(first_class);
    let path = if module.is_empty() {
        match file.filter(|f| !f.is_empty()) {
            Some(file) => file.to_string(),
            None => return if classname.is_empty() { name.to_string() } else { format!("{classname}::{name}") },
        }
    } else {
        format!("{}.py", module.join("/"))
    };
    let mut id = path;
    for class in classes {
        id.push_str("::");
        id.push_str(class);
    }
    format!("{id}::{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="4">
<testcase classname="tests.test_money" name="test_add" file="tests/test_money.py" line="3" time="0.001" />
<testcase classname="tests.test_money.TestRound" name="test_half[2]" file="tests/test_money.py" line="9" time="0.001"><failure message="AssertionError: assert 3 == 2">trace</failure></testcase>
<testcase classname="tests.test_money" name="test_skip" file="tests/test_money.py" line="12" time="0"><skipped type="pytest.skip" message="later" /></testcase>
<testcase classname="tests.test_io" name="test_read" file="tests/test_io.py" line="1" time="0"><error message="ValueError: bad &amp; worse">x</error></testcase>
<testcase classname="" name="tests.test_broken" file="tests/test_broken.py" time="0.000"><error message="collection failure">ImportError</error></testcase>
</testsuite></testsuites>"#;

    #[test]
    fn node_ids_and_statuses() {
        let r = parse(REPORT).unwrap();
        assert_eq!(r.len(), 5);
        assert!(crate::model::has_collection_error(&r));
        assert_eq!(r["tests/test_money.py::test_add"].status, TestStatus::Passed);
        assert_eq!(r["tests/test_money.py::test_add"].seconds, 0.001);
        let half = &r["tests/test_money.py::TestRound::test_half[2]"];
        assert_eq!(half.status, TestStatus::Failed);
        assert_eq!(half.message, "AssertionError: assert 3 == 2");
        assert_eq!(r["tests/test_money.py::test_skip"].status, TestStatus::Skipped);
        assert_eq!(r["tests/test_io.py::test_read"].message, "ValueError: bad & worse");
    }

    #[test]
    fn inherited_tests_keep_their_collecting_module_and_class() {
        let xml = r#"<testsuite><testcase classname="tests.pkg.test_timed.TestTimed" name="test_payload[zlib]" file="tests/pkg/test_serializer.py" line="5" time="0.01" /></testsuite>"#;
        let r = parse(xml).unwrap();
        assert!(r.contains_key("tests/pkg/test_timed.py::TestTimed::test_payload[zlib]"), "{r:?}");
    }

    #[test]
    fn malformed_xml_is_an_error_not_a_panic() {
        assert!(parse("<testsuite><testcase name='a'></testsuite>").is_err());
        assert!(parse("").unwrap().is_empty());
        let ok = parse(
            r#"<testsuite><testcase classname="a" name="t" file="a.py"><error message="boom"/></testcase></testsuite>"#,
        )
        .unwrap();
        assert!(!crate::model::has_collection_error(&ok));
    }
}
