use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::UsageMetadata;

/// A model's request to call one of the agent's tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON.
    pub args: Value,
}

/// A progress marker inside a turn (an agent loop iteration, a tool round trip, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub index: u32,
    pub description: String,
}

/// One thing that happened during a turn, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChatEvent {
    Text(String),
    Thought(String),
    ToolCall(ToolCall),
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
