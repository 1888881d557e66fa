//! verl dataset rows: the curriculum as a Parquet file that verl's RL trainers read, graded by
//! `socratic serve` through `integrations/verl/socratic_reward.py`.
//!
//! In: prepared tasks and their repositories. Out: `OUT.parquet`, one row per task:
//! `data_source` (`socratic/<repository folder>`), `prompt` (the chat messages `{role,
//! content}` of the task's `diff` example — `crate::train::data` — without the answer: system,
//! then user with the problem statement, the file, the function as it reads with the bug and the
//! failing tests; verl applies the model's chat template), `ability` (`code-repair`),
//! `reward_model` `{ground_truth: instance id, style: "rule"}` and `extra_info` `{index,
//! instance_id, task_id, repo, base_commit, image, split}`. Written with the `parquet` crate's
//! column writers (uncompressed), through a temporary file and a rename.

use super::{write_file, ExportError, ExportTask, Result, Skipped};
use crate::train::data::AnswerFormat;
use crate::train::Message;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::Path;
use std::sync::Arc;

/// What `ability` says of every row.
pub const ABILITY: &str = "code-repair";

/// The file's schema; leaf columns in this order.
const SCHEMA: &str = "
message socratic_verl {
  required binary data_source (STRING);
  required group prompt (LIST) {
    repeated group list {
      required group element {
        required binary content (STRING);
        required binary role (STRING);
      }
    }
  }
  required binary ability (STRING);
  required group reward_model {
    required binary ground_truth (STRING);
    required binary style (STRING);
  }
  required group extra_info {
    required int64 index;
    required binary instance_id (STRING);
    required binary task_id (STRING);
    required binary repo (STRING);
    required binary base_commit (STRING);
    required binary image (STRING);
    required binary split (STRING);
  }
}
";

/// One dataset row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub data_source: String,
    pub prompt: Vec<Message>,
    pub instance_id: String,
    pub task_id: String,
    pub repo: String,
    pub base_commit: String,
    pub image: String,
    pub index: i64,
}

/// The rows of `tasks` (a task whose prompt cannot be made is left out, with the reason).
pub fn rows(tasks: &[ExportTask]) -> (Vec<Row>, Vec<Skipped>) {
    let (examples, skipped) = super::sft::examples(tasks, AnswerFormat::Diff);
    let mut out = Vec::new();
    for t in tasks {
        let Some(example) = examples.iter().find(|e| e.id == t.task.id) else { continue };
        let prompt: Vec<Message> = example.messages.iter().filter(|m| m.role != "assistant").cloned().collect();
        let folder = t.instance_id.rsplit_once('.').map_or("repo", |(f, _)| f);
        out.push(Row {
            data_source: format!("socratic/{folder}"),
            prompt,
            instance_id: t.instance_id.clone(),
            task_id: t.task.id.clone(),
            repo: t.repo.clone(),
            base_commit: t.task.base_commit.clone(),
            image: t.image.clone().unwrap_or_default(),
            index: out.len() as i64,
        });
    }
    (out, skipped)
}

/// The Parquet bytes of `rows`.
pub fn parquet_bytes(rows: &[Row]) -> std::result::Result<Vec<u8>, parquet::errors::ParquetError> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let props = Arc::new(WriterProperties::builder().set_created_by("socratic".into()).build());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let mut group = writer.next_row_group()?;
    let text = |f: fn(&Row) -> &str| -> Vec<ByteArray> { rows.iter().map(|r| ByteArray::from(f(r))).collect() };
    let mut column = 0;
    while let Some(mut writer) = group.next_column()? {
        match column {
            // prompt.list.element.{content, role}: repeated, so levels say where each row starts.
            1 | 2 => {
                let mut values = Vec::new();
                let mut reps = Vec::new();
                for r in rows {
                    for (i, m) in r.prompt.iter().enumerate() {
                        values.push(ByteArray::from(if column == 1 { m.content.as_str() } else { m.role.as_str() }));
                        reps.push(i16::from(i > 0));
                    }
                }
                let defs = vec![1i16; values.len()];
                writer.typed::<ByteArrayType>().write_batch(&values, Some(&defs), Some(&reps))?;
            }
            6 => {
                let index: Vec<i64> = rows.iter().map(|r| r.index).collect();
                writer.typed::<Int64Type>().write_batch(&index, None, None)?;
            }
            _ => {
                let values = match column {
                    0 => text(|r| &r.data_source),
                    3 => text(|_| ABILITY),
                    4 => text(|r| &r.instance_id),
                    5 => text(|_| "rule"),
                    7 => text(|r| &r.instance_id),
                    8 => text(|r| &r.task_id),
                    9 => text(|r| &r.repo),
                    10 => text(|r| &r.base_commit),
                    11 => text(|r| &r.image),
                    _ => text(|_| "train"),
                };
                writer.typed::<ByteArrayType>().write_batch(&values, None, None)?;
            }
        }
        writer.close()?;
        column += 1;
    }
    group.close()?;
    writer.into_inner()
}

/// Write `out`; returns the ids written and the tasks left out.
pub fn write(tasks: &[ExportTask], out: &Path) -> Result<(Vec<String>, Vec<Skipped>)> {
    let (rows, skipped) = rows(tasks);
    let bytes = parquet_bytes(&rows)
        .map_err(|e| ExportError::Output { path: out.display().to_string(), message: format!("parquet: {e}") })?;
    write_file(out, &bytes)?;
    Ok((rows.into_iter().map(|r| r.task_id).collect(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::export_task;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    #[test]
    fn rows_read_back_with_the_prompt_as_a_list_of_messages() {
        let tasks = [export_task("t-abc"), export_task("t-def")];
        let (rows, skipped) = rows(&tasks);
        assert!(skipped.is_empty());
        let bytes = parquet_bytes(&rows).unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let read: Vec<parquet::record::Row> = reader.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
        let field = |row: &parquet::record::Row, name: &str| -> Field {
            row.get_column_iter().find(|(n, _)| n.as_str() == name).map(|(_, f)| f.clone()).unwrap()
        };
        assert_eq!(field(&read[0], "data_source"), Field::Str("socratic/pkg".into()));
        assert_eq!(field(&read[1], "ability"), Field::Str(ABILITY.into()));
        let Field::ListInternal(prompt) = field(&read[1], "prompt") else { panic!("prompt is not a list") };
        assert_eq!(prompt.elements().len(), 2);
        let Field::Group(user) = &prompt.elements()[1] else { panic!("a message is not a group") };
        let user_fields: Vec<(String, Field)> = user.get_column_iter().map(|(n, f)| (n.clone(), f.clone())).collect();
        assert!(user_fields.contains(&("role".into(), Field::Str("user".into()))), "{user_fields:?}");
        let Some((_, Field::Str(content))) = user_fields.iter().find(|(n, _)| n == "content") else { panic!() };
        assert!(content.contains("File: pkg/m.py") && content.contains("return a <= b"), "{content}");
        let Field::Group(reward) = field(&read[1], "reward_model") else { panic!() };
        let reward: Vec<(String, Field)> = reward.get_column_iter().map(|(n, f)| (n.clone(), f.clone())).collect();
        assert_eq!(
            reward,
            [("ground_truth".into(), Field::Str("pkg.t-def".into())), ("style".into(), Field::Str("rule".into()))]
        );
        let Field::Group(extra) = field(&read[1], "extra_info") else { panic!() };
        assert!(extra.get_column_iter().any(|(n, f)| n == "index" && *f == Field::Long(1)));
    }
}
