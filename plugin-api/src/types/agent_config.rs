use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Environment variable read when an [`AgentConfig`] names no API key.
pub const API_KEY_ENV: &str = "AGENT_API_KEY";

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the tool's arguments.
    #[serde(default)]
    pub parameter_schema: Value,
}

impl ToolDefinition {
    pub fn new(name: impl Into<String>, description: impl Into<String>, schema: Value) -> Self {
        ToolDefinition {
            name: name.into(),
            description: description.into(),
            parameter_schema: schema,
        }
    }
}

/// Everything a backend needs to start one agent.
///
/// It crosses the plugin boundary as JSON: it is large, used once per agent and
/// grows over time, so a schema-free encoding keeps old plugins loadable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    pub model: String,
    /// The API key; when `None`, [`AgentConfig::resolved_api_key`] falls back to `$AGENT_API_KEY`.
    pub api_key: Option<String>,
    pub system_instructions: Option<String>,
    pub tools: Vec<ToolDefinition>,
    /// JSON Schema the final answer must follow; backends then fill `ChatResult::structured_output`.
    pub response_schema: Option<Value>,
    pub conversation_id: Option<String>,
    pub save_dir: Option<PathBuf>,
    pub max_quota_retries: u32,
    /// Backend-specific settings, passed through untouched.
    pub extras: Map<String, Value>,
}

impl AgentConfig {
    pub fn builder(model: impl Into<String>) -> AgentConfigBuilder {
        AgentConfigBuilder {
            config: AgentConfig {
                model: model.into(),
                ..AgentConfig::default()
            },
        }
    }

    /// The configured key, else the `AGENT_API_KEY` environment variable.
    pub fn resolved_api_key(&self) -> Option<String> {
        self.api_key
            .clone()
            .or_else(|| std::env::var(API_KEY_ENV).ok())
            .filter(|key| !key.is_empty())
    }
}

/// Builds an [`AgentConfig`] step by step.
#[derive(Debug, Clone)]
#[must_use]
pub struct AgentConfigBuilder {
    config: AgentConfig,
}

impl AgentConfigBuilder {
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    pub fn system_instructions(mut self, text: impl Into<String>) -> Self {
        self.config.system_instructions = Some(text.into());
        self
    }

    pub fn tool(mut self, tool: ToolDefinition) -> Self {
        self.config.tools.push(tool);
        self
    }

    pub fn response_schema(mut self, schema: Value) -> Self {
        self.config.response_schema = Some(schema);
        self
    }

    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.config.conversation_id = Some(id.into());
        self
    }

    pub fn save_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.save_dir = Some(dir.into());
        self
    }

    pub fn max_quota_retries(mut self, retries: u32) -> Self {
        self.config.max_quota_retries = retries;
        self
    }

    pub fn extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.config.extras.insert(key.into(), value);
        self
    }

    pub fn build(self) -> AgentConfig {
        self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_json_round_trip() {
        let config = AgentConfig::builder("gemini-x")
            .api_key("k")
            .system_instructions("be brief")
            .tool(ToolDefinition {
                name: "search".into(),
                description: "web search".into(),
                parameter_schema: serde_json::json!({"type": "object"}),
            })
            .extra("temperature", 0.2.into())
            .build();
        let json = serde_json::to_string(&config).unwrap();
        let back: AgentConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.resolved_api_key().as_deref(), Some("k"));
    }

    #[test]
    fn missing_fields_default() {
        let config: AgentConfig = serde_json::from_str(r#"{"model":"m"}"#).unwrap();
        assert_eq!(config.model, "m");
        assert!(config.tools.is_empty());
    }
}
