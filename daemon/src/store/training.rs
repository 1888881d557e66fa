//! Training run rows: what `socratic train` did (model and adapter hashes, the examples, the
//! settings, the loss curve, tokens/s), newest last.

use super::{now, to_json, Result, Store};
use crate::model::TrainingRun;
use rusqlite::params;

impl Store {
    /// Keep a finished training run; returns its id.
    pub fn save_training_run(&mut self, run: &TrainingRun) -> Result<i64> {
        self.conn()
            .execute(
                "INSERT INTO training_runs (model_hash, adapter_hash, round, json, finished_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run.model_hash, run.adapter_hash, run.round, to_json(run), now()],
            )
            .map_err(|e| self.err("save training run", e))?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Every training run, oldest first.
    pub fn training_runs(&self) -> Result<Vec<TrainingRun>> {
        self.json_rows("SELECT json FROM training_runs ORDER BY id", "list training runs")
    }
}

#[cfg(test)]
mod tests {
    use crate::model::TrainingRun;
    use crate::store::Store;

    #[test]
    fn runs_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = |h: &str| TrainingRun {
            model_hash: "m".into(),
            adapter_hash: h.into(),
            adapter_dir: "/a".into(),
            method: "sft".into(),
            source: "round 2 curriculum".into(),
            round: Some(2),
            data_ids: vec!["t-1".into()],
            settings: serde_json::json!({"rank": 16}),
            device: "cpu".into(),
            losses: vec![2.0, 1.5],
            tokens: 100,
            seconds: 1.0,
            tokens_per_second: 100.0,
        };
        let a = store.save_training_run(&run("a")).unwrap();
        let b = store.save_training_run(&run("b")).unwrap();
        assert!(b > a);
        let got = store.training_runs().unwrap();
        assert_eq!(got, vec![run("a"), run("b")]);
    }
}
