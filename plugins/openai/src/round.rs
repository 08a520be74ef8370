//! One streamed answer of the model, assembled from its chunks: text, reasoning, tool
//! calls whose arguments arrive in fragments, usage.

use agent_plugin_api::types::{Error, UsageMetadata};
use serde_json::Value;

/// A tool call as the model streams it: id and name in the first fragment, the
/// arguments' JSON text in pieces.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PendingCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What one round has brought so far.
#[derive(Debug, Default)]
pub struct Round {
    pub text: String,
    pub calls: Vec<PendingCall>,
    pub usage: Option<UsageMetadata>,
}

/// What a chunk adds that the turn streams at once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub text: Option<String>,
    pub reasoning: Option<String>,
}

impl Round {
    /// Applies one streamed chunk (`chat.completion.chunk`).
    pub fn apply(&mut self, chunk: &Value) -> Result<Delta, Error> {
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(Error::BackendError(format!(
                "the server reported: {message}"
            )));
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            self.usage = Some(crate::usage::from_api(usage));
        }
        let mut delta = Delta::default();
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Ok(delta);
        };
        let Some(message) = choice.get("delta") else {
            return Ok(delta);
        };
        if let Some(text) = message.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                self.text.push_str(text);
                delta.text = Some(text.to_owned());
            }
        }
        // vLLM and DeepSeek say `reasoning_content`, others `reasoning`.
        let reasoning = message
            .get("reasoning_content")
            .or_else(|| message.get("reasoning"))
            .and_then(Value::as_str);
        if let Some(reasoning) = reasoning.filter(|text| !text.is_empty()) {
            delta.reasoning = Some(reasoning.to_owned());
        }
        for fragment in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = fragment
                .get("index")
                .and_then(Value::as_u64)
                .map_or(self.calls.len().saturating_sub(1), |index| index as usize);
            if index > 127 {
                return Err(Error::Stream(format!("a tool call index of {index}")));
            }
            if self.calls.len() <= index {
                self.calls.resize(index + 1, PendingCall::default());
            }
            let call = &mut self.calls[index];
            if let Some(id) = fragment.get("id").and_then(Value::as_str) {
                call.id = id.to_owned();
            }
            if let Some(name) = fragment.pointer("/function/name").and_then(Value::as_str) {
                call.name.push_str(name);
            }
            if let Some(arguments) = fragment
                .pointer("/function/arguments")
                .and_then(Value::as_str)
            {
                call.arguments.push_str(arguments);
            }
        }
        Ok(delta)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tool_calls_in_fragments_are_assembled_by_index() {
        let mut round = Round::default();
        let chunks = [
            json!({"choices": [{"delta": {"tool_calls": [
                {"index": 0, "id": "call_a", "function": {"name": "calc", "arguments": "{\"ex"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [
                {"index": 1, "id": "call_b", "function": {"name": "time", "arguments": "{}"}},
                {"index": 0, "function": {"arguments": "pr\": \"6*7\"}"}}]}}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}),
        ];
        for chunk in &chunks {
            round.apply(chunk).unwrap();
        }
        assert_eq!(round.calls.len(), 2);
        assert_eq!(round.calls[0].name, "calc");
        assert_eq!(round.calls[0].arguments, "{\"expr\": \"6*7\"}");
        assert_eq!(round.calls[1].id, "call_b");
        assert_eq!(round.usage.unwrap().total_token_count, Some(7));
    }

    #[test]
    fn text_and_reasoning_are_deltas_and_an_error_chunk_is_an_error() {
        let mut round = Round::default();
        let delta = round
            .apply(&json!({"choices": [{"delta": {"content": "Hi", "reasoning_content": "hmm"}}]}))
            .unwrap();
        assert_eq!(delta.text.as_deref(), Some("Hi"));
        assert_eq!(delta.reasoning.as_deref(), Some("hmm"));
        let error = round
            .apply(&json!({"error": {"message": "overloaded"}}))
            .unwrap_err();
        assert!(error.to_string().contains("overloaded"), "{error}");
    }
}
