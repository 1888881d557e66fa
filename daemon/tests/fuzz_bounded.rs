//! Bounded fuzzing, run by CI: every fuzz target's body (`socratic::fuzzing`, the same code the
//! libFuzzer targets in `fuzz/` run; `bench/fuzz.sh` runs those for 10^6 inputs each) is fed
//! inputs made by a seeded mutational generator from the corpus seeds (the trace fixtures for
//! the importers, a few valid frames for the language server) for a bounded time per target,
//! and must not panic. No coverage feedback: each input is 1-4 stacked mutations (bit flips,
//! inserted JSON / frame tokens, deleted, duplicated or truncated ranges, splices of two seeds,
//! random bytes) of a seed or of an earlier input.
//!
//! `SOCRATIC_FUZZ_SECS` (default 10) bounds each target; `SOCRATIC_FUZZ_SEED` (default 1)
//! picks the sequence. A panicking input is written under the test's temporary folder and
//! the test fails naming it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn budget() -> Duration {
    let secs = std::env::var("SOCRATIC_FUZZ_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(10.0);
    Duration::from_secs_f64(secs.max(0.0))
}

fn seed() -> u64 {
    std::env::var("SOCRATIC_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
}

/// The trace fixtures (under 256 KiB), the importers' seeds, as `bench/fuzz.sh` seeds them.
fn trace_seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.metadata().is_ok_and(|m| m.len() < 256 * 1024))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).expect("a fixture")).collect();
    assert!(seeds.len() >= 10, "the trace fixtures are the seeds: found {}", seeds.len());
    seeds
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e999",
    b"\"\"",
    b"{}",
    b"[]",
    b"\\u0000",
    b"\\ud800",
    b"\n",
    b"\r\n\r\n",
    b"Content-Length: ",
    b"Content-Length: 99999999\r\n",
    b"\xff\xfe",
    b"\"id\"",
    b"\"role\"",
    b"\"content\"",
    b"\"type\"",
    b"\"method\"",
    b"\"params\"",
    b"\"instance_id\"",
];

/// One mutation of `data` (`seeds` for splices).
fn mutate_once(rng: &mut ChaCha8Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let at = |rng: &mut ChaCha8Rng, len: usize| if len == 0 { 0 } else { rng.random_range(0..=len) };
    match rng.random_range(0..8) {
        0 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 => {
            let i = at(rng, data.len());
            let token = TOKENS[rng.random_range(0..TOKENS.len())];
            data.splice(i..i, token.iter().copied());
        }
        2 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            let n = rng.random_range(1..=(data.len() - i).min(64));
            data.drain(i..i + n);
        }
        3 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            let n = rng.random_range(1..=(data.len() - i).min(256));
            let copy: Vec<u8> = data[i..i + n].to_vec();
            let j = at(rng, data.len());
            data.splice(j..j, copy);
        }
        4 => {
            let keep = at(rng, data.len());
            data.truncate(keep);
        }
        5 => {
            let other = &seeds[rng.random_range(0..seeds.len())];
            let cut = at(rng, data.len());
            let from = at(rng, other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 => {
            let i = at(rng, data.len());
            let n = rng.random_range(1..32);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(i..i, bytes);
        }
        _ => {
            if let Some(i) = (!data.is_empty()).then(|| rng.random_range(0..data.len())) {
                data[i] = rng.random();
            }
        }
    }
}

/// Feed `body` mutated inputs for the time budget; returns how many ran. Panics (fails the
/// test) naming the file that holds the first input that made `body` panic.
fn fuzz(target: &str, seeds: Vec<Vec<u8>>, body: impl Fn(&[u8])) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed() ^ fxhash(target));
    let mut pool: Vec<Vec<u8>> = seeds.clone();
    let started = Instant::now();
    let mut runs = 0u64;
    // Every seed as it is first, then mutations until the time is up.
    let mut inputs = seeds.clone().into_iter();
    loop {
        let input = match inputs.next() {
            Some(seed) => seed,
            None if started.elapsed() >= budget() => break,
            None => {
                let mut data = pool[rng.random_range(0..pool.len())].clone();
                for _ in 0..rng.random_range(1..=4) {
                    mutate_once(&mut rng, &mut data, &seeds);
                }
                data.truncate(1 << 20);
                data
            }
        };
        runs += 1;
        if catch_unwind(AssertUnwindSafe(|| body(&input))).is_err() {
            let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-crash-{target}-{}", seed()));
            std::fs::write(&path, &input).expect("the crashing input is saved");
            panic!("{target}: input {runs} (seed {}) panicked; it is saved in {}", seed(), path.display());
        }
        if pool.len() < 4096 && rng.random_range(0..4) == 0 {
            pool.push(input);
        }
    }
    eprintln!("{target}: {runs} inputs in {:.1} s, 0 panics (seed {})", started.elapsed().as_secs_f64(), seed());
    assert!(runs as usize >= seeds.len(), "{target}: not even the seeds ran");
    runs
}

/// A stable per-target seed offset (FNV-1a), so targets do not share one sequence.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

macro_rules! importer_target {
    ($test:ident, $target:literal) => {
        #[test]
        fn $test() {
            let importer = socratic::fuzzing::IMPORTER_TARGETS
                .iter()
                .find(|(t, _)| *t == $target)
                .map(|(_, i)| *i)
                .expect("a fuzz target of that name");
            fuzz($target, trace_seeds(), |data| socratic::fuzzing::import_as(importer, data));
        }
    };
}

importer_target!(import_swe_agent, "import_swe_agent");
importer_target!(import_mini_swe_agent, "import_mini_swe_agent");
importer_target!(import_openhands, "import_openhands");
importer_target!(import_openhands_resolver, "import_openhands_resolver");
importer_target!(import_swe_bench, "import_swe_bench");
importer_target!(import_swe_bench_run_meta, "import_swe_bench_run_meta");
importer_target!(import_predictions, "import_predictions");
importer_target!(import_claude_code, "import_claude_code");
importer_target!(import_codex_cli, "import_codex_cli");
importer_target!(import_cline, "import_cline");

#[test]
fn every_importer_target_is_tested_here() {
    let here = include_str!("fuzz_bounded.rs");
    for (target, _) in socratic::fuzzing::IMPORTER_TARGETS {
        assert!(here.contains(&format!("importer_target!({target}, \"{target}\")")), "{target} is not fuzzed here");
    }
}

#[test]
fn import_any() {
    fuzz("import_any", trace_seeds(), socratic::fuzzing::import_any);
}

#[test]
fn lsp_frames() {
    // The first byte picks the read size.
    let seeds =
        socratic::fuzzing::lsp_seeds().into_iter().flat_map(|f| [[vec![0], f.clone()].concat(), [vec![7], f].concat()]);
    fuzz("lsp_frames", seeds.collect(), socratic::fuzzing::lsp_frames);
}

#[test]
fn lsp_session() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let home = tempfile::tempdir().unwrap();
    let shared = socratic::lsp::state::Shared::open(home.path()).expect("a store");
    let mut seeds = socratic::fuzzing::lsp_seeds();
    seeds.push(seeds.concat());
    fuzz("lsp_session", seeds, |data| socratic::fuzzing::lsp_session(&runtime, shared.clone(), data));
}

#[test]
fn the_generator_mutates_and_is_seeded() {
    let seeds = vec![b"{\"a\": [1, 2, 3]}".to_vec()];
    let run = |s: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(s);
        (0..50)
            .map(|_| {
                let mut d = seeds[0].clone();
                mutate_once(&mut rng, &mut d, &seeds);
                d
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
    assert!(run(3).iter().filter(|d| **d != seeds[0]).count() > 25);
}
