//! The chat-completions request: an agent's settings, its history and this turn's
//! message, as the API's JSON body.

use agent_plugin_api::types::{
    AgentConfig, Content, ConversationMessage, Media, Role, ToolDefinition, ToolError,
};
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// Keys of the body the plugin owns: an agent's `extras` may not replace them.
const OWN_KEYS: [&str; 6] = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "tools",
    "response_format",
];

/// What one agent sends with every request, from its `AgentConfig`.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub model: String,
    pub system: Option<String>,
    pub tools: Vec<ToolDefinition>,
    pub response_schema: Option<Value>,
    /// Passed into the body as they are (temperature, top_p, max_tokens, ...).
    pub extras: Map<String, Value>,
    pub api_key: Option<String>,
    pub max_quota_retries: u32,
}

impl AgentSettings {
    pub fn from_config(config: &AgentConfig) -> Result<Self, String> {
        if let Some(key) = config
            .extras
            .keys()
            .find(|key| OWN_KEYS.contains(&key.as_str()))
        {
            return Err(format!(
                "extras.{key}: set by the plugin from the agent's config, not by extras"
            ));
        }
        Ok(AgentSettings {
            model: config.model.clone(),
            system: config.system_instructions.clone(),
            tools: config.tools.clone(),
            response_schema: config.response_schema.clone(),
            extras: config.extras.clone(),
            api_key: config.api_key.clone(),
            max_quota_retries: config.max_quota_retries,
        })
    }
}

/// The messages a round adds after the user's: the model's tool calls and their results.
#[derive(Debug, Default)]
pub struct RoundMessages(Vec<Value>);

impl RoundMessages {
    /// The model asked for `calls` (its own ids, names, argument text).
    pub fn push_calls(&mut self, text: &str, calls: &[(String, String, String)]) {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, arguments)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        let content = if text.is_empty() {
            Value::Null
        } else {
            json!(text)
        };
        self.0
            .push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
    }

    pub fn push_result(&mut self, call_id: &str, output: &str) {
        self.0
            .push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
    }
}

/// The request body of one round.
pub fn body(
    settings: &AgentSettings,
    history: &[ConversationMessage],
    content: &Content,
    round: &RoundMessages,
) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &settings.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.extend(history.iter().map(message));
    messages.push(json!({"role": "user", "content": content_json(content)}));
    messages.extend(round.0.iter().cloned());
    let mut body = settings.extras.clone();
    body.insert("model".into(), json!(settings.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if !settings.tools.is_empty() {
        let tools: Vec<Value> = settings
            .tools
            .iter()
            .map(|tool| {
                let parameters = if tool.parameter_schema.is_object() {
                    tool.parameter_schema.clone()
                } else {
                    json!({"type": "object", "properties": {}})
                };
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": parameters,
                }})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(schema) = &settings.response_schema {
        body.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}),
        );
    }
    Value::Object(body)
}

/// One message of the history, as the API has it.
fn message(message: &ConversationMessage) -> Value {
    match &message.role {
        Role::Model if !message.tool_calls.is_empty() => {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    json!({"id": call.id, "type": "function",
                           "function": {"name": call.name, "arguments": call.args.to_string()}})
                })
                .collect();
            json!({"role": "assistant", "content": Value::Null, "tool_calls": calls})
        }
        Role::Model => json!({"role": "assistant", "content": message.content.to_text()}),
        Role::Tool => match &message.tool_result {
            Some(result) => json!({"role": "tool", "tool_call_id": result.id,
                                   "content": output_text(&result.output)}),
            None => json!({"role": "tool", "content": message.content.to_text()}),
        },
        Role::System => json!({"role": "system", "content": message.content.to_text()}),
        // The user, and any role a later api version adds.
        _ => json!({"role": "user", "content": content_json(&message.content)}),
    }
}

/// A tool's output as the text the model reads: a string as it is, other JSON as JSON.
pub fn output_text(output: &Result<Value, ToolError>) -> String {
    match output {
        Ok(Value::String(text)) => text.clone(),
        Ok(value) => value.to_string(),
        Err(error) => format!("error: {}", error.message),
    }
}

/// Text alone is a string; anything with media is a list of parts (images as data URLs,
/// documents as file parts, audio as input_audio).
fn content_json(content: &Content) -> Value {
    match content {
        Content::Text(text) => json!(text),
        other => Value::Array(parts(other)),
    }
}

fn parts(content: &Content) -> Vec<Value> {
    match content {
        Content::Text(text) => vec![json!({"type": "text", "text": text})],
        Content::Image(media) => vec![json!({"type": "image_url",
                                             "image_url": {"url": data_url(media)}})],
        Content::Document(media) => vec![json!({"type": "file", "file": {
            "filename": media.description.clone().unwrap_or_else(|| "document".to_owned()),
            "file_data": data_url(media),
        }})],
        Content::Audio(media) => vec![json!({"type": "input_audio", "input_audio": {
            "data": base64::engine::general_purpose::STANDARD.encode(&media.data),
            "format": media.mime_type.rsplit('/').next().unwrap_or("wav"),
        }})],
        // The API takes no video: say so to the model rather than drop it silently.
        Content::Video(media) => vec![json!({"type": "text", "text": format!(
            "[a video ({}) was attached; this API cannot read video]", media.mime_type)})],
        Content::Multi(items) => items.iter().flat_map(parts).collect(),
        // A kind of content a later api version adds: its text, if any.
        other => vec![json!({"type": "text", "text": other.to_text()})],
    }
}

fn data_url(media: &Media) -> String {
    format!(
        "data:{};base64,{}",
        media.mime_type,
        base64::engine::general_purpose::STANDARD.encode(&media.data)
    )
}

#[cfg(test)]
mod tests {
    use agent_plugin_api::types::ToolCall;

    use super::*;

    fn settings() -> AgentSettings {
        let config = AgentConfig::builder("gpt-test")
            .system_instructions("be brief")
            .extra("temperature", json!(0.2))
            .build();
        AgentSettings::from_config(&config).unwrap()
    }

    #[test]
    fn the_body_carries_system_history_message_and_extras() {
        let history = vec![
            ConversationMessage::new(Role::User, "hi"),
            ConversationMessage::tool_calls(vec![ToolCall::new("c1", "calc", json!({"x": 1}))]),
            ConversationMessage::new(Role::Model, "hello"),
        ];
        let body = body(
            &settings(),
            &history,
            &Content::text("again"),
            &RoundMessages::default(),
        );
        assert_eq!(body["model"], "gpt-test");
        assert_eq!(body["temperature"], 0.2);
        assert_eq!(body["stream"], true);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(messages[1], json!({"role": "user", "content": "hi"}));
        assert_eq!(
            messages[2]["tool_calls"][0]["function"]["arguments"],
            "{\"x\":1}"
        );
        assert_eq!(messages[4], json!({"role": "user", "content": "again"}));
    }

    #[test]
    fn extras_may_not_replace_what_the_config_sets() {
        let config = AgentConfig::builder("m")
            .extra("model", json!("other"))
            .build();
        let error = AgentSettings::from_config(&config).unwrap_err();
        assert!(error.contains("extras.model"), "{error}");
    }

    #[test]
    fn images_become_data_urls() {
        let content = Content::Multi(vec![
            Content::text("look"),
            Content::Image(Media::new(vec![1, 2, 3], "image/png")),
        ]);
        let parts = content_json(&content);
        assert_eq!(parts[1]["image_url"]["url"], "data:image/png;base64,AQID");
    }
}
