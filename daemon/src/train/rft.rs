//! Rejection-sampling fine-tuning (RFT) examples: the resolved attempts of Solvers, as the agent
//! saw them.
//!
//! In: stored traces labelled resolved (a round's solve results with `--round N`, else every
//! resolved trace in the store), each with its conversation (`Trace::messages`, kept at import)
//! or, failing that, its final patch and the task or benchmark instance it attacked. Out:
//! `ChatExample`s — the conversation (tool results become user turns, trailing turns after the
//! last assistant turn are dropped; every assistant turn is a target), or the task's SFT prompt
//! with the trace's final patch as the answer — and the traces left out with the reason. Also
//! the multi-turn tokenizer: every assistant turn rendered through the chat template is a target
//! span (`Tokenized::spans`), everything else context.

use super::data::{self, ChatExample, Message, Tokenized};
use super::template::ChatTemplate;
use super::{Result, TrainError};
use crate::model::{ChatTurn, Outcome, Task};
use crate::store::{Store, StoredTrace};
use serde::Serialize;
use std::ops::Range;

/// A resolved trace that gave no example, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub trace_id: String,
    pub reason: String,
}

/// The examples of the resolved attempts and the traces left out.
#[derive(Debug, Default)]
pub struct RftExamples {
    pub examples: Vec<ChatExample>,
    pub left_out: Vec<LeftOut>,
    /// What was selected, for the run's `source`.
    pub source: String,
    /// Examples that are a stored conversation (the others: prompt → final patch).
    pub conversations: usize,
}

/// The resolved attempts of round `round` (its solve results graded resolved), or every trace
/// whose effective label is resolved. No resolved attempt at all is an error.
pub fn select(store: &Store, round: Option<u32>) -> anyhow::Result<RftExamples> {
    let (traces, mut left_out, source) = match round {
        Some(n) => {
            let mut traces = Vec::new();
            let mut left_out = Vec::new();
            for r in store.solve_results()?.into_iter().filter(|r| r.round == n && r.report.resolved) {
                match store.trace(&r.trace_id)? {
                    Some(t) => traces.push(t),
                    None => left_out.push(LeftOut { trace_id: r.trace_id, reason: "its trace is not stored".into() }),
                }
            }
            (traces, left_out, format!("round {n} resolved attempts"))
        }
        None => {
            let traces: Vec<StoredTrace> =
                store.traces()?.into_iter().filter(|t| t.effective_label.outcome == Outcome::Resolved).collect();
            (traces, Vec::new(), "resolved traces".to_string())
        }
    };
    if traces.is_empty() && left_out.is_empty() {
        let scope = round.map_or("in the store".to_string(), |n| format!("in round {n}"));
        anyhow::bail!(
            "no resolved attempts {scope} to train on with --method rft (run `socratic solve`, or import \
             trajectories with `socratic traces import`)"
        );
    }
    let mut examples = Vec::new();
    let mut conversations = 0;
    for t in &traces {
        let task = match &t.trace.task.instance_id {
            Some(id) => store.task(id)?.filter(|task| &task.id == id),
            None => None,
        };
        let statement = match (&t.trace.task.problem_statement, &t.trace.task.instance_id) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(id)) => store.instance(id)?.and_then(|i| i.problem_statement),
            (None, None) => None,
        };
        match example(t, task.as_ref(), statement.as_deref()) {
            Ok(e) => {
                conversations += usize::from(conversation(&t.trace.messages).is_some());
                examples.push(e)
            }
            Err(reason) => left_out.push(LeftOut { trace_id: t.trace.id.clone(), reason }),
        }
    }
    if examples.is_empty() {
        anyhow::bail!(
            "no resolved attempts to train on with --method rft: all {} were left out ({})",
            left_out.len(),
            left_out.iter().map(|l| format!("{}: {}", l.trace_id, l.reason)).collect::<Vec<_>>().join("; ")
        );
    }
    Ok(RftExamples { examples, left_out, source, conversations })
}

/// The example of one resolved trace: its conversation, else (the task's prompt, or the problem
/// statement) → its final patch. `Err` says why there is none.
pub fn example(
    t: &StoredTrace,
    task: Option<&Task>,
    statement: Option<&str>,
) -> std::result::Result<ChatExample, String> {
    let id = t.trace.id.clone();
    if let Some(messages) = conversation(&t.trace.messages) {
        return Ok(ChatExample { id, messages });
    }
    let why_no_messages =
        if t.trace.messages.is_empty() { "no stored conversation" } else { "its conversation has no assistant turn" };
    let Some(patch) = t.trace.final_patch.as_deref().filter(|p| !p.trim().is_empty()) else {
        return Err(format!("{why_no_messages} and no final patch"));
    };
    let mut example = match (task, statement) {
        (Some(task), _) => {
            let function = crate::diff::git::Repo::open(std::path::Path::new(&task.repo))
                .ok()
                .and_then(|repo| data::bugged_function(&repo, task));
            data::task_example(task, patch, function.as_deref())
        }
        (None, Some(statement)) if !statement.trim().is_empty() => ChatExample {
            id: String::new(),
            messages: vec![
                Message::new("system", data::SYSTEM),
                Message::new("user", &format!("Problem:\n{}\n\nWrite the fix as a unified diff.", statement.trim())),
                Message::new("assistant", patch),
            ],
        },
        _ => return Err(format!("{why_no_messages}, and neither its task nor a problem statement is stored")),
    };
    example.id = id;
    Ok(example)
}

/// The conversation as chat turns: system / user / assistant kept, tool results as user turns,
/// empty turns and the turns after the last assistant turn dropped. `None` without an
/// assistant turn.
pub fn conversation(turns: &[ChatTurn]) -> Option<Vec<Message>> {
    let mut out: Vec<Message> = turns
        .iter()
        .filter(|t| !t.content.trim().is_empty())
        .filter_map(|t| match t.role.as_str() {
            "system" | "user" | "assistant" => Some(Message::new(&t.role, &t.content)),
            "tool" | "observation" | "ipython" => Some(Message::new("user", &t.content)),
            _ => None,
        })
        .collect();
    let last = out.iter().rposition(|m| m.role == "assistant")?;
    out.truncate(last + 1);
    // A conversation must open with context for the first target.
    (out.first().is_some_and(|m| m.role != "assistant")).then_some(out)
}

/// Text pieces of a conversation, each marked target (an assistant turn with its end-of-turn
/// markers) or context, whose concatenation is the whole rendered conversation.
pub fn pieces(template: &ChatTemplate, messages: &[Message]) -> Result<Vec<(String, bool)>> {
    let eos = template.eos_token.clone().unwrap_or_default();
    let mut out: Vec<(String, bool)> = Vec::new();
    if template.source.is_none() {
        let mut context = String::new();
        for (i, m) in messages.iter().enumerate() {
            if m.role == "assistant" {
                out.push((std::mem::take(&mut context), false));
                out.push((format!("{}{eos}", m.content), true));
            } else {
                if i > 0 && messages[i - 1].role == "assistant" {
                    context.push_str("\n\n");
                }
                context.push_str(&m.content);
                context.push_str("\n\n");
            }
        }
        return Ok(out);
    }
    let mut done = 0usize;
    let mut rendered = String::new();
    for (i, _) in messages.iter().enumerate().filter(|(_, m)| m.role == "assistant") {
        let prompt = template.render(&messages[..i], true)?;
        let full = template.render(&messages[..=i], false)?;
        let (Some(context), Some(target)) =
            (prompt.get(done..).filter(|_| prompt.starts_with(&rendered)), full.strip_prefix(&prompt))
        else {
            return Err(TrainError::Input(
                "the chat template rewrites earlier turns, so a multi-turn conversation has no stable prefix".into(),
            ));
        };
        out.push((context.to_string(), false));
        out.push((target.to_string(), true));
        done = full.len();
        rendered = full;
    }
    Ok(out)
}

/// Tokenize a multi-turn example: every assistant turn is a target span. Longer than `max_len`,
/// it keeps a window of `max_len` tokens holding at least `max_len / 2` tokens of context
/// before the first target (fewer when the prompt is shorter).
pub fn tokenize(
    example: &ChatExample,
    template: &ChatTemplate,
    tokenizer: &tokenizers::Tokenizer,
    max_len: usize,
) -> Result<Tokenized> {
    let at = |m: String| TrainError::Input(format!("example {}: {m}", example.id));
    let parts = pieces(template, &example.messages).map_err(|e| at(e.to_string()))?;
    let mut ids: Vec<u32> = Vec::new();
    let mut spans: Vec<Range<usize>> = Vec::new();
    for (text, target) in &parts {
        let enc = tokenizer.encode(text.as_str(), false).map_err(|e| at(format!("tokenizer: {e}")))?;
        let start = ids.len();
        ids.extend_from_slice(enc.get_ids());
        if *target && ids.len() > start {
            spans.push(start..ids.len());
        }
    }
    let first = spans.first().map(|s| s.start).filter(|s| *s > 0).ok_or_else(|| at("empty prompt or target".into()))?;
    // Longer than the window: from at most max_len / 2 before the first target, earlier when
    // the rest is shorter than the window.
    let begin = match ids.len().checked_sub(max_len) {
        Some(spare) if spare > 0 => first.saturating_sub(max_len / 2).min(first - 1).min(spare),
        _ => 0,
    };
    let end = ids.len().min(begin + max_len);
    let spans: Vec<Range<usize>> = spans
        .into_iter()
        .filter_map(|s| {
            let (s0, s1) = (s.start.max(begin), s.end.min(end));
            (s0 < s1).then(|| s0 - begin..s1 - begin)
        })
        .collect();
    if spans.is_empty() {
        return Err(at(format!("no assistant turn within --max-len {max_len}")));
    }
    let ids = ids[begin..end].to_vec();
    let prompt_len = spans.first().map_or(ids.len(), |s| s.start);
    Ok(Tokenized { id: example.id.clone(), ids, prompt_len, spans })
}

/// True for examples with more than one assistant turn (tokenized by `tokenize` here).
pub fn is_multi_turn(example: &ChatExample) -> bool {
    example.messages.iter().filter(|m| m.role == "assistant").count() > 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{write_tiny_model, DeviceKind, TinySpec};
    use crate::train::{Length, TrainOptions, Trainer};

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    fn turns(pairs: &[(&str, &str)]) -> Vec<ChatTurn> {
        pairs.iter().map(|(r, c)| ChatTurn { role: r.to_string(), content: c.to_string() }).collect()
    }

    fn agent_run() -> Vec<Message> {
        conversation(&turns(&[
            ("system", "sys"),
            ("user", "task"),
            ("assistant", "run ls"),
            ("tool", "a.py"),
            ("assistant", "submit"),
            ("user", "bye"),
        ]))
        .expect("has assistant turns")
    }

    #[test]
    fn conversation_maps_tools_to_user_and_ends_at_the_last_assistant_turn() {
        let m = agent_run();
        let got: Vec<(&str, &str)> = m.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
        assert_eq!(
            got,
            [("system", "sys"), ("user", "task"), ("assistant", "run ls"), ("user", "a.py"), ("assistant", "submit")]
        );
        assert!(conversation(&turns(&[("user", "task"), ("tool", "x")])).is_none(), "no assistant turn");
        assert!(conversation(&turns(&[("assistant", "hi")])).is_none(), "no context before the first target");
    }

    #[test]
    fn every_assistant_turn_is_a_target_piece_under_a_template_and_without() {
        let chatml =
            ChatTemplate { source: Some(CHATML.into()), eos_token: Some("<|im_end|>".into()), ..Default::default() };
        let m = agent_run();
        let parts = pieces(&chatml, &m).unwrap();
        let whole: String = parts.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(whole, chatml.render(&m, false).unwrap());
        let targets: Vec<&str> = parts.iter().filter(|p| p.1).map(|p| p.0.as_str()).collect();
        assert_eq!(targets, ["run ls<|im_end|>\n", "submit<|im_end|>\n"]);
        assert!(parts[2].0.starts_with("<|im_start|>user\na.py") && parts[2].0.ends_with("<|im_start|>assistant\n"));

        let plain = ChatTemplate { eos_token: Some("</s>".into()), ..Default::default() };
        let parts = pieces(&plain, &m).unwrap();
        let got: Vec<(&str, bool)> = parts.iter().map(|(t, b)| (t.as_str(), *b)).collect();
        assert_eq!(
            got,
            [("sys\n\ntask\n\n", false), ("run ls</s>", true), ("\n\na.py\n\n", false), ("submit</s>", true)]
        );
    }

    #[test]
    fn multi_turn_tokens_mark_only_the_assistant_turns_and_train() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
        let options =
            TrainOptions { length: Length::Steps(1), max_len: 256, checkpoint_every: 0, ..Default::default() };
        let trainer = Trainer::load(dir.path(), DeviceKind::Cpu, options).unwrap();
        let example = ChatExample { id: "tr-1".into(), messages: agent_run() };
        assert!(is_multi_turn(&example));
        let tok = trainer.tokenize(std::slice::from_ref(&example)).unwrap().remove(0);
        let text = |r: &Range<usize>| {
            trainer.tokenizer.decode(&tok.ids[r.clone()], false).unwrap().replace(' ', "").replace("<|eos|>", "")
        };
        assert_eq!(tok.spans.len(), 2);
        assert_eq!(tok.prompt_len, tok.spans[0].start);
        assert!(text(&tok.spans[0]).starts_with("runls") && text(&tok.spans[1]).starts_with("submit"));
        assert_eq!(tok.target_len(), tok.spans[0].len() + tok.spans[1].len());
        // The loss counts only those tokens: it equals the mean of the per-span NLLs weighted by length.
        let loss = trainer.loss(std::slice::from_ref(&tok)).unwrap();
        assert!(loss.is_finite() && loss > 0.0);

        // Truncated, the window starts at most max_len / 2 before the first target.
        let long = ChatExample {
            id: "long".into(),
            messages: vec![
                Message::new("user", &"x".repeat(300)),
                Message::new("assistant", "a1"),
                Message::new("user", "u"),
                Message::new("assistant", "a2"),
            ],
        };
        let t = tokenize(&long, &trainer.template, &trainer.tokenizer, 64).unwrap();
        assert_eq!(t.ids.len(), 64);
        assert!(t.prompt_len >= 32, "at least half the window is context before the first target");
        assert_eq!(t.ids.len() - t.spans[1].end, 0, "the window reaches the end");
        assert_eq!(t.spans.len(), 2);
    }
}
