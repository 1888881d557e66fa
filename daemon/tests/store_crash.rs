//! The store survives a process killed at any instant: an import is SIGKILLed mid-way, the store
//! reopens with integrity intact and every committed trace readable, and re-importing completes
//! the batch with no duplicates.

use socratic::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const FILES: usize = 1500;

/// One SWE-bench predictions file per instance: the smallest real format.
fn write_predictions(dir: &Path) {
    for i in 0..FILES {
        let line = serde_json::json!({
            "instance_id": format!("example__repo-{i}"),
            "model_name_or_path": "crash-test",
            "model_patch": format!("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = {i}\n+x = {}\n", i + 1),
        });
        std::fs::write(dir.join(format!("pred-{i:05}.jsonl")), format!("{line}\n")).unwrap();
    }
}

fn import(home: &Path, dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_socratic"))
        .args(["--home", home.to_str().unwrap(), "traces", "import", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn killed_import_loses_nothing_committed() {
    let inputs = tempfile::tempdir().unwrap();
    write_predictions(inputs.path());
    let mut interrupted_mid_way = 0;
    for delay_ms in [80u64, 200, 400] {
        let home = tempfile::tempdir().unwrap();
        let mut child = import(home.path(), inputs.path());
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let store = Store::open(home.path()).expect("store reopens after SIGKILL");
        assert!(store.integrity_ok().unwrap());
        let stored = store.traces().expect("every committed trace decodes");
        assert!(stored.len() <= FILES);
        if !stored.is_empty() && stored.len() < FILES {
            interrupted_mid_way += 1;
        }
        drop(store);

        let status = import(home.path(), inputs.path()).wait().unwrap();
        assert!(status.success());
        let store = Store::open(home.path()).unwrap();
        let all = store.traces().unwrap();
        assert_eq!(all.len(), FILES, "re-import completes the batch exactly once");
    }
    assert!(interrupted_mid_way > 0, "no kill landed mid-import; raise FILES");
}
