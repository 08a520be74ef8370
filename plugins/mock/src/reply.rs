//! What the mock answers: pure, deterministic functions of the message and the turn.
//!
//! Nothing here copies the message: the answer is the user's text behind a prefix, cut
//! into chunks as it streams, so a big echo costs no memory of its own.

use std::borrow::Cow;

use agent_plugin_api::types::{Content, Media, ToolCall, UsageMetadata};
use serde_json::{json, Map, Value};

/// How many characters of the user's text a thought quotes.
const THOUGHT_QUOTE_CHARS: usize = 40;

/// The user's text: borrowed when the message is plain text, else joined.
pub fn user_text(content: &Content) -> Cow<'_, str> {
    match content {
        Content::Text(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_text()),
    }
}

/// An answer as its two parts, `prefix` then `body`, never joined into one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a> {
    /// Empty, or ends with whitespace (so words never run across the two parts).
    pub prefix: &'static str,
    pub body: Cow<'a, str>,
}

impl Answer<'_> {
    pub fn parts(&self) -> [&str; 2] {
        [self.prefix, &self.body]
    }

    pub fn word_count(&self) -> u32 {
        word_count(self.prefix).saturating_add(word_count(&self.body))
    }
}

impl std::fmt::Display for Answer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.prefix, self.body)
    }
}

/// The answer to `content` (whose text is `user_text`) on the agent's turn `turn_index`
/// (0-based): the next scripted reply if there are any, else `echo: <text>` (or a
/// description of the media when the message has no text).
pub fn compose_answer<'a>(
    content: &Content,
    user_text: &'a str,
    scripted: Option<&'a [String]>,
    turn_index: u64,
) -> Answer<'a> {
    if let Some(replies) = scripted.filter(|replies| !replies.is_empty()) {
        // The remainder is below `replies.len()`, so it fits a usize.
        let index = (turn_index % replies.len() as u64) as usize;
        return Answer {
            prefix: "",
            body: Cow::Borrowed(&replies[index]),
        };
    }
    let body = if user_text.is_empty() {
        Cow::Owned(describe_media(content))
    } else {
        Cow::Borrowed(user_text)
    };
    Answer {
        prefix: "echo: ",
        body,
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
        _ => {} // a content kind newer than this backend: nothing it can describe
    }
}

/// The text of `parts`, joined, in chunks of `max_chars` characters (at least one; the
/// last may be shorter), never inside a character. A chunk is borrowed unless it spans
/// two parts. Empty text has no chunks.
pub fn chunks<'a>(parts: [&'a str; 2], max_chars: usize) -> impl Iterator<Item = Cow<'a, str>> {
    let max_chars = max_chars.max(1);
    let mut parts = parts.into_iter().filter(|part| !part.is_empty());
    let mut rest: &'a str = parts.next().unwrap_or_default();
    std::iter::from_fn(move || {
        while rest.is_empty() {
            rest = parts.next()?;
        }
        let (taken, chars) = take_chars(rest, max_chars);
        rest = &rest[taken.len()..];
        if chars == max_chars || !rest.is_empty() {
            return Some(Cow::Borrowed(taken));
        }
        // The part ended early: the chunk goes on into the next parts.
        let mut chunk = taken.to_owned();
        let mut missing = max_chars - chars;
        while missing > 0 {
            let Some(next) = parts.next() else { break };
            let (more, chars) = take_chars(next, missing);
            chunk.push_str(more);
            missing -= chars;
            rest = &next[more.len()..];
        }
        Some(Cow::Owned(chunk))
    })
}

/// The first `max` characters of `text` (fewer if it is shorter), and how many they are.
fn take_chars(text: &str, max: usize) -> (&str, usize) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (&text[..end], max),
        None => (text, text.chars().count()),
    }
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
pub fn usage_for(user_text: &str, answer_words: u32, thought: Option<&str>) -> UsageMetadata {
    let prompt = word_count(user_text);
    let candidates = answer_words;
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
    Some(ToolCall::new(
        format!("call-{turn_number}-0"),
        name.clone(),
        json!({ "query": user_text }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(content: &Content, scripted: Option<&[String]>, turn: u64) -> String {
        compose_answer(content, &user_text(content), scripted, turn).to_string()
    }

    #[test]
    fn echo_quotes_the_text() {
        assert_eq!(
            answer(&Content::text("hi there"), None, 0),
            "echo: hi there"
        );
        let multi = Content::Multi(vec![
            Content::text("a"),
            Content::Image(Media::new(vec![1], "image/png")),
            Content::text("b"),
        ]);
        assert_eq!(answer(&multi, None, 3), "echo: a\nb");
        assert!(matches!(user_text(&Content::text("x")), Cow::Borrowed("x")));
    }

    #[test]
    fn echo_describes_media_without_text() {
        let image = Content::Image(Media::new(vec![1, 2, 3], "image/png"));
        assert_eq!(answer(&image, None, 0), "echo: [image image/png, 3 bytes]");
        let several = Content::Multi(vec![
            Content::Audio(Media::new(vec![0; 10], "audio/wav")),
            Content::Document(Media::new(Vec::new(), "application/pdf")),
        ]);
        assert_eq!(
            answer(&several, None, 0),
            "echo: [audio audio/wav, 10 bytes] [document application/pdf, 0 bytes]"
        );
    }

    #[test]
    fn scripted_replies_cycle_by_turn() {
        let replies = vec!["one".to_owned(), "two".to_owned()];
        let answers: Vec<_> = (0..5)
            .map(|turn| answer(&Content::text("x"), Some(&replies), turn))
            .collect();
        assert_eq!(answers, ["one", "two", "one", "two", "one"]);
        assert_eq!(answer(&Content::text("x"), Some(&[]), 0), "echo: x");
    }

    fn split(parts: [&str; 2], max_chars: usize) -> Vec<String> {
        chunks(parts, max_chars).map(Cow::into_owned).collect()
    }

    #[test]
    fn chunks_respect_the_limit_and_char_boundaries() {
        assert_eq!(split(["echo: ", "hello"], 4), ["echo", ": he", "llo"]);
        assert_eq!(split(["", "héllo wörld"], 3), ["hél", "lo ", "wör", "ld"]);
        assert_eq!(split(["🦀🦀", "🦀"], 2), ["🦀🦀", "🦀"]);
        assert_eq!(split(["🦀", "🦀🦀"], 2), ["🦀🦀", "🦀"]);
        assert!(split(["", ""], 8).is_empty());
        assert_eq!(split(["ab", "c"], 100), ["abc"]);
        assert_eq!(split(["abc", ""], 1), ["a", "b", "c"]);
        assert_eq!(
            split(["a", "bcdefgh"], 0),
            ["a", "b", "c", "d", "e", "f", "g", "h"]
        );
        let borrowed =
            chunks(["echo: ", "hello world"], 3).filter(|c| matches!(c, Cow::Borrowed(_)));
        assert_eq!(
            borrowed.count(),
            5,
            "only the chunk across the parts is a copy"
        );
    }

    #[test]
    fn answer_words_count_across_the_parts() {
        let text = Content::text("one two");
        assert_eq!(compose_answer(&text, "one two", None, 0).word_count(), 3);
        let reply = ["just this".to_owned()];
        assert_eq!(
            compose_answer(&text, "one two", Some(&reply), 0).word_count(),
            2
        );
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
        let usage = usage_for("one two three", 4, Some("considering: one"));
        assert_eq!(usage.prompt_token_count, Some(3));
        assert_eq!(usage.candidates_token_count, Some(4));
        assert_eq!(usage.thoughts_token_count, Some(2));
        assert_eq!(usage.total_token_count, Some(9));
        assert_eq!(usage.cached_content_token_count, None);

        let without_thought = usage_for("a b", 1, None);
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
