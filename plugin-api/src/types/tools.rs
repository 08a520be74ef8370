//! The application's tools, as both sides see them: named async handlers that a backend
//! calls with JSON arguments and that answer with JSON or an error.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::contained::{contained, Contained};
use super::{AgentConfig, Error};
use crate::ffi::panic_message;

/// Why a tool call failed, as the backend (and its model) is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct ToolError {
    pub message: String,
}

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        ToolError {
            message: message.into(),
        }
    }
}

type Handler = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, ToolError>> + Send + Sync>;

/// Tools by name: what an application hands an agent (see
/// [`Runtime::create_agent_with_tools`](crate::Runtime::create_agent_with_tools)) and
/// what a backend calls. Cloning is cheap; a clone calls the same handlers.
///
/// ```
/// use agent_plugin_api::types::{ToolError, Tools};
/// use serde_json::json;
///
/// let tools = Tools::new().with("add", |args| async move {
///     let sum = args["a"].as_i64().zip(args["b"].as_i64()).map(|(a, b)| a + b);
///     sum.map(|sum| json!(sum)).ok_or_else(|| ToolError::new("a and b must be integers"))
/// });
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(tools.call("add", json!({"a": 2, "b": 3})).await, Ok(json!(5)));
/// assert!(tools.call("nope", json!({})).await.is_err());
/// # });
/// ```
#[derive(Clone, Default)]
pub struct Tools {
    /// Shared, so that a clone (one per turn, per agent) is a reference count.
    handlers: Arc<BTreeMap<String, Handler>>,
}

impl std::fmt::Debug for Tools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl Tools {
    pub fn new() -> Self {
        Tools::default()
    }

    /// Adds (or replaces) the tool `name`. The handler may be called many times, at
    /// once, from any thread.
    pub fn with<F, Fut>(mut self, name: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ToolError>> + Send + 'static,
    {
        Arc::make_mut(&mut self.handlers)
            .insert(name.into(), Arc::new(move |args| handler(args).boxed()));
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    /// Runs the tool `name`. A tool that does not exist, and a handler that panics, give
    /// an error, never a panic.
    pub async fn call(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        let Some(handler) = self.handlers.get(name) else {
            let known: Vec<&str> = self.names().collect();
            return Err(ToolError::new(format!(
                "no tool named `{name}` (tools: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        let started = contained(|| std::panic::catch_unwind(AssertUnwindSafe(|| handler(args))));
        let call = match started {
            Ok(call) => call,
            Err(payload) => return Err(panicked(name, payload.as_ref())),
        };
        AssertUnwindSafe(Contained(call))
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| Err(panicked(name, payload.as_ref())))
    }

    /// The tools `config` declares, from `self` (an agent's own) over `shared` (the
    /// runtime's): an agent is offered only what it declares. A tool of the agent's own
    /// that it does not declare is refused, since its model would never be told of it.
    pub fn for_agent(&self, shared: &Tools, config: &AgentConfig) -> Result<Tools, Error> {
        let declared = |name: &str| config.tools.iter().any(|tool| tool.name == name);
        if let Some(stray) = self.names().find(|name| !declared(name)) {
            return Err(Error::InvalidConfig(format!(
                "tool `{stray}` has a handler but is not declared in the agent's tools"
            )));
        }
        let mut handlers = BTreeMap::new();
        for (name, handler) in shared.handlers.iter().chain(self.handlers.iter()) {
            if declared(name) {
                handlers.insert(name.clone(), handler.clone());
            }
        }
        Ok(Tools {
            handlers: Arc::new(handlers),
        })
    }

    /// Builds tools from handlers that already exist elsewhere (the FFI layer).
    pub(crate) fn from_handlers(handlers: impl IntoIterator<Item = (String, Handler)>) -> Self {
        Tools {
            handlers: Arc::new(handlers.into_iter().collect()),
        }
    }
}

pub(crate) type ToolHandler = Handler;

fn panicked(name: &str, payload: &(dyn std::any::Any + Send)) -> ToolError {
    ToolError::new(format!(
        "tool `{name}` panicked: {}",
        panic_message(payload)
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::ToolDefinition;

    #[tokio::test]
    async fn failures_and_panics_are_errors() {
        let tools = Tools::new()
            .with("fails", |_| async { Err(ToolError::new("no luck")) })
            .with("panics", |_| async { panic!("boom") })
            .with("panics_at_once", |_| -> futures::future::Ready<_> {
                panic!("sync boom")
            });
        assert_eq!(
            tools.call("fails", json!({})).await,
            Err(ToolError::new("no luck"))
        );
        let error = tools.call("panics", json!({})).await.unwrap_err();
        assert!(error.message.contains("`panics` panicked: boom"), "{error}");
        let error = tools.call("panics_at_once", json!({})).await.unwrap_err();
        assert!(error.message.contains("sync boom"), "{error}");
        let error = tools.call("ghost", json!({})).await.unwrap_err();
        assert!(error.message.contains("no tool named `ghost`"), "{error}");
    }

    #[tokio::test]
    async fn an_agent_gets_what_it_declares_its_own_first() {
        let shared = Tools::new()
            .with("clock", |_| async { Ok(json!("shared clock")) })
            .with("undeclared", |_| async { Ok(json!(0)) });
        let own = Tools::new().with("clock", |_| async { Ok(json!("own clock")) });
        let config = AgentConfig::builder("m")
            .tool(ToolDefinition::new("clock", "the time", json!({})))
            .build();
        let tools = own.for_agent(&shared, &config).unwrap();
        assert_eq!(tools.names().collect::<Vec<_>>(), ["clock"]);
        assert_eq!(tools.call("clock", json!({})).await, Ok(json!("own clock")));
        let stray = Tools::new().with("stray", |_| async { Ok(json!(0)) });
        let error = stray.for_agent(&shared, &config).unwrap_err();
        assert!(error.to_string().contains("`stray`"), "{error}");
    }
}
