//! The example repository (tallyho) end to end on a real Docker engine: generate candidates with
//! every operator, validate them in warm workers, and check the verdicts are the same whether the
//! runner swaps changed function code in place ("hot") or re-imports the project ("cold").

use socratic::model::{Task, Verdict};
use socratic::sandbox::image::{self, BootstrapConfig, EnvConfig};
use socratic::sandbox::Engine;
use socratic::tasks::{generate, GenerateConfig};
use socratic::validate::run::{validate_all, ValidateConfig};
use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::{commit_all, copy_dir, example_repo_source};

fn copy_example(dest: &Path) -> String {
    copy_dir(&example_repo_source(), dest);
    commit_all(dest)
}

async fn verdicts(
    engine: &Engine,
    env: &socratic::model::Environment,
    tasks: &[Task],
    cold_reload: bool,
) -> BTreeMap<String, Verdict> {
    let cfg = ValidateConfig { workers: 2, timeout_s: 30.0, cold_reload, ..Default::default() };
    let mut out = BTreeMap::new();
    validate_all(engine, env, tasks.to_vec(), &cfg, |t, v| {
        out.insert(t.id.clone(), v);
    })
    .await
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_repository_candidates_validate_the_same_hot_and_cold() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("tallyho");
    std::fs::create_dir_all(&repo).unwrap();
    let head = copy_example(&repo);

    let (tasks, reports) = generate(&repo, &GenerateConfig { budget: 54, seed: 7, ..Default::default() }).unwrap();
    assert!(tasks.len() >= 40, "{} candidates", tasks.len());
    assert!(reports.iter().filter(|r| r.candidates > 0).count() >= 20, "most operators have sites in tallyho");

    let base = image::bootstrap_base(&engine, &BootstrapConfig::default()).await.unwrap();
    let cfg =
        EnvConfig { base_image: base, ca_bundle: None, install_timeout_s: 300, test_timeout_s: 300, flaky_reruns: 1 };
    let env = image::build_env(&engine, &repo, &head, &cfg).await.unwrap();
    assert_eq!(env.passing().len(), env.clean.len(), "every example test passes clean");
    assert!(env.clean.len() >= 60);

    let hot = verdicts(&engine, &env, &tasks, false).await;
    let cold = verdicts(&engine, &env, &tasks, true).await;
    assert_eq!(hot.len(), tasks.len());
    for (id, h) in &hot {
        let c = &cold[id];
        assert_eq!(
            (h.outcome, &h.fail_to_pass, &h.pass_to_pass),
            (c.outcome, &c.fail_to_pass, &c.pass_to_pass),
            "task {id}"
        );
    }
    let valid = hot.values().filter(|v| v.is_valid()).count();
    assert!(valid * 100 >= tasks.len() * 60, "yield {valid}/{}", tasks.len());
    for v in hot.values().filter(|v| v.is_valid()) {
        assert!(!v.fail_to_pass.is_empty());
        assert!(v.fail_to_pass.iter().all(|t| env.clean.contains_key(t)));
    }
    engine.remove_image(&env.image).await.unwrap();
}
