//! The plain Rust data types of the contract: what applications and backends exchange.

mod agent_config;
mod content;
mod error;
mod message;
mod usage;

pub use agent_config::{AgentConfig, AgentConfigBuilder, ToolDefinition, API_KEY_ENV};
pub use content::{Content, Media};
pub use error::Error;
pub use message::{ConversationMessage, Role};
pub use usage::UsageMetadata;

/// Identifies an agent within one runtime; unique for the runtime's life.
pub type AgentId = u64;
