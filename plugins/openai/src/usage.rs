//! Token counts: the API's `usage` object onto `UsageMetadata` (the mapping is in
//! docs/writing-a-plugin.md, "Token counts").

use agent_plugin_api::types::UsageMetadata;
use serde_json::Value;

pub fn from_api(usage: &Value) -> UsageMetadata {
    let count = |value: Option<&Value>| {
        value
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let completion = count(usage.get("completion_tokens"));
    let reasoning = count(usage.pointer("/completion_tokens_details/reasoning_tokens"));
    UsageMetadata {
        prompt_token_count: count(usage.get("prompt_tokens")),
        cached_content_token_count: count(usage.pointer("/prompt_tokens_details/cached_tokens")),
        candidates_token_count: completion
            .map(|completion| completion.saturating_sub(reasoning.unwrap_or(0))),
        thoughts_token_count: reasoning,
        total_token_count: count(usage.get("total_tokens")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reasoning_tokens_are_thoughts_not_candidates() {
        let usage = from_api(&json!({
            "prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 10}
        }));
        assert_eq!(usage.prompt_token_count, Some(100));
        assert_eq!(usage.cached_content_token_count, Some(64));
        assert_eq!(usage.candidates_token_count, Some(20));
        assert_eq!(usage.thoughts_token_count, Some(10));
        assert_eq!(usage.total_token_count, Some(130));
        assert_eq!(from_api(&json!({})), UsageMetadata::default());
    }
}
