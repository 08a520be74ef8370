use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{ToolError, UsageMetadata};

/// A model's request to call one of the agent's tools. Fields may be added in a minor
/// version: build one with [`ToolCall::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON.
    pub args: Value,
}

impl ToolCall {
    pub fn new(id: impl Into<String>, name: impl Into<String>, args: Value) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            args,
        }
    }
}

/// What a tool call of the turn gave back: its result, or the error the backend was
/// told. It follows its [`ToolCall`] (same `id`) in the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolResult {
    pub id: String,
    pub name: String,
    pub output: Result<Value, ToolError>,
}

impl ToolResult {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        output: Result<Value, ToolError>,
    ) -> Self {
        ToolResult {
            id: id.into(),
            name: name.into(),
            output,
        }
    }
}

/// A progress marker inside a turn (an agent loop iteration, a tool round trip, ...).
/// Fields may be added in a minor version: build one with [`Step::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Step {
    pub index: u32,
    pub description: String,
}

impl Step {
    pub fn new(index: u32, description: impl Into<String>) -> Self {
        Step {
            index,
            description: description.into(),
        }
    }
}

/// One thing that happened during a turn, in the order it happened. More kinds may come
/// in a minor version: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChatEvent {
    Text(String),
    Thought(String),
    ToolCall(ToolCall),
    /// Since api 0.2.1.
    ToolResult(ToolResult),
    Step(Step),
    Usage(UsageMetadata),
}

/// How a turn ended when it ended well.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResult {
    /// The whole answer: every text chunk, concatenated.
    pub text: String,
    pub usage: UsageMetadata,
    /// Present when the agent was configured with a `response_schema`.
    pub structured_output: Option<Value>,
}
