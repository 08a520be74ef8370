//! The benches' baseline for a process-based plugin system (nushell's design): the mock
//! backend in a child process, spoken to with newline-delimited JSON over its stdin and
//! stdout, with request ids so that many requests are in flight at once.
//!
//! `cargo xtask bench` measures it beside the same mock in-process and through the ABI.
//! It is a fair peer, not a strawman: each side has one writer task that flushes only
//! when nothing more is queued and one reader with a reused line buffer, every request
//! runs in a task of its own, and text chunks travel either one message each or, batched,
//! every chunk that is ready (up to 1,024) in one message.
//!
//! - [`client`]: [`PipePeer`], the host's side: starts the child and multiplexes calls.
//! - [`wire`]: the messages of both sides, one JSON object per line.
//! - The child is the `agent-pipe-peer` binary (`src/main.rs`).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use agent_pipe_peer::{Framing, PipePeer};
//!
//! let options = serde_json::json!({ "chunk_delay_ms": 0, "chunk_chars": 64 });
//! let peer = PipePeer::spawn("target/release/agent-pipe-peer".as_ref(), Framing::Batched, &options)?;
//! let agent = peer.create_agent().await?;
//! assert_eq!(peer.chat(agent, "hello").await?.text().await?, "echo: hello");
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod wire;

pub use client::{PeerError, PipePeer, PipeTurn};
pub use wire::Framing;
