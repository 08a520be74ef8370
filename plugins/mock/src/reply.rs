//! What the mock answers: pure, deterministic functions of the message and the turn.

use agent_plugin_api::{Content, Media, ToolCall, UsageMetadata};
use serde_json::{json, Map, Value};

/// How many characters of the user's text a thought quotes.
const THOUGHT_QUOTE_CHARS: usize = 40;

/// The answer to `content` on the agent's turn `turn_index` (0-based): the next scripted
/// reply if there are any, else `echo: <text>` (or a description of the media when the
/// message has no text).
pub fn compose_answer(content: &Content, scripted: Option<&[String]>, turn_index: u64) -> String {
    if let Some(replies) = scripted.filter(|replies| !replies.is_empty()) {
        // The remainder is below `replies.len()`, so it fits a usize.
        let index = (turn_index % replies.len() as u64) as usize;
        return replies[index].clone();
    }
    let text = content.to_text();
    if text.is_empty() {
        format!("echo: {}", describe_media(content))
    } else {
        format!("echo: {text}")
    }
}

/// `[image image/png, 3 bytes]` for each media part, space-separated.
pub fn describe_media(content: &Content) -> String {
    let mut parts = Vec::new();
    collect_media(content, &mut parts);
    parts
        .iter()
        .map(|(kind, media)| format!("[{kind} {}, {} bytes]", media.mime_type, media.data.len()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn collect_media<'a>(content: &'a Content, out: &mut Vec<(&'static str, &'a Media)>) {
    match content {
        Content::Text(_) => {}
        Content::Image(media) => out.push(("image", media)),
        Content::Document(media) => out.push(("document", media)),
        Content::Audio(media) => out.push(("audio", media)),
        Content::Video(media) => out.push(("video", media)),
        Content::Multi(parts) => parts.iter().for_each(|part| collect_media(part, out)),
    }
}

/// Splits `answer` into chunks of at most `max_chars` characters (at least one each),
/// never inside a character. An empty answer has no chunks.
pub fn split_into_chunks(answer: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let chars: Vec<char> = answer.chars().collect();
    chars
        .chunks(max_chars)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// The thought a turn shows before answering.
pub fn thought_for(user_text: &str) -> String {
    let quoted: String = user_text.chars().take(THOUGHT_QUOTE_CHARS).collect();
    format!("considering: {quoted}")
}

pub fn word_count(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

/// Usage counted in words: the user's text, the answer, and the thought if one was shown.
pub fn usage_for(user_text: &str, answer: &str, thought: Option<&str>) -> UsageMetadata {
    let prompt = word_count(user_text);
    let candidates = word_count(answer);
    let thoughts = thought.map(word_count);
    let total = prompt
        .saturating_add(candidates)
        .saturating_add(thoughts.unwrap_or(0));
    UsageMetadata {
        prompt_token_count: Some(prompt),
        cached_content_token_count: None,
        candidates_token_count: Some(candidates),
        thoughts_token_count: thoughts,
        total_token_count: Some(total),
    }
}

/// An object that follows `schema` just enough for tests: each property gets a value of
/// its declared type (strings the answer, numbers the 1-based turn number, `true`, `[]`,
/// `{}`; `null` for anything else). A schema without properties gets `{"text": answer}`.
pub fn structured_output(schema: &Value, answer: &str, turn_number: u64) -> Value {
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .filter(|properties| !properties.is_empty());
    let Some(properties) = properties else {
        return json!({ "text": answer });
    };
    let object: Map<String, Value> = properties
        .iter()
        .map(|(name, property)| {
            let value = match property.get("type").and_then(Value::as_str) {
                Some("string") => Value::from(answer),
                Some("integer" | "number") => Value::from(turn_number),
                Some("boolean") => Value::Bool(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => Value::Null,
            };
            (name.clone(), value)
        })
        .collect();
    Value::Object(object)
}

/// The call of the first tool (in config order) whose name appears in the user's text.
pub fn detect_tool_call(user_text: &str, tools: &[String], turn_number: u64) -> Option<ToolCall> {
    let name = tools
        .iter()
        .find(|name| user_text.contains(name.as_str()))?;
    Some(ToolCall {
        id: format!("call-{turn_number}-0"),
        name: name.clone(),
        args: json!({ "query": user_text }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_quotes_the_text() {
        assert_eq!(
            compose_answer(&Content::text("hi there"), None, 0),
            "echo: hi there"
        );
        let multi = Content::Multi(vec![
            Content::text("a"),
            Content::Image(Media::new(vec![1], "image/png")),
            Content::text("b"),
        ]);
        assert_eq!(compose_answer(&multi, None, 3), "echo: a\nb");
    }

    #[test]
    fn echo_describes_media_without_text() {
        let image = Content::Image(Media::new(vec![1, 2, 3], "image/png"));
        assert_eq!(
            compose_answer(&image, None, 0),
            "echo: [image image/png, 3 bytes]"
        );
        let several = Content::Multi(vec![
            Content::Audio(Media::new(vec![0; 10], "audio/wav")),
            Content::Document(Media::new(Vec::new(), "application/pdf")),
        ]);
        assert_eq!(
            compose_answer(&several, None, 0),
            "echo: [audio audio/wav, 10 bytes] [document application/pdf, 0 bytes]"
        );
    }

    #[test]
    fn scripted_replies_cycle_by_turn() {
        let replies = vec!["one".to_owned(), "two".to_owned()];
        let answers: Vec<_> = (0..5)
            .map(|turn| compose_answer(&Content::text("x"), Some(&replies), turn))
            .collect();
        assert_eq!(answers, ["one", "two", "one", "two", "one"]);
        assert_eq!(compose_answer(&Content::text("x"), Some(&[]), 0), "echo: x");
    }

    #[test]
    fn chunks_respect_the_limit_and_char_boundaries() {
        assert_eq!(split_into_chunks("echo: hello", 4), ["echo", ": he", "llo"]);
        assert_eq!(
            split_into_chunks("héllo wörld", 3),
            ["hél", "lo ", "wör", "ld"]
        );
        assert_eq!(split_into_chunks("🦀🦀🦀", 2), ["🦀🦀", "🦀"]);
        assert!(split_into_chunks("", 8).is_empty());
        assert_eq!(split_into_chunks("abc", 100), ["abc"]);
        assert_eq!(split_into_chunks("abc", 100).concat(), "abc");
    }

    #[test]
    fn thoughts_quote_at_most_forty_chars() {
        assert_eq!(thought_for("short"), "considering: short");
        let long = "x".repeat(100);
        assert_eq!(
            thought_for(&long),
            format!("considering: {}", "x".repeat(40))
        );
    }

    #[test]
    fn usage_counts_words() {
        let usage = usage_for(
            "one two three",
            "echo: one two three",
            Some("considering: one"),
        );
        assert_eq!(usage.prompt_token_count, Some(3));
        assert_eq!(usage.candidates_token_count, Some(4));
        assert_eq!(usage.thoughts_token_count, Some(2));
        assert_eq!(usage.total_token_count, Some(9));
        assert_eq!(usage.cached_content_token_count, None);

        let without_thought = usage_for("a b", "c", None);
        assert_eq!(without_thought.thoughts_token_count, None);
        assert_eq!(without_thought.total_token_count, Some(3));
    }

    #[test]
    fn structured_output_follows_the_schema_types() {
        let schema = json!({
            "type": "object",
            "properties": {
                "answer": {"type": "string"},
                "turn": {"type": "integer"},
                "score": {"type": "number"},
                "ok": {"type": "boolean"},
                "items": {"type": "array"},
                "meta": {"type": "object"},
                "other": {}
            }
        });
        assert_eq!(
            structured_output(&schema, "echo: hi", 2),
            json!({
                "answer": "echo: hi", "turn": 2, "score": 2, "ok": true,
                "items": [], "meta": {}, "other": null
            })
        );
        assert_eq!(
            structured_output(&json!({"type": "object"}), "echo: hi", 1),
            json!({"text": "echo: hi"})
        );
    }

    #[test]
    fn the_first_named_tool_is_called() {
        let tools = vec!["search".to_owned(), "weather".to_owned()];
        let call = detect_tool_call("weather and search please", &tools, 3).unwrap();
        assert_eq!(call.name, "search");
        assert_eq!(call.id, "call-3-0");
        assert_eq!(call.args, json!({"query": "weather and search please"}));
        assert!(detect_tool_call("nothing here", &tools, 1).is_none());
        assert!(detect_tool_call("search", &[], 1).is_none());
    }
}
