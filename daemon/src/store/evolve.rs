//! Evolve runs (`socratic evolve`: per round, a round of the loop → the Solver on its
//! curriculum → the Solver on the held-out set → training the adapter on the curriculum) and
//! their steps, one row per (run, round, step) with its state (`running` until it finishes,
//! then `done`), how many times it was started, and what it produced as JSON. Also the
//! per-round lines the report and the CLI show, derived from the steps.
//!
//! In: runs and step results. Out: the same, read back; `EvolveLine`s.

use super::{now, to_json, Result, Store};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an evolve run was started with (kept as started; a resumed run uses these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolveSettings {
    pub rounds: u32,
    /// `baseline`, `oracle` or `lm`.
    pub solver: String,
    /// The Solver's model folder (`None`: the home's scoring model).
    pub model: Option<String>,
    /// How the LM Solver answers: `line` or `diff`.
    pub answer: String,
    /// `sft`.
    pub train: String,
    /// Size of the held-out set asked for.
    pub held_out: usize,
    pub seed: u64,
    pub budget: usize,
    pub keep: usize,
    pub max_skill_share: f64,
    pub epochs: usize,
    pub device: String,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvolveState {
    Running,
    Done,
    Abandoned,
}

impl EvolveState {
    pub fn as_str(self) -> &'static str {
        match self {
            EvolveState::Running => "running",
            EvolveState::Done => "done",
            EvolveState::Abandoned => "abandoned",
        }
    }
}

/// One evolve run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolveRun {
    /// The row id (0 before it is stored).
    pub id: i64,
    /// The repository's canonical path.
    pub repo: String,
    pub state: EvolveState,
    pub settings: EvolveSettings,
    /// The held-out task ids, fixed once chosen (empty until the first step has run).
    pub held_out: Vec<String>,
}

/// A step's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Running,
    Done,
}

/// One step of a run: round 0 holds the choice of the held-out set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolveStep {
    pub run_id: i64,
    pub round: u32,
    /// `held-out-set`, `round`, `solve`, `held-out` or `train`.
    pub step: String,
    pub state: StepState,
    /// How many times the step was started (more than once: it was resumed after a crash).
    pub starts: u32,
    /// What the step produced (or, while running, what it has decided so far).
    pub data: serde_json::Value,
}

/// A resolve rate: resolved of attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Rate {
    pub resolved: usize,
    pub attempted: usize,
}

impl Rate {
    pub fn fraction(self) -> Option<f64> {
        (self.attempted > 0).then(|| self.resolved as f64 / self.attempted as f64)
    }

    /// `2/5 (40%)`, or `-` when nothing was attempted.
    pub fn describe(self) -> String {
        match self.fraction() {
            Some(f) => format!("{}/{} ({:.0}%)", self.resolved, self.attempted, f * 100.0),
            None => "-".into(),
        }
    }
}

/// One round of a run as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolveLine {
    /// The run's round (1..).
    pub index: u32,
    /// The loop's round number it ran as.
    pub round: Option<u32>,
    /// The adapter the Solver used this round (`None`: the base model).
    pub adapter_hash: Option<String>,
    pub curriculum: Option<Rate>,
    pub held_out: Option<Rate>,
    /// Last training loss of the adapter trained on this round's curriculum.
    pub loss: Option<f64>,
    /// The adapter that training wrote (the next round's Solver).
    pub trained_adapter: Option<String>,
    /// The model has random weights: its figures are no signal.
    pub random_weights: bool,
}

impl Store {
    /// Store a new run; returns it with its id.
    pub fn create_evolve_run(&mut self, run: &EvolveRun) -> Result<EvolveRun> {
        self.conn()
            .execute(
                "INSERT INTO evolve_runs (repo, state, json, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![run.repo, run.state.as_str(), to_json(run), now()],
            )
            .map_err(|e| self.err("create evolve run", e))?;
        let run = EvolveRun { id: self.conn().last_insert_rowid(), ..run.clone() };
        self.save_evolve_run(&run)?;
        Ok(run)
    }

    /// Write a run's state and held-out set.
    pub fn save_evolve_run(&mut self, run: &EvolveRun) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE evolve_runs SET state = ?2, json = ?3, updated_at = ?4 WHERE id = ?1",
                params![run.id, run.state.as_str(), to_json(run), now()],
            )
            .map_err(|e| self.err("save evolve run", e))?;
        Ok(())
    }

    /// Every run, oldest first.
    pub fn evolve_runs(&self) -> Result<Vec<EvolveRun>> {
        self.json_rows("SELECT json FROM evolve_runs ORDER BY id", "list evolve runs")
    }

    /// One step, if it was ever started.
    pub fn evolve_step(&self, run_id: i64, round: u32, step: &str) -> Result<Option<EvolveStep>> {
        self.json_row(
            "SELECT json FROM evolve_steps WHERE run_id = ?1 AND round = ?2 AND step = ?3",
            params![run_id, round, step],
            "get evolve step",
            &format!("evolve run {run_id} round {round} step {step}"),
        )
    }

    /// Insert or replace a step.
    pub fn save_evolve_step(&mut self, step: &EvolveStep) -> Result<()> {
        let state = match step.state {
            StepState::Running => "running",
            StepState::Done => "done",
        };
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO evolve_steps (run_id, round, step, state, starts, json, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![step.run_id, step.round, step.step, state, step.starts, to_json(step), now()],
            )
            .map_err(|e| self.err("save evolve step", e))?;
        Ok(())
    }

    /// Every step of a run, by round and then in the order they were first stored.
    pub fn evolve_steps(&self, run_id: i64) -> Result<Vec<EvolveStep>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT json FROM evolve_steps WHERE run_id = ?1 ORDER BY round, rowid")
            .map_err(|e| self.err("list evolve steps", e))?;
        let texts: Vec<String> = stmt
            .query_map([run_id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err("list evolve steps", e))?;
        texts.iter().map(|t| serde_json::from_str(t).map_err(|e| self.corrupt(format!("evolve step: {e}")))).collect()
    }

    /// A run's rounds as lines: one per round that has at least one step.
    pub fn evolve_lines(&self, run: &EvolveRun, random_weights: bool) -> Result<Vec<EvolveLine>> {
        let mut lines: BTreeMap<u32, EvolveLine> = BTreeMap::new();
        for s in self.evolve_steps(run.id)?.into_iter().filter(|s| s.round > 0) {
            let line = lines.entry(s.round).or_insert_with(|| EvolveLine {
                index: s.round,
                round: None,
                adapter_hash: None,
                curriculum: None,
                held_out: None,
                loss: None,
                trained_adapter: None,
                random_weights,
            });
            let d = &s.data;
            let rate = |v: &serde_json::Value| serde_json::from_value::<Rate>(v.clone()).ok();
            match s.step.as_str() {
                "round" => {
                    line.round = d["round"].as_u64().map(|n| n as u32);
                    line.adapter_hash = d["adapter_hash"].as_str().map(str::to_string);
                }
                "solve" if s.state == StepState::Done => line.curriculum = rate(&d["rate"]),
                "held-out" if s.state == StepState::Done => line.held_out = rate(&d["rate"]),
                "train" if s.state == StepState::Done => {
                    line.loss = d["last_loss"].as_f64();
                    line.trained_adapter = d["adapter_hash"].as_str().map(str::to_string);
                }
                _ => {}
            }
        }
        Ok(lines.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EvolveSettings {
        EvolveSettings {
            rounds: 2,
            solver: "baseline".into(),
            model: None,
            answer: "diff".into(),
            train: "sft".into(),
            held_out: 3,
            seed: 0,
            budget: 8,
            keep: 3,
            max_skill_share: 0.5,
            epochs: 1,
            device: "cpu".into(),
        }
    }

    #[test]
    fn runs_and_steps_round_trip_and_make_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let new =
            EvolveRun { id: 0, repo: "/r".into(), state: EvolveState::Running, settings: settings(), held_out: vec![] };
        let mut run = store.create_evolve_run(&new).unwrap();
        assert!(run.id > 0);
        run.held_out = vec!["t-1".into()];
        store.save_evolve_run(&run).unwrap();
        assert_eq!(store.evolve_runs().unwrap(), vec![run.clone()]);
        let step = |round, name: &str, state, data| EvolveStep {
            run_id: run.id,
            round,
            step: name.into(),
            state,
            starts: 1,
            data,
        };
        use serde_json::json;
        store.save_evolve_step(&step(0, "held-out-set", StepState::Done, json!({}))).unwrap();
        store.save_evolve_step(&step(1, "round", StepState::Done, json!({"round": 4}))).unwrap();
        let rate = json!({"rate": {"resolved": 1, "attempted": 4}});
        store.save_evolve_step(&step(1, "solve", StepState::Done, rate.clone())).unwrap();
        store.save_evolve_step(&step(1, "held-out", StepState::Running, rate)).unwrap();
        let train = json!({"last_loss": 1.5, "adapter_hash": "abc"});
        store.save_evolve_step(&step(1, "train", StepState::Done, train)).unwrap();
        store
            .save_evolve_step(&step(2, "round", StepState::Running, json!({"round": 5, "adapter_hash": "abc"})))
            .unwrap();
        assert_eq!(store.evolve_step(run.id, 1, "solve").unwrap().unwrap().data["rate"]["resolved"], 1);
        assert!(store.evolve_step(run.id, 2, "solve").unwrap().is_none());
        let lines = store.evolve_lines(&run, true).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].round, Some(4));
        assert_eq!(lines[0].curriculum, Some(Rate { resolved: 1, attempted: 4 }));
        assert_eq!(lines[0].held_out, None, "a running step has no figure yet");
        assert_eq!((lines[0].loss, lines[0].trained_adapter.as_deref()), (Some(1.5), Some("abc")));
        assert_eq!((lines[1].round, lines[1].adapter_hash.as_deref()), (Some(5), Some("abc")));
        assert!(lines[1].random_weights);
        assert_eq!(Rate { resolved: 1, attempted: 4 }.describe(), "1/4 (25%)");
        assert_eq!(Rate::default().describe(), "-");
    }
}
