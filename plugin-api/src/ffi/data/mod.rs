//! FFI-safe mirrors of the contract's data types, and their conversions.
//!
//! Kinds cross as a number plus a payload, never as a Rust enum: an enum's variants are
//! part of its layout, so adding one would refuse every plugin built before it. Each
//! kind family states its fallback for a number it does not know (see each file), so a
//! newer peer's data degrades instead of failing. Media crosses as raw bytes;
//! `AgentConfig` crosses as JSON (large, cold, evolving).

mod batch;
mod content;
mod duration;
mod error;
mod event;
mod message;
mod shared_texts;
mod usage;

pub(crate) use batch::{FfiBatch, FfiChatResult};
pub(crate) use content::FfiContent;
pub(crate) use duration::FfiDuration;
pub(crate) use error::{from_result, into_result, FfiError, FfiResult};
pub(crate) use event::FfiChatEvent;
pub(crate) use message::FfiMessage;
pub(crate) use usage::FfiUsage;

/// JSON that a peer produced with `serde_json`; anything unparsable is kept as a string.
pub(crate) fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}
