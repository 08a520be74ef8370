//! The checks, one file per topic of `semantics.md`; the registry in `macros.rs` names
//! and describes each.

pub(crate) mod chat;
pub(crate) mod concurrency;
pub(crate) mod conversation;
pub(crate) mod idle;
pub(crate) mod lifecycle;
pub(crate) mod quota;
pub(crate) mod saved;
pub(crate) mod tools;
