//! The model's chat template, as Hugging Face applies it.
//!
//! In: the model folder's `tokenizer_config.json` (`chat_template`: a Jinja string, or a list
//! of named templates; `bos_token` / `eos_token`), and chat messages. Out: the prompt text
//! (system and user turns with the generation prompt) and the target text (what the full
//! conversation adds after it: the assistant turn with its end-of-turn markers). Rendered with
//! minijinja in the settings `transformers` uses (trim_blocks, lstrip_blocks, loop controls,
//! Python string methods, `raise_exception`). Without a template: prompt = system + user turns
//! separated by blank lines, target = the assistant's text and the eos token when known.

use super::data::Message;
use super::{Result, TrainError};
use std::path::Path;

/// A model's template (or none) and its special tokens.
#[derive(Debug, Clone, Default)]
pub struct ChatTemplate {
    pub source: Option<String>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

impl ChatTemplate {
    /// Read `tokenizer_config.json` in `dir` (a missing file means no template).
    pub fn from_model_dir(dir: &Path) -> Result<ChatTemplate> {
        let path = dir.join("tokenizer_config.json");
        if !path.is_file() {
            return Ok(ChatTemplate::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| TrainError::Input(format!("{}: not valid JSON: {e}", path.display())))?;
        ChatTemplate::from_json(&v)
    }

    /// From the parsed `tokenizer_config.json`.
    pub fn from_json(v: &serde_json::Value) -> Result<ChatTemplate> {
        let source = match v.get("chat_template") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Array(list)) => {
                let named = |n: &str| list.iter().find(|t| t.get("name").and_then(|x| x.as_str()) == Some(n));
                named("default")
                    .or(list.first())
                    .and_then(|t| t.get("template"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string)
            }
            _ => None,
        };
        let token = |key: &str| match v.get(key) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(o) => o.get("content").and_then(|c| c.as_str()).map(str::to_string),
            None => None,
        };
        Ok(ChatTemplate { source, bos_token: token("bos_token"), eos_token: token("eos_token") })
    }

    /// The template applied to `messages`.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let Some(source) = &self.source else {
            return Err(TrainError::Input("the model has no chat template".into()));
        };
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |_fmt: String| -> String { String::new() });
        env.add_template("chat", source).map_err(|e| TrainError::Input(format!("chat template: {e}")))?;
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.clone().unwrap_or_default(),
            eos_token => self.eos_token.clone().unwrap_or_default(),
        };
        env.get_template("chat")
            .and_then(|t| t.render(ctx))
            .map_err(|e| TrainError::Input(format!("chat template: {e}")))
    }

    /// (prompt, target) of a conversation whose last message is the assistant's.
    pub fn split(&self, messages: &[Message]) -> Result<(String, String)> {
        let Some((last, context)) = messages.split_last().filter(|(m, _)| m.role == "assistant") else {
            return Err(TrainError::Input("an example must end with an assistant message".into()));
        };
        if self.source.is_none() {
            let prompt: String = context.iter().map(|m| format!("{}\n\n", m.content)).collect();
            let target = format!("{}{}", last.content, self.eos_token.clone().unwrap_or_default());
            return Ok((prompt, target));
        }
        let prompt = self.render(context, true)?;
        let full = self.render(messages, false)?;
        match full.strip_prefix(&prompt) {
            Some(target) => Ok((prompt, target.to_string())),
            // Templates that rewrite earlier turns: score the assistant's text itself.
            None => Ok((prompt, format!("{}{}", last.content, self.eos_token.clone().unwrap_or_default()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen2's ChatML template, as its tokenizer_config.json carries it.
    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    fn msgs() -> Vec<Message> {
        vec![Message::new("system", "sys"), Message::new("user", "fix f"), Message::new("assistant", "--- a/f.py")]
    }

    #[test]
    fn chatml_prompt_ends_with_the_generation_prompt_and_target_is_the_turn() {
        let t =
            ChatTemplate::from_json(&serde_json::json!({"chat_template": CHATML, "eos_token": "<|im_end|>"})).unwrap();
        let (prompt, target) = t.split(&msgs()).unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nfix f<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(target, "--- a/f.py<|im_end|>\n");
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let src = "{% if messages[0]['role'] == 'bad' %}{{ raise_exception('no bad roles') }}{% endif %}{% for m in messages %}{{ m['content'].strip() | upper }}{% endfor %}";
        let t = ChatTemplate { source: Some(src.into()), ..Default::default() };
        assert_eq!(t.render(&[Message::new("user", "  hi ")], false).unwrap(), "HI");
        let e = t.render(&[Message::new("bad", "x")], false).unwrap_err().to_string();
        assert!(e.contains("no bad roles"), "{e}");
    }

    #[test]
    fn no_template_is_the_plain_layout() {
        let t = ChatTemplate::from_json(&serde_json::json!({"eos_token": {"content": "</s>"}})).unwrap();
        let (prompt, target) = t.split(&msgs()).unwrap();
        assert_eq!((prompt.as_str(), target.as_str()), ("sys\n\nfix f\n\n", "--- a/f.py</s>"));
        assert!(t.split(&msgs()[..2]).is_err(), "must end with the assistant");
    }
}
