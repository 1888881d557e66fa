//! socratic: a closed loop around a coding agent (the Solver).
//!
//! Traces of the Solver's attempts go in; distilled skills, repair tasks anchored at real code
//! sites, validation verdicts, scores and a curriculum come out. One module per stage:
//!
//! - [`model`]: the plain data types every stage shares (no IO).
//! - [`traces`]: importers for every agent / harness format, format detected from content.
//! - [`redact`]: secret redaction applied before anything is stored.
//! - [`store`]: the SQLite file; the only code that opens it.
//! - [`sandbox`]: Docker (bollard): base and environment images, warm test workers.
//! - [`validate`]: staged verdicts (F2P / P2P) for candidate tasks, run in warm workers.
//! - [`cli`]: thin glue from the command line to the stages.

pub mod cli;
pub mod examples;
pub mod model;
pub mod redact;
pub mod sandbox;
pub mod store;
pub mod traces;
pub mod validate;
