//! The kit: a backend written one turn at a time ([`AgentBackend`]), exported as
//! [`AgentRuntime`], which supplies every other `Runtime` method. Public through
//! [`crate::plugin`], where its use is shown.

mod agent;
mod backend;
mod budget;
mod conversation;
mod runtime;
mod turn;

pub use backend::{AgentBackend, NoOptions};
pub use budget::consume_budget;
pub use runtime::AgentRuntime;
pub use turn::Turn;

#[cfg(test)]
mod tests;
