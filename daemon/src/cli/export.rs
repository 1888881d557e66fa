//! `socratic export --format swebench|swesmith|harbor|sft|verl OUT`.
//!
//! In: the store, a format, an output path, `--round N` / `--valid`, what to do with images
//! (`--no-images`, `--image-registry REG`, `--no-push`, `--save-image`). Out: the export written
//! (see [`crate::export`]), a summary on stdout (or `--json`), left-out tasks on stderr; exit 1
//! when there is nothing to export, an image cannot be built or the output cannot be written;
//! exit 2 for image flags that do not fit the format.

use super::{print_json, EXIT_OK};
use crate::export::{self, Format, ImageOptions, Selection};
use crate::store::Store;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// SWE-bench dataset rows, JSON Lines (patch = the fix).
    Swebench,
    /// SWE-smith task instances, a JSON list (patch = the bug).
    Swesmith,
    /// Harbor task folders under OUT.
    Harbor,
    /// Chat JSON Lines for fine-tuning (messages: system, user, assistant = the fix).
    Sft,
    /// A verl dataset, Parquet: prompt messages, reward_model.ground_truth = instance id
    /// (graded by `socratic serve` through integrations/verl).
    Verl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Output file (swebench, sft: .jsonl; swesmith: .json; verl: .parquet) or folder (harbor).
    pub out: PathBuf,
    /// The round whose curriculum to export (default: the latest finished round).
    #[arg(long, value_name = "N")]
    pub round: Option<u32>,
    /// Every valid task (of round N with --round) instead of a curriculum.
    #[arg(long)]
    pub valid: bool,
    /// Write the files only: build no image (swebench rows still name the task images that an
    /// export without this flag builds from the environment images; needs no Docker engine).
    #[arg(long, conflicts_with_all = ["image_registry", "save_image"])]
    pub no_images: bool,
    /// harbor: prebuild each task's image, tag it REG/socratic-harbor-<repo>:<task id>, push it,
    /// and make the task's Dockerfile start FROM it (instead of rebuilding from a public image).
    #[arg(long, value_name = "REG")]
    pub image_registry: Option<String>,
    /// harbor with --image-registry: tag the images but do not push them.
    #[arg(long, requires = "image_registry")]
    pub no_push: bool,
    /// harbor: prebuild each task's image and `docker save` it into environment/image.tar.
    #[arg(long)]
    pub save_image: bool,
    /// sft: how the assistant answers, `line` (the marked line rewritten; tasks whose fix is
    /// not a one-line replacement are left out) or `diff` (the fix as a unified diff). Train and
    /// solve with the same format.
    #[arg(long, default_value = "line", value_parser = ["line", "diff"])]
    pub answer: String,
    /// One stable JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Path, args: ExportArgs) -> anyhow::Result<i32> {
    let format = match args.format {
        FormatArg::Swebench => Format::Swebench,
        FormatArg::Swesmith => Format::Swesmith,
        FormatArg::Harbor => Format::Harbor,
        FormatArg::Sft => Format::Sft,
        FormatArg::Verl => Format::Verl,
    };
    if format != Format::Harbor && (args.image_registry.is_some() || args.save_image) {
        eprintln!("--image-registry and --save-image apply to --format harbor only");
        return Ok(super::EXIT_USAGE);
    }
    let images = ImageOptions {
        skip: args.no_images,
        registry: args.image_registry.clone(),
        no_push: args.no_push,
        save: args.save_image,
    };
    let answer: crate::train::data::AnswerFormat = args.answer.parse().map_err(anyhow::Error::msg)?;
    let store = Store::open(home)?;
    let selection = Selection { round: args.round, valid: args.valid };
    let summary =
        super::env::runtime()?.block_on(export::export(&store, format, &selection, &args.out, &images, answer))?;
    for s in &summary.skipped {
        eprintln!("left out {}: {}", s.task_id, crate::text::escape_controls(&s.reason));
    }
    if args.json {
        print_json(&summary)?;
    } else {
        let what = if format == Format::Harbor { "task folders" } else { "tasks" };
        println!(
            "exported {} {what} ({}) as {} to {}",
            summary.exported.len(),
            summary.source,
            format.as_str(),
            summary.out
        );
        if !summary.images.is_empty() {
            let what = match (format, &args.image_registry, args.no_push) {
                (Format::Swebench, _, _) => "harness images built",
                (_, Some(_), false) => "prebuilt images built and pushed",
                _ => "prebuilt images built",
            };
            println!("{what}: {}", summary.images.join(" "));
        }
        if !summary.refs.is_empty() {
            println!(
                "bugged commits kept under refs/socratic/tasks/ in the task repositories ({} refs)",
                summary.refs.len()
            );
        }
    }
    Ok(EXIT_OK)
}
