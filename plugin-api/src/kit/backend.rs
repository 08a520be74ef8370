use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::quota::BackoffPolicy;
use crate::types::{AgentConfig, Content, Error};

use super::Turn;

/// What a backend built on the kit provides: agents, and one turn at a time.
#[async_trait]
pub trait AgentBackend: Send + Sync + Sized + 'static {
    /// The name hosts select it by (`backend = "..."`): short, lowercase.
    const NAME: &'static str;
    /// The plugin's own version; use `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    const DESCRIPTION: &'static str = "";
    /// See [`Plugin::OPTIONS_HELP`](crate::plugin::Plugin::OPTIONS_HELP).
    const OPTIONS_HELP: &'static str = "";
    /// See [`Plugin::PATH_OPTIONS`](crate::Plugin::PATH_OPTIONS).
    const PATH_OPTIONS: &'static [&'static str] = &[];

    /// The `[backends.<name>]` table (see [`Plugin::Options`](crate::plugin::Plugin::Options));
    /// use [`NoOptions`] for none.
    type Options: DeserializeOwned + JsonSchema;
    /// One agent's own state, built from its config.
    type Agent: Send + Sync + 'static;

    /// Builds the backend. Runs inside the plugin's tokio runtime, so it may spawn.
    fn new(options: Self::Options) -> Result<Self, Error>;

    /// Builds one agent. The kit has already refused an empty `model`, unnamed tools and a
    /// `response_schema` that is not a JSON object; refuse anything else with
    /// `Error::InvalidConfig`.
    fn create_agent(&self, config: &AgentConfig) -> Result<Self::Agent, Error>;

    /// Plays one turn: write events into `turn`. Turns of one agent never overlap. When
    /// the turn is cancelled this future is dropped, so it needs no cancel checks of
    /// its own. An error ends the turn with that error and changes no state.
    ///
    /// Where it runs: a turn on an idle agent is first polled on the thread that called
    /// `chat` (inside the plugin's tokio runtime, so `tokio::spawn`, timers and IO work),
    /// and after its first `Pending` on the plugin's own threads. So do not compute for
    /// long or block before the first await: send the request, or move heavy work to
    /// `tokio::task::spawn_blocking`, and the caller's thread is back at once.
    async fn chat(
        &self,
        agent: &Self::Agent,
        content: &Content,
        turn: &mut Turn,
    ) -> Result<(), Error>;

    /// The key this backend's quota backoff is kept under.
    fn quota_key(&self) -> &str {
        Self::NAME
    }

    fn backoff_policy(&self) -> BackoffPolicy {
        BackoffPolicy::default()
    }
}

/// Options for a backend that takes none: any key given is refused by name.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}
