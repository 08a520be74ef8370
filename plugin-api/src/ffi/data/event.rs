//! A chat event on the wire: a kind code plus a payload with room for every kind.
//!
//! Fallback for a kind this side does not know: the event is skipped (logged at debug
//! level). Under the version rule a host never loads a plugin newer than itself, so a
//! host knows every kind a plugin sends; the rule is for a buggy or foreign peer.

use std::sync::Arc;

use abi_stable::std_types::{ROption, RString};
use abi_stable::StableAbi;

use super::shared_texts::FfiSharedTexts;
use super::{parse_json, FfiUsage};
use crate::stream::{ChatEvent, Entry, Step, TextBatch, ToolCall, ToolResult};
use crate::types::ToolError;

/// Event kinds on the wire. New codes may be added in a minor version.
mod kind {
    pub const TEXT: u32 = 1;
    pub const THOUGHT: u32 = 2;
    pub const TOOL_CALL: u32 = 3;
    pub const STEP: u32 = 4;
    pub const USAGE: u32 = 5;
    /// Many text chunks packed end to end, lent by the plugin (which keeps them too).
    pub const TEXTS: u32 = 6;
    /// Since 0.2.1: id, name (`text`), output (`json`); `number` 1 means the output is
    /// an error message.
    pub const TOOL_RESULT: u32 = 7;
}

#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct FfiChatEvent {
    pub kind: u32,
    /// Step: its index.
    pub number: u32,
    /// Text and thought: the text. Tool call: the tool's name. Step: its description.
    pub text: RString,
    /// Tool call: its id.
    pub id: RString,
    /// Tool call: the arguments. Kinds added later put their fields here.
    pub json: RString,
    /// Usage: the counts.
    pub usage: FfiUsage,
    /// Texts: the lent batch.
    pub texts: ROption<FfiSharedTexts>,
}

impl FfiChatEvent {
    fn new(kind: u32, text: RString) -> Self {
        FfiChatEvent {
            kind,
            number: 0,
            text,
            id: RString::new(),
            json: RString::new(),
            usage: FfiUsage::default(),
            texts: ROption::RNone,
        }
    }

    /// The host-side entry, or `None` for a kind this side does not know.
    pub(crate) fn into_entry(self) -> Option<Entry> {
        let event = match self.kind {
            kind::TEXT => ChatEvent::Text(self.text.into_string()),
            kind::THOUGHT => ChatEvent::Thought(self.text.into_string()),
            kind::TOOL_CALL => ChatEvent::ToolCall(ToolCall::new(
                self.id.into_string(),
                self.text.into_string(),
                parse_json(&self.json),
            )),
            kind::TOOL_RESULT => {
                let output = if self.number == 1 {
                    Err(ToolError::new(self.json.into_string()))
                } else {
                    Ok(parse_json(&self.json))
                };
                ChatEvent::ToolResult(ToolResult::new(self.id, self.text, output))
            }
            kind::STEP => ChatEvent::Step(Step::new(self.number, self.text.into_string())),
            kind::USAGE => ChatEvent::Usage(self.usage.into()),
            kind::TEXTS => {
                let texts = self.texts.into_option()?;
                return Some(Entry::Texts(TextBatch::foreign(Arc::new(texts))));
            }
            unknown => {
                tracing::debug!(kind = unknown, "skipped a chat event of an unknown kind");
                return None;
            }
        };
        Some(Entry::Event(event))
    }
}

impl From<Entry> for FfiChatEvent {
    fn from(entry: Entry) -> Self {
        match entry {
            Entry::Event(event) => event.into(),
            Entry::Texts(mut batch) => FfiChatEvent {
                texts: ROption::RSome(FfiSharedTexts::share(batch.freeze())),
                ..FfiChatEvent::new(kind::TEXTS, RString::new())
            },
        }
    }
}

impl From<ChatEvent> for FfiChatEvent {
    fn from(event: ChatEvent) -> Self {
        match event {
            ChatEvent::Text(text) => FfiChatEvent::new(kind::TEXT, text.into()),
            ChatEvent::Thought(text) => FfiChatEvent::new(kind::THOUGHT, text.into()),
            ChatEvent::ToolCall(call) => FfiChatEvent {
                id: call.id.into(),
                json: call.args.to_string().into(),
                ..FfiChatEvent::new(kind::TOOL_CALL, call.name.into())
            },
            ChatEvent::ToolResult(result) => {
                let (number, json) = match result.output {
                    Ok(value) => (0, value.to_string()),
                    Err(error) => (1, error.message),
                };
                FfiChatEvent {
                    id: result.id.into(),
                    number,
                    json: json.into(),
                    ..FfiChatEvent::new(kind::TOOL_RESULT, result.name.into())
                }
            }
            ChatEvent::Step(step) => FfiChatEvent {
                number: step.index,
                ..FfiChatEvent::new(kind::STEP, step.description.into())
            },
            ChatEvent::Usage(usage) => FfiChatEvent {
                usage: usage.into(),
                ..FfiChatEvent::new(kind::USAGE, RString::new())
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::types::UsageMetadata;

    #[test]
    fn every_event_kind_survives_the_crossing() {
        let events = vec![
            ChatEvent::Text("t".into()),
            ChatEvent::Thought("th".into()),
            ChatEvent::ToolCall(ToolCall::new("1", "search", serde_json::json!({"q": "x"}))),
            ChatEvent::Step(Step::new(2, "tool")),
            ChatEvent::ToolResult(ToolResult::new("1", "search", Ok(serde_json::json!([1])))),
            ChatEvent::ToolResult(ToolResult::new("2", "search", Err(ToolError::new("down")))),
            ChatEvent::Usage(UsageMetadata {
                total_token_count: Some(3),
                ..Default::default()
            }),
        ];
        for event in events {
            let Some(Entry::Event(back)) = FfiChatEvent::from(event.clone()).into_entry() else {
                panic!("{event:?} did not come back as an event");
            };
            assert_eq!(back, event);
        }
        let mut batch = TextBatch::new();
        batch.push("a");
        batch.push("bc");
        let Some(Entry::Texts(back)) = FfiChatEvent::from(Entry::Texts(batch)).into_entry() else {
            panic!("a text batch came back as an event");
        };
        assert_eq!(back.chunks().collect::<Vec<_>>(), ["a", "bc"]);
    }

    #[test]
    fn an_unknown_kind_is_skipped() {
        let future = FfiChatEvent::new(4242, "from a newer peer".into());
        assert!(future.into_entry().is_none());
    }

    #[test]
    fn a_lent_batch_is_released_once_when_the_host_drops_it() {
        let mut batch = TextBatch::new();
        batch.push("kept");
        let shared = batch.freeze();
        let lent = FfiChatEvent::from(Entry::Texts(batch));
        assert_eq!(Arc::strong_count(&shared), 2);
        let Some(Entry::Texts(on_the_host)) = lent.into_entry() else {
            panic!("a text batch came back as an event");
        };
        assert_eq!(on_the_host.as_str(), "kept");
        assert!(
            std::ptr::eq(on_the_host.as_str(), shared.buffer.as_str()),
            "not copied"
        );
        drop(on_the_host);
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
