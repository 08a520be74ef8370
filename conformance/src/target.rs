//! What is under test: a named way to build fresh runtimes, plus the inputs the checks use.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use agent_plugin_api::host::{LoadError, PluginLibrary, PluginRuntime};
use agent_plugin_api::plugin::Plugin;
use agent_plugin_api::types::{AgentConfig, Content, Error};
use agent_plugin_api::Runtime;
use futures::future::BoxFuture;
use futures::FutureExt;

/// Builds a fresh runtime each time it is called. Every check gets its own, so one
/// check's agents, quota backoff or broken state never leak into the next.
pub type RuntimeFactory =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Arc<dyn Runtime>, Error>> + Send + Sync>;

/// About sixty words: long enough that an echoing backend streams it for a while, so a
/// check can act on a turn that is still running.
const DEFAULT_LONG_PROMPT: &str = "This paragraph is the long prompt of the conformance \
kit. It asks the backend for an answer that takes a while to arrive, so that a check can \
act on a turn that is still running: cancel it in the middle, drop its handle before it \
ends, or watch an idle waiter stay asleep. Every word here only adds length, and none of \
them asks for a tool.";

/// Builds the message that asks a backend to call tools: `(tool name, input)` pairs.
pub type ToolPrompt = fn(&[(&str, &str)]) -> Content;

/// The kit's convention for asking for tool calls, which the mock and the Python
/// reference agent follow: one line `<tool>: <input>` per call. A backend whose model
/// decides for itself (a real model) sets a prompt of its own with
/// [`Target::with_tool_prompt`].
pub fn tool_lines(calls: &[(&str, &str)]) -> Content {
    let lines: Vec<String> = calls
        .iter()
        .map(|(tool, input)| format!("{tool}: {input}"))
        .collect();
    Content::text(lines.join("\n"))
}

/// A backend under test and the inputs its checks use.
///
/// Requirements on the backend beyond `semantics.md`:
/// - `agent_config` creates an agent;
/// - answering `long_prompt` takes well over 100 ms (checks cancel, drop or watch that turn
///   while it runs; if it ends too soon those checks fail);
/// - the message from `tool_prompt` makes it call those tools (the `tools.*` checks; a
///   runtime whose `host_tools_unavailable` gives a reason skips them);
/// - every check finishes within `check_timeout`.
#[derive(Clone)]
pub struct Target {
    name: String,
    factory: RuntimeFactory,
    agent_config: AgentConfig,
    invalid_config: Option<AgentConfig>,
    long_prompt: Content,
    failing_prompt: Option<Content>,
    tool_prompt: ToolPrompt,
    check_timeout: Duration,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("agent_config", &self.agent_config)
            .field("invalid_config", &self.invalid_config)
            .field("long_prompt", &self.long_prompt)
            .field("failing_prompt", &self.failing_prompt)
            .field("tool_prompt", &"fn")
            .field("check_timeout", &self.check_timeout)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A target whose runtimes come from `factory`, with the default inputs.
    pub fn from_factory(name: impl Into<String>, factory: RuntimeFactory) -> Self {
        Target {
            name: name.into(),
            factory,
            agent_config: AgentConfig::builder("conformance-model").build(),
            invalid_config: Some(AgentConfig::builder("").build()),
            long_prompt: Content::text(DEFAULT_LONG_PROMPT),
            failing_prompt: None,
            tool_prompt: tool_lines,
            check_timeout: Duration::from_secs(20),
        }
    }

    /// A target built by an async closure returning a concrete backend:
    ///
    /// ```
    /// # use agent_conformance::Target;
    /// # use agent_plugin_api::plugin::Plugin;
    /// # use agent_plugin_mock::{MockOptions, MockRuntime};
    /// let target = Target::new("mock", || async {
    ///     <MockRuntime as Plugin>::new(MockOptions::default())
    /// });
    /// assert_eq!(target.name(), "mock");
    /// ```
    pub fn new<F, Fut, R>(name: impl Into<String>, build: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + Send + 'static,
        R: Runtime + 'static,
    {
        Target::from_factory(
            name,
            Arc::new(move || {
                build()
                    .map(|built| built.map(|runtime| Arc::new(runtime) as Arc<dyn Runtime>))
                    .boxed()
            }),
        )
    }

    /// A target built by an async closure that already returns a shared runtime.
    pub fn new_shared<F, Fut>(name: impl Into<String>, build: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<dyn Runtime>, Error>> + Send + 'static,
    {
        Target::from_factory(name, Arc::new(move || build().boxed()))
    }

    /// Plugin `P`, each runtime built as a host builds it from `P`'s file (options checked
    /// by the export layer, every call through the FFI layer), without building the
    /// file: the target for a plugin's own tests. `options` is the backend's option
    /// table, as in `[backends.<name>]`.
    ///
    /// ```
    /// # use agent_conformance::Target;
    /// let target = Target::plugin::<agent_plugin_mock::MockRuntime>(
    ///     serde_json::json!({"chunk_delay_ms": 5}),
    /// );
    /// assert_eq!(target.name(), "mock");
    /// ```
    pub fn plugin<P: Plugin>(options: serde_json::Value) -> Self {
        let options = Arc::new(options);
        Target::from_factory(
            P::NAME,
            Arc::new(move || {
                let built = PluginRuntime::of_plugin::<P>(&options)
                    .map(|runtime| Arc::new(runtime) as Arc<dyn Runtime>);
                futures::future::ready(built).boxed()
            }),
        )
    }

    /// The backend in the plugin file at `path`, opened and checked as a host opens it,
    /// each runtime built with `options`.
    pub fn from_file(
        path: impl AsRef<std::path::Path>,
        options: serde_json::Value,
    ) -> Result<Self, LoadError> {
        Ok(Target::from_library(PluginLibrary::open(path)?, options))
    }

    /// The backend inside a loaded plugin file, each runtime built with `options` (the
    /// backend's option table). This is what `agent-host check <path>` runs.
    pub fn from_library(library: PluginLibrary, options: serde_json::Value) -> Self {
        let name = library.metadata().name.clone();
        let library = Arc::new(library);
        let options = Arc::new(options);
        Target::from_factory(
            name,
            Arc::new(move || {
                let built = library
                    .new_runtime(&options)
                    .map(|runtime| Arc::new(runtime) as Arc<dyn Runtime>);
                futures::future::ready(built).boxed()
            }),
        )
    }

    /// The config every check creates its agents with; it must be valid.
    pub fn with_agent_config(mut self, config: AgentConfig) -> Self {
        self.agent_config = config;
        self
    }

    /// A config `create_agent` must refuse with `Error::InvalidConfig`; `None` skips
    /// `agent.invalid_config`. Default: an empty model.
    pub fn with_invalid_config(mut self, config: Option<AgentConfig>) -> Self {
        self.invalid_config = config;
        self
    }

    /// A prompt the backend needs well over 100 ms to answer.
    pub fn with_long_prompt(mut self, prompt: impl Into<Content>) -> Self {
        self.long_prompt = prompt.into();
        self
    }

    /// A prompt whose turn the backend ends with an error, if there is such a prompt;
    /// without one `conversation.failed_turn_changes_nothing` is skipped.
    pub fn with_failing_prompt(mut self, prompt: Option<Content>) -> Self {
        self.failing_prompt = prompt;
        self
    }

    /// How long one check may take before it counts as failed. Default: 20 s.
    pub fn with_check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh runtime from the factory.
    pub fn build_runtime(&self) -> BoxFuture<'static, Result<Arc<dyn Runtime>, Error>> {
        (self.factory)()
    }

    pub fn agent_config(&self) -> &AgentConfig {
        &self.agent_config
    }

    pub fn invalid_config(&self) -> Option<&AgentConfig> {
        self.invalid_config.as_ref()
    }

    pub fn long_prompt(&self) -> &Content {
        &self.long_prompt
    }

    /// The message that makes the backend call these tools (name, input) in one turn.
    pub fn tool_prompt(&self, calls: &[(&str, &str)]) -> Content {
        (self.tool_prompt)(calls)
    }

    /// How to ask this backend for tool calls; the default is [`tool_lines`].
    pub fn with_tool_prompt(mut self, prompt: ToolPrompt) -> Self {
        self.tool_prompt = prompt;
        self
    }

    pub fn failing_prompt(&self) -> Option<&Content> {
        self.failing_prompt.as_ref()
    }

    pub fn check_timeout(&self) -> Duration {
        self.check_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_long_prompt_has_about_sixty_words() {
        let words = DEFAULT_LONG_PROMPT.split_whitespace().count();
        assert!((55..=75).contains(&words), "{words} words");
    }

    #[test]
    fn defaults_match_the_documentation() {
        let target = Target::new_shared("none", || async {
            Err(Error::BackendError("no backend".into()))
        });
        assert_eq!(target.agent_config().model, "conformance-model");
        assert_eq!(target.invalid_config().map(|c| c.model.as_str()), Some(""));
        assert_eq!(target.check_timeout(), Duration::from_secs(20));
        assert!(target.failing_prompt().is_none());
    }
}
