//! The `[backends.openai]` options.

use std::collections::BTreeMap;
use std::time::Duration;

use agent_plugin_api::plugin::JsonSchema;
use agent_plugin_api::types::Error;
use serde::{Deserialize, Serialize};

/// The options of the OpenAI backend: one server (OpenAI itself, or any server that
/// speaks its chat-completions API). The doc comments are the help `agent-host inspect
/// openai` shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiOptions {
    /// The API's base URL, up to and including `/v1` (vLLM, llama.cpp's server, Ollama
    /// and LiteLLM serve the same path on their own host and port).
    pub base_url: String,
    /// The API key (unset: the agent's own key, else $OPENAI_API_KEY, else
    /// $AGENT_API_KEY; a local server may need none).
    pub api_key: Option<String>,
    /// Sent as OpenAI-Organization.
    pub organization: Option<String>,
    /// Connecting to the server.
    #[schemars(range(min = 1, max = 600_000))]
    pub connect_timeout_ms: u64,
    /// From sending the request to the first byte of the answer.
    #[schemars(range(min = 1, max = 3_600_000))]
    pub first_byte_timeout_ms: u64,
    /// Between two streamed chunks.
    #[schemars(range(min = 1, max = 3_600_000))]
    pub chunk_timeout_ms: u64,
    /// Extra HTTP headers for every request.
    pub headers: BTreeMap<String, String>,
    /// Tries for a 5xx answer or a dropped connection, the first included.
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: u32,
    /// Model rounds in one turn (each round may call tools and send their results).
    #[schemars(range(min = 1, max = 64))]
    pub max_tool_rounds: u32,
}

impl Default for OpenAiOptions {
    fn default() -> Self {
        OpenAiOptions {
            base_url: "https://api.openai.com/v1".to_owned(),
            api_key: None,
            organization: None,
            connect_timeout_ms: 10_000,
            first_byte_timeout_ms: 60_000,
            chunk_timeout_ms: 60_000,
            headers: BTreeMap::new(),
            max_attempts: 3,
            max_tool_rounds: 8,
        }
    }
}

impl OpenAiOptions {
    /// Checks what the schema cannot; each error names its option.
    pub fn validate(&self) -> Result<(), Error> {
        let url = self.base_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::InvalidConfig(format!(
                "option `base_url`: expected an http:// or https:// URL, got {:?}",
                self.base_url
            )));
        }
        for name in self.headers.keys() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(Error::InvalidConfig(format!(
                    "option `headers`: {name:?} is not an HTTP header name"
                )));
            }
        }
        Ok(())
    }

    /// `base_url` + `/chat/completions`.
    pub fn completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn first_byte_timeout(&self) -> Duration {
        Duration::from_millis(self.first_byte_timeout_ms)
    }

    pub fn chunk_timeout(&self) -> Duration {
        Duration::from_millis(self.chunk_timeout_ms)
    }
}
