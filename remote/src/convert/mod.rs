//! Between agent-plugin-api's types and the protocol's messages. JSON values cross as
//! JSON text; anything the other side sends that does not read is an error naming the
//! field, never a panic.

mod error;
mod text_run;
mod types;

pub(crate) use error::{error_from_proto, error_to_proto};
pub(crate) use text_run::{events_to_proto, text_run_to_batch};
pub(crate) use types::{
    config_from_proto, config_to_proto, content_from_proto, content_to_proto, event_from_proto,
    event_to_proto, message_from_proto, message_to_proto, result_from_proto, result_to_proto,
    usage_from_proto, usage_to_proto,
};

/// A reply or a message that breaks the protocol.
pub(crate) fn broken(what: impl std::fmt::Display) -> agent_plugin_api::types::Error {
    agent_plugin_api::types::Error::Stream(format!("protocol error: {what}"))
}
