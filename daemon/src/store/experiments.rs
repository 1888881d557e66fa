//! Efficacy experiment rows: one per experiment (its inputs, pool, split, warm-up adapter and
//! distilled skills, as the caller's JSON) and one per finished arm × seed, so a killed run
//! resumes without redoing finished work. The store keeps the JSON; `experiment` gives it its
//! meaning.

use super::{now, Result, Store};
use rusqlite::{params, OptionalExtension};
use serde::{de::DeserializeOwned, Serialize};

impl Store {
    /// Write (or overwrite) experiment `id`.
    pub fn save_experiment<T: Serialize>(&mut self, id: &str, experiment: &T) -> Result<()> {
        let json = serde_json::to_string(experiment).expect("experiments serialize");
        self.conn()
            .execute(
                "INSERT INTO experiments (id, json, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
                params![id, json, now()],
            )
            .map_err(|e| self.err("save experiment", e))?;
        Ok(())
    }

    /// Experiment `id`, if stored.
    pub fn experiment<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT json FROM experiments WHERE id = ?1", params![id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err("read experiment", e))?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| self.corrupt(format!("experiment {id}: {e}")))).transpose()
    }

    /// Every experiment, oldest update first.
    pub fn experiments<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.json_rows("SELECT json FROM experiments ORDER BY updated_at, id", "list experiments")
    }

    /// Keep one finished arm × seed of an experiment (a re-run overwrites it).
    pub fn save_experiment_arm<T: Serialize>(&mut self, experiment: &str, arm: &str, seed: u64, run: &T) -> Result<()> {
        let json = serde_json::to_string(run).expect("arm runs serialize");
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO experiment_arms (experiment, arm, seed, json, finished_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![experiment, arm, seed as i64, json, now()],
            )
            .map_err(|e| self.err("save experiment arm", e))?;
        Ok(())
    }

    /// The finished arm × seed runs of an experiment, by arm then seed.
    pub fn experiment_arms<T: DeserializeOwned>(&self, experiment: &str) -> Result<Vec<T>> {
        let op = "list experiment arms";
        let mut stmt = self
            .conn()
            .prepare("SELECT json FROM experiment_arms WHERE experiment = ?1 ORDER BY arm, seed")
            .map_err(|e| self.err(op, e))?;
        let rows = stmt.query_map(params![experiment], |r| r.get::<_, String>(0)).map_err(|e| self.err(op, e))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(|e| self.err(op, e))?;
            out.push(serde_json::from_str(&json).map_err(|e| self.corrupt(format!("{op}: {e}")))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use serde_json::json;

    #[test]
    fn experiments_and_their_arms_round_trip_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = Store::open(dir.path()).unwrap();
            store.save_experiment("e1", &json!({"stage": "pool"})).unwrap();
            store.save_experiment("e1", &json!({"stage": "arms"})).unwrap();
            store.save_experiment_arm("e1", "targeted", 1, &json!({"n": 1})).unwrap();
            store.save_experiment_arm("e1", "targeted", 0, &json!({"n": 0})).unwrap();
            store.save_experiment_arm("e2", "targeted", 0, &json!({"n": 9})).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.experiment::<serde_json::Value>("e1").unwrap(), Some(json!({"stage": "arms"})));
        assert_eq!(store.experiment::<serde_json::Value>("nope").unwrap(), None);
        assert_eq!(store.experiments::<serde_json::Value>().unwrap().len(), 1);
        let arms: Vec<serde_json::Value> = store.experiment_arms("e1").unwrap();
        assert_eq!(arms, vec![json!({"n": 0}), json!({"n": 1})]);
    }
}
