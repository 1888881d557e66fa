//! Skill rows: one per skill name (its stable id), the latest version's JSON.
//!
//! In: distilled skills. Out: the stored skills back, by name or all.

use super::{now, sql_error, to_json, Result, Store};
use crate::model::{Skill, SkillKind};
use rusqlite::params;

fn kind_name(k: SkillKind) -> &'static str {
    match k {
        SkillKind::FailureMode => "failure-mode",
        SkillKind::RepairPattern => "repair-pattern",
    }
}

impl Store {
    /// Insert or replace skills by name in one transaction.
    pub fn upsert_skills(&mut self, skills: &[Skill]) -> Result<()> {
        let tx = self.conn.transaction().map_err(|e| sql_error(&self.path, "begin", e))?;
        for s in skills {
            tx.execute(
                "INSERT INTO skills (name, kind, version, json, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, version = excluded.version, json = excluded.json, updated_at = excluded.updated_at",
                params![s.name, kind_name(s.kind), s.version, to_json(s), now()],
            )
            .map_err(|e| sql_error(&self.path, "upsert skill", e))?;
        }
        tx.commit().map_err(|e| sql_error(&self.path, "commit", e))
    }

    /// All skills, by name.
    pub fn skills(&self) -> Result<Vec<Skill>> {
        self.json_rows("SELECT json FROM skills ORDER BY name", "list skills")
    }

    /// One skill by name.
    pub fn skill(&self, name: &str) -> Result<Option<Skill>> {
        self.json_row("SELECT json FROM skills WHERE name = ?1", [name], "get skill", "skill")
    }
}
