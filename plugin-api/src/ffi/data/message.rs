//! A history entry on the wire. Roles cross as a code plus their name: a code this side
//! does not know becomes `Role::Unknown(name)`, so a newer peer's role is kept verbatim.

use abi_stable::std_types::RString;
use abi_stable::StableAbi;

use super::FfiContent;
use crate::types::{ConversationMessage, Role};

/// Role codes on the wire. New codes may be added in a minor version.
mod code {
    pub const UNKNOWN: u32 = 0;
    pub const USER: u32 = 1;
    pub const MODEL: u32 = 2;
    pub const SYSTEM: u32 = 3;
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

impl From<ConversationMessage> for FfiMessage {
    fn from(message: ConversationMessage) -> Self {
        FfiMessage {
            content: FfiContent::from(&message.content),
            role: message.role.into(),
            later_fields_json: RString::new(),
        }
    }
}

impl From<FfiMessage> for ConversationMessage {
    fn from(message: FfiMessage) -> Self {
        ConversationMessage::new(message.role.into(), message.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_survive_and_unknown_codes_keep_their_name() {
        for role in [
            Role::User,
            Role::Model,
            Role::System,
            Role::Unknown("tool".into()),
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
