//! The repository's code runs sealed, at environment build time and in workers: a repository
//! whose tests try to reach a listener on the host, write into `/etc`, and report their
//! capabilities. After `build_env`:
//! - the listener received no connection (the clean suite ran with the network off),
//! - the file the tests wrote in `/etc` is not in the environment image (the suite ran in a
//!   throwaway container, not in the container that was committed),
//! - the tests saw no capabilities, at build time and in a warm worker;
//! - they ran as a user other than root, could not write under `/usr`, `/etc` or `/opt` (the
//!   root file system is read-only), and could write `/tmp`, their home and the repository.
//!
//! Needs a running engine and the base image (`socratic env bootstrap`); it never skips.

use socratic::model::TestStatus;
use socratic::sandbox::image::{self, BootstrapConfig, EnvConfig};
use socratic::sandbox::worker::{RunRequest, Worker};
use socratic::sandbox::{Engine, Limits};
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;

mod common;
use common::commit_all;

/// The host address containers on Docker's default bridge reach the host at.
async fn bridge_gateway(engine: &Engine) -> String {
    let network = engine.docker().inspect_network("bridge", None).await.expect("the default bridge network");
    network
        .ipam
        .and_then(|ipam| ipam.config)
        .and_then(|configs| configs.into_iter().find_map(|c| c.gateway))
        .expect("the bridge network has a gateway")
}

/// A repository whose conftest writes into /etc and whose tests probe the network and the
/// process's capabilities (`CapEff` in /proc/self/status).
fn hostile_repo(root: &Path, host: &str, port: u16) -> String {
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "pyproject.toml",
        "[project]\nname = \"sealed\"\nversion = \"0.1\"\n\n[tool.setuptools]\npackages = [\"sealed\"]\n",
    );
    write("sealed/__init__.py", "def double(x):\n    return 2 * x\n");
    write(
        "tests/conftest.py",
        "try:\n    open('/etc/socratic-written-by-a-test', 'w').write('x')\nexcept OSError:\n    pass\n",
    );
    write(
        "tests/test_sealed.py",
        &format!(
            "import socket\nfrom sealed import double\n\n\
             def test_double():\n    assert double(2) == 4\n\n\
             def test_network_is_off():\n    try:\n        socket.create_connection(({host:?}, {port}), timeout=3).close()\n    \
             except OSError:\n        return\n    raise AssertionError('reached the host')\n\n\
             def test_no_capabilities():\n    status = open('/proc/self/status').read()\n    \
             cap = [l for l in status.splitlines() if l.startswith('CapEff:')][0].split()[1]\n    \
             assert int(cap, 16) == 0, cap\n\n\
             def test_unprivileged_with_a_read_only_root():\n    import os, pwd\n    \
             assert os.getuid() != 0 and os.getgid() != 0, (os.getuid(), os.getgid())\n    \
             for path in ('/usr/socratic-probe', '/etc/socratic-probe', '/opt/socratic-probe'):\n        \
             try:\n            open(path, 'w').close()\n        except OSError:\n            continue\n        \
             raise AssertionError('wrote ' + path)\n    \
             open('/tmp/socratic-probe', 'w').close()\n    \
             open(os.path.expanduser('~/.socratic-probe'), 'w').close()\n    \
             open('written-by-a-test.txt', 'w').close()\n    \
             assert pwd.getpwuid(os.getuid()).pw_name\n"
        ),
    );
    commit_all(root)
}

/// The probe can fail: a container with the network on does reach the listener (accepted and
/// closed here), so a silent listener below means the network was off, not a firewall.
async fn control_reaches_the_listener(engine: &Engine, base: &str, host: &str, listener: &TcpListener) {
    let port = listener.local_addr().unwrap().port();
    let limits = Limits { network: true, ..Limits::default() };
    let control = engine.start_container(base, &limits, &[]).await.unwrap();
    let script = format!("import socket; socket.create_connection(({host:?}, {port}), timeout=5).close()");
    let out = control.exec(&["python3", "-c", &script], 60).await;
    control.remove().await.unwrap();
    let out = out.unwrap();
    assert_eq!(out.exit_code, 0, "a container with the network on cannot reach the host: {}", out.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match listener.accept() {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("the control connection never arrived: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_run_without_network_capabilities_or_a_trace_in_the_image() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let host = bridge_gateway(&engine).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sealed");
    let head = hostile_repo(&root, &host, port);

    let base = image::bootstrap_base(&engine, &BootstrapConfig::default()).await.expect("base image");
    let host_bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    let ca_bundle = host_bundle.exists().then(|| host_bundle.to_path_buf());
    let cfg = EnvConfig { base_image: base, ca_bundle, install_timeout_s: 600, test_timeout_s: 600, flaky_reruns: 1 };
    control_reaches_the_listener(&engine, &cfg.base_image, &host, &listener).await;
    let env = image::build_env(&engine, &root, &head, &cfg).await.expect("the environment builds");

    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("a test reached the host listener from {peer} while the environment was built"),
        Err(e) => panic!("accept: {e}"),
    }
    let sealed = ["test_network_is_off", "test_no_capabilities", "test_unprivileged_with_a_read_only_root"];
    for test in std::iter::once("test_double").chain(sealed) {
        let id = format!("tests/test_sealed.py::{test}");
        assert_eq!(env.clean.get(&id), Some(&TestStatus::Passed), "{id} on the clean tree: {:?}", env.clean);
    }

    let probe = engine.start_container(&env.image, &Limits::default(), &[]).await.unwrap();
    let written = probe.exec(&["test", "-e", "/etc/socratic-written-by-a-test"], 30).await;
    probe.remove().await.unwrap();
    assert_ne!(written.unwrap().exit_code, 0, "a file a test wrote at build time is in the environment image");

    let mut worker = Worker::start(&engine, &env.image, &Limits::default(), &env.run_env()).await.unwrap();
    let request = RunRequest {
        id: "sealed".into(),
        patch: String::new(),
        tests: vec![],
        timeout: 120.0,
        keep: false,
        cold: false,
    };
    let answer = worker.run(&request).await.unwrap();
    let _ = worker.shutdown().await;
    let results = answer.results();
    for test in sealed {
        let id = format!("tests/test_sealed.py::{test}");
        assert_eq!(results.get(&id).map(|r| r.status), Some(TestStatus::Passed), "{id} in a worker: {results:?}");
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "a worker's test reached the host listener");
    let _ = engine.remove_image(&env.image).await;
}
