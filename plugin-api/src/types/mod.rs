//! Shared by both sides: the data applications and backends exchange through
//! [`Runtime`](crate::Runtime), and the handle a chat turn is read from.

mod agent_config;
mod base64_bytes;
pub(crate) mod contained;
mod content;
mod error;
mod message;
mod tools;
mod usage;

pub use crate::options::{OptionError, OptionSpec, OptionsSchema};
pub use crate::quota::{BackoffPolicy, QuotaRegistry, MAX_BACKOFF};
pub use crate::stream::{
    ChatEvent, ChatResponseHandle, ChatResult, EventStream, PackedEvent, Step, TextChunk, ToolCall,
    ToolResult,
};
pub use agent_config::{AgentConfig, AgentConfigBuilder, ToolDefinition, API_KEY_ENV};
pub use content::{Content, Media};
pub use error::Error;
pub use message::{ConversationMessage, Role};
pub use tools::{ToolError, Tools};

pub(crate) use tools::ToolHandler;
pub use usage::UsageMetadata;

/// Identifies an agent within one runtime; unique for the runtime's life.
pub type AgentId = u64;
