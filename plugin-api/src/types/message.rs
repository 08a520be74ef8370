use serde::{Deserialize, Serialize};

use super::Content;
use crate::stream::{ToolCall, ToolResult};

/// Who said a message. More roles may come in a minor version (match with a `_` arm).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Role {
    User,
    Model,
    System,
    /// A tool's answer to a call the model made (since api 0.2.1).
    Tool,
    /// A role this version does not know, kept verbatim.
    Unknown(String),
}

impl Role {
    /// What the role is called: `user`, `model`, `system`, or the unknown role's name.
    pub fn name(&self) -> &str {
        match self {
            Role::User => "user",
            Role::Model => "model",
            Role::System => "system",
            Role::Tool => "tool",
            Role::Unknown(name) => name,
        }
    }
}

/// One entry of an agent's history. Fields may be added in a minor version: build one
/// with [`ConversationMessage::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationMessage {
    pub role: Role,
    pub content: Content,
    /// A model message that asked for tools: the calls, in order (since api 0.2.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A `Role::Tool` message: the call it answers and what came back (since 0.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<ToolResult>,
}

impl ConversationMessage {
    pub fn new(role: Role, content: impl Into<Content>) -> Self {
        ConversationMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_result: None,
        }
    }

    /// The model's request for `calls`, as the history keeps it.
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        ConversationMessage {
            tool_calls: calls,
            ..ConversationMessage::new(Role::Model, "")
        }
    }

    /// A turn's finished tool calls as the history keeps them, in call order: for each,
    /// the model's request, then the tool's answer. `order` is each call's place among
    /// the calls made (they may finish in another order).
    pub fn tool_exchanges(
        mut exchanges: Vec<(u32, ToolCall, ToolResult)>,
    ) -> Vec<ConversationMessage> {
        exchanges.sort_by_key(|(order, ..)| *order);
        exchanges
            .into_iter()
            .flat_map(|(_, call, result)| {
                [
                    ConversationMessage::tool_calls(vec![call]),
                    ConversationMessage::tool_result(result),
                ]
            })
            .collect()
    }

    /// A tool's answer, as the history keeps it: the output's JSON (or the error) as the
    /// text, the result itself beside it.
    pub fn tool_result(result: ToolResult) -> Self {
        let text = match &result.output {
            Ok(value) => value.to_string(),
            Err(error) => format!("error: {error}"),
        };
        ConversationMessage {
            tool_result: Some(result),
            ..ConversationMessage::new(Role::Tool, text)
        }
    }
}
