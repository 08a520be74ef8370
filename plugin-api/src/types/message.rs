use serde::{Deserialize, Serialize};

use super::Content;

/// Who said a message. More roles may come in a minor version (match with a `_` arm).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Role {
    User,
    Model,
    System,
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
}

impl ConversationMessage {
    pub fn new(role: Role, content: impl Into<Content>) -> Self {
        ConversationMessage {
            role,
            content: content.into(),
        }
    }
}
