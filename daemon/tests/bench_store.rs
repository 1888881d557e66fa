//! `socratic bench store` at a small scale: it fills a scratch store, times every lookup it is
//! held to, and reports them with their targets (the 1,000,000-task figures are in `bench/`).

mod common;

#[test]
fn bench_store_reports_each_figure_with_its_target() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = common::socratic(home.path(), &["bench", "store", "--tasks", "3000", "--samples", "5", "--json"]);
    let report = common::stdout_json(&out);
    assert_eq!(report["tasks"], 3000, "{report}");
    assert_eq!(report["lsp_file_tasks"], 200, "{report}");
    let names: Vec<&str> =
        report["figures"].as_array().expect("figures").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(
        names,
        ["tasks show ID (store lookups)", "curriculum list of 100", "didOpen of a 200-task file -> diagnostics"]
    );
    for f in report["figures"].as_array().expect("figures") {
        assert!(f["latency"]["p99_us"].as_f64().is_some_and(|us| us > 0.0), "{f}");
    }
    assert!(report["bytes_per_task"].as_f64().is_some_and(|b| b > 100.0), "{report}");
}
