//! Score rows: cached gradient features keyed by (model hash, task hash, subset, dim, seed), and
//! each task's reward with its parts per reference set and model.

use super::{now, to_json, Result, Store};
use crate::model::Score;
use rusqlite::{params, OptionalExtension};

/// The cache key of a gradient feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRow<'a> {
    pub model_hash: &'a str,
    pub task_hash: &'a str,
    pub subset: &'a str,
    pub dim: usize,
    pub seed: u64,
}

impl Store {
    /// A cached feature (loss, vector), if computed before.
    pub fn feature(&self, key: &FeatureRow) -> Result<Option<(f64, Vec<f32>)>> {
        let row: Option<(f64, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT loss, feature FROM score_features WHERE model_hash = ?1 AND task_hash = ?2 AND subset = ?3 AND dim = ?4 AND seed = ?5",
                params![key.model_hash, key.task_hash, key.subset, key.dim as i64, key.seed as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err("get feature", e))?;
        match row {
            None => Ok(None),
            Some((loss, bytes)) if bytes.len() == key.dim * 4 => {
                let v = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                Ok(Some((loss, v)))
            }
            Some((_, bytes)) => {
                Err(self.corrupt(format!("feature of {} bytes, expected {}", bytes.len(), key.dim * 4)))
            }
        }
    }

    /// Cache a feature (replacing one with the same key).
    pub fn save_feature(&mut self, key: &FeatureRow, loss: f64, vector: &[f32]) -> Result<()> {
        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO score_features (model_hash, task_hash, subset, dim, seed, loss, feature, computed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![key.model_hash, key.task_hash, key.subset, key.dim as i64, key.seed as i64, loss, bytes, now()],
            )
            .map_err(|e| self.err("save feature", e))?;
        Ok(())
    }

    /// Keep a task's score (replacing the one for the same reference set and model).
    pub fn save_score(&mut self, score: &Score) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO scores (task_id, reference_set, model_hash, reward, json, scored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![score.task_id, score.reference_set, score.model_hash, score.reward, to_json(score), now()],
            )
            .map_err(|e| self.err("save score", e))?;
        Ok(())
    }

    /// Every score of a task, latest first.
    pub fn scores(&self, task_id: &str) -> Result<Vec<Score>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT json FROM scores WHERE task_id = ?1 ORDER BY scored_at DESC, rowid DESC")
            .map_err(|e| self.err("list scores", e))?;
        let rows = stmt.query_map([task_id], |r| r.get::<_, String>(0)).map_err(|e| self.err("list scores", e))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(|e| self.err("list scores", e))?;
            out.push(serde_json::from_str(&json).map_err(|e| self.corrupt(format!("score: {e}")))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_scores_round_trip() {
        let home = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(home.path()).expect("open");
        let key = FeatureRow { model_hash: "m", task_hash: "t", subset: "s", dim: 3, seed: 7 };
        assert_eq!(store.feature(&key).expect("get"), None);
        store.save_feature(&key, 1.5, &[0.5, -0.25, 1.0]).expect("save");
        assert_eq!(store.feature(&key).expect("get"), Some((1.5, vec![0.5, -0.25, 1.0])));
        assert_eq!(store.feature(&FeatureRow { seed: 8, ..key.clone() }).expect("get"), None);
        let score = Score {
            task_id: "t-1".into(),
            validity: 1.0,
            cosine: 0.25,
            reward: Some(0.25),
            no_reward: None,
            reference_set: "r".into(),
            model_hash: "m".into(),
        };
        store.save_score(&score).expect("save");
        store.save_score(&Score { reward: Some(0.5), cosine: 0.5, ..score.clone() }).expect("replace");
        let scores = store.scores("t-1").expect("list");
        assert_eq!(scores.len(), 1);
        assert_eq!(scores[0].reward, Some(0.5));
        // A score with no reward is stored as such (the column is NULL), not as 0.
        let none = Score { reward: None, no_reward: Some(crate::model::NoReward::RandomModel), ..score.clone() };
        store.save_score(&none).expect("no reward");
        assert_eq!(store.scores("t-1").expect("list")[0], none);
    }
}
