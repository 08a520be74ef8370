//! A history entry on the wire. Roles cross as a code plus their name: a code this side
//! does not know becomes `Role::Unknown(name)`, so a newer peer's role is kept verbatim.

use abi_stable::std_types::RString;
use abi_stable::StableAbi;

use super::FfiContent;
use crate::stream::{ToolCall, ToolResult};
use crate::types::{ConversationMessage, Role};

/// Role codes on the wire. New codes may be added in a minor version.
mod code {
    pub const UNKNOWN: u32 = 0;
    pub const USER: u32 = 1;
    pub const MODEL: u32 = 2;
    pub const SYSTEM: u32 = 3;
    /// Since 0.2.1.
    pub const TOOL: u32 = 4;
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiRole {
    pub code: u32,
    /// Always set: what the role is called, for a side that does not know the code.
    pub name: RString,
}

impl From<Role> for FfiRole {
    fn from(role: Role) -> Self {
        let code = match &role {
            Role::User => code::USER,
            Role::Model => code::MODEL,
            Role::System => code::SYSTEM,
            Role::Tool => code::TOOL,
            _ => code::UNKNOWN,
        };
        FfiRole {
            code,
            name: role.name().into(),
        }
    }
}

impl From<FfiRole> for Role {
    fn from(role: FfiRole) -> Self {
        match role.code {
            code::USER => Role::User,
            code::MODEL => Role::Model,
            code::SYSTEM => Role::System,
            code::TOOL => Role::Tool,
            _ => Role::Unknown(role.name.into_string()),
        }
    }
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiMessage {
    pub role: FfiRole,
    pub content: FfiContent,
    /// Fields added to `ConversationMessage` in later minor versions, as a JSON object
    /// (empty: none). A side that does not know a field ignores it.
    pub later_fields_json: RString,
}

/// The fields `ConversationMessage` gained after 0.2.0, as they cross.
#[derive(Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct LaterFields {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_result: Option<ToolResult>,
}

impl From<ConversationMessage> for FfiMessage {
    fn from(message: ConversationMessage) -> Self {
        let later = if message.tool_calls.is_empty() && message.tool_result.is_none() {
            RString::new()
        } else {
            let fields = LaterFields {
                tool_calls: message.tool_calls,
                tool_result: message.tool_result,
            };
            serde_json::to_string(&fields).unwrap_or_default().into()
        };
        FfiMessage {
            content: FfiContent::from(&message.content),
            role: message.role.into(),
            later_fields_json: later,
        }
    }
}

impl From<FfiMessage> for ConversationMessage {
    fn from(message: FfiMessage) -> Self {
        let mut converted = ConversationMessage::new(message.role.into(), message.content);
        if !message.later_fields_json.is_empty() {
            // Unknown fields (from a newer peer) are ignored; broken JSON loses only them.
            let later: LaterFields =
                serde_json::from_str(&message.later_fields_json).unwrap_or_default();
            converted.tool_calls = later.tool_calls;
            converted.tool_result = later.tool_result;
        }
        converted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_and_results_cross_in_the_later_fields() {
        let call = ToolCall::new("c1", "clock", serde_json::json!({}));
        let result = ToolResult::new("c1", "clock", Ok(serde_json::json!("noon")));
        for message in [
            ConversationMessage::tool_calls(vec![call]),
            ConversationMessage::tool_result(result),
            ConversationMessage::new(Role::User, "hi"),
        ] {
            let back = ConversationMessage::from(FfiMessage::from(message.clone()));
            assert_eq!(back, message);
        }
        let from_newer = FfiMessage {
            role: FfiRole::from(Role::User),
            content: FfiContent::from(&crate::types::Content::text("x")),
            later_fields_json: r#"{"mood": "fine"}"#.into(),
        };
        assert_eq!(
            ConversationMessage::from(from_newer),
            ConversationMessage::new(Role::User, "x")
        );
    }

    #[test]
    fn roles_survive_and_unknown_codes_keep_their_name() {
        for role in [
            Role::User,
            Role::Model,
            Role::System,
            Role::Tool,
            Role::Unknown("critic".into()),
        ] {
            assert_eq!(Role::from(FfiRole::from(role.clone())), role);
        }
        let future = FfiRole {
            code: 77,
            name: "critic".into(),
        };
        assert_eq!(Role::from(future), Role::Unknown("critic".into()));
    }
}
