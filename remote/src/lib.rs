//! The `Runtime` trait over gRPC (`proto/agent_host/runtime/v1/runtime.proto`).
//!
//! [`Server`] serves any `Runtime` on a Unix socket or TCP (what `agent-host serve`
//! runs); [`RemoteRuntime`] is the client side, a `Runtime` like any other, so an
//! application and the conformance kit cannot tell a backend in a child process or on
//! another machine from one loaded in-process. Every call and every turn travel over one
//! long-lived session stream, multiplexed by id and batched: a call costs a message each
//! way, not an RPC of its own.

mod address;
mod batches;
mod client;
mod convert;
pub mod framed;
mod handshake;
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto;
mod security;
mod server;

pub use address::Address;
pub use client::{Destination, OnLost, RemoteRuntime, ServerInfo};
pub use handshake::{
    check_protocol, HandshakeLine, Transport, PROTOCOL_METADATA, PROTOCOL_VERSION,
};
pub use security::{ClientTls, ServerSecurity, ServerTls, Token};
pub use server::{BackendInfo, ServeError, Server};
