//! The benches' baseline for a process-based plugin system (nushell's design): the mock
//! backend in a child process, spoken to with newline-delimited JSON over its stdin and
//! stdout, with request ids so that many requests are in flight at once.
//!
//! `cargo xtask bench` measures it beside the same mock in-process and through the ABI.
//! It is a fair peer, not a strawman: one writer per direction that flushes only when
//! nothing more is queued, and text chunks either one message each or, batched, every
//! chunk that is ready (up to 1,024) in one message.

mod client;
mod wire;

pub use client::{PeerError, PipePeer, PipeTurn};
pub use wire::Framing;

#[doc(hidden)]
pub use wire::{Kind, Op, Request, Response};
