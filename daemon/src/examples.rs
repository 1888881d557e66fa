//! The embedded default: example traces compiled into the binary, so `socratic demo` runs with
//! nothing configured and nothing downloaded.
//!
//! In: nothing. Out: `(path, bytes)` pairs of the small hand-written traces in
//! `tests/fixtures/traces/`, one or more per supported format. (A Cline export's API history is
//! left out where its `ui_messages.json` is included: they are one task.)

macro_rules! example {
    ($path:literal) => {
        (concat!("examples/", $path), include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/traces/", $path)) as &[u8])
    };
}

/// Example trace files shipped in the binary.
pub const TRACE_FILES: &[(&str, &[u8])] = &[
    example!("claude-code/session.jsonl"),
    example!("cline/task-1/ui_messages.json"),
    example!("cline/task-2/api_conversation_history.json"),
    example!("codex-cli/rollout.jsonl"),
    example!("mini-swe-agent/toolcall_toy.traj.json"),
    example!("mini-swe-agent/v1text_toy.traj.json"),
    example!("openhands/events_toy.json"),
    example!("openhands/output_toy.jsonl"),
    example!("predictions/all_preds_toy.jsonl"),
    example!("predictions/preds_toy.json"),
    example!("swe-agent/v0_toy.traj"),
    example!("swe-agent/v1_toy.traj"),
    example!("swe-smith/instance.json"),
    example!("swe-smith/validation_report.json"),
    example!("swebench-eval/acme.run1.json"),
    example!("swebench-eval/logs/acme__widgets-7/report.json"),
    example!("swebench-eval/wrapped_report.json"),
    example!("swebench-eval/logs/toy__calc-9/report.json"),
    example!("swebench-eval/toy_slug_report.json"),
    example!("swebench-instances/instances.json"),
];
