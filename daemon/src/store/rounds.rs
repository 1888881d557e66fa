//! Round rows (the loop's progress: inputs, next step, figures, kept tasks) and Solver results
//! (one per task, round and solver), plus the whole-store views the report and exports read.

use super::{now, to_json, Result, Store};
use crate::model::{Round, Score, SolveResult};
use rusqlite::params;

impl Store {
    /// Insert or replace a round (its step and figures change as it runs).
    pub fn save_round(&mut self, round: &Round) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO rounds (number, step, json, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![round.number, round.step.as_str(), to_json(round), now()],
            )
            .map_err(|e| self.err("save round", e))?;
        Ok(())
    }

    /// One round by number.
    pub fn round(&self, number: u32) -> Result<Option<Round>> {
        self.json_row("SELECT json FROM rounds WHERE number = ?1", [number], "get round", &format!("round {number}"))
    }

    /// Every round, first first.
    pub fn rounds(&self) -> Result<Vec<Round>> {
        self.json_rows("SELECT json FROM rounds ORDER BY number", "list rounds")
    }

    /// Keep a Solver's graded attempt (replacing one for the same task, round and solver).
    pub fn save_solve_result(&mut self, result: &SolveResult) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO solve_results (task_id, round, solver, outcome, trace_id, json, solved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    result.task_id,
                    result.round,
                    result.solver,
                    result.report.outcome.as_str(),
                    result.trace_id,
                    to_json(result),
                    now()
                ],
            )
            .map_err(|e| self.err("save solve result", e))?;
        Ok(())
    }

    /// Every Solver result, in the order they were recorded.
    pub fn solve_results(&self) -> Result<Vec<SolveResult>> {
        self.json_rows("SELECT json FROM solve_results ORDER BY rowid", "list solve results")
    }

    /// The results of one Solver on one round's tasks, oldest first.
    pub fn solve_results_of(&self, round: u32, solver: &str) -> Result<Vec<SolveResult>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT json FROM solve_results WHERE round = ?1 AND solver = ?2 ORDER BY rowid")
            .map_err(|e| self.err("list solve results", e))?;
        let texts: Vec<String> = stmt
            .query_map(rusqlite::params![round, solver], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err("list solve results", e))?;
        texts.iter().map(|t| serde_json::from_str(t).map_err(|e| self.corrupt(format!("solve result: {e}")))).collect()
    }

    /// Every stored score (all tasks, reference sets and models).
    pub fn all_scores(&self) -> Result<Vec<Score>> {
        self.json_rows("SELECT json FROM scores ORDER BY rowid", "list scores")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, RoundStep};

    fn round(number: u32, step: RoundStep) -> Round {
        Round { step, ..crate::model::test_support::round(number, &[]) }
    }

    #[test]
    fn rounds_round_trip_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.save_round(&round(2, RoundStep::Distill)).unwrap();
        store.save_round(&round(1, RoundStep::Done)).unwrap();
        let mut r2 = round(2, RoundStep::Score);
        r2.kept = vec!["t-a".into()];
        store.save_round(&r2).unwrap();
        let all = store.rounds().unwrap();
        assert_eq!(all.iter().map(|r| r.number).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(store.round(2).unwrap().unwrap(), r2);
        assert!(store.round(3).unwrap().is_none());
    }

    #[test]
    fn solve_results_keep_one_per_task_round_solver() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut res = crate::model::test_support::solve_result("t-a", 1, Outcome::Unresolved);
        store.save_solve_result(&res).unwrap();
        res.report.outcome = Outcome::Resolved;
        store.save_solve_result(&res).unwrap();
        res.solver = "oracle".into();
        store.save_solve_result(&res).unwrap();
        let all = store.solve_results().unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|r| r.report.outcome == Outcome::Resolved));
    }
}
