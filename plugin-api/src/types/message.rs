use serde::{Deserialize, Serialize};

use super::Content;

/// Who said a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    User,
    Model,
    System,
    /// A role this version does not know, kept verbatim.
    Unknown(String),
}

/// One entry of an agent's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
