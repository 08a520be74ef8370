//! The `shout` backend: answers every message in capitals, one word at a time.
//!
//! Build it with `cargo build --release -p shout-plugin`, copy
//! `target/release/libshout_plugin.so` into a plugin directory, and
//! `agent-host chat --backend shout "hello"` answers `HELLO`: no host rebuild.

use agent_plugin_api::plugin::{async_trait, AgentBackend, AgentRuntime, NoOptions, Turn};
use agent_plugin_api::types::{AgentConfig, Content, Error};

pub struct Shout;

#[async_trait]
impl AgentBackend for Shout {
    const NAME: &'static str = "shout";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Options = NoOptions;
    type Agent = ();

    fn new(_: NoOptions) -> Result<Self, Error> {
        Ok(Shout)
    }

    fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
        Ok(())
    }

    async fn chat(&self, _: &(), content: &Content, turn: &mut Turn) -> Result<(), Error> {
        for (index, word) in content.to_text().split_whitespace().enumerate() {
            let space = if index == 0 { "" } else { " " };
            turn.text(format!("{space}{}", word.to_uppercase()))?;
        }
        Ok(())
    }
}

agent_plugin_api::export_plugin!(AgentRuntime<Shout>);
