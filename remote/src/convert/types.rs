//! Configs, content, messages, events, results and usage, both ways.

use agent_plugin_api::types::{
    AgentConfig, Content, ConversationMessage, Error, Media, Role, ToolDefinition, ToolError,
    UsageMetadata,
};
use agent_plugin_api::types::{ChatEvent, ChatResult, Step, ToolCall, ToolResult};
use serde_json::Value;

use super::broken;
use crate::proto::{self, content::Kind, event::Kind as EventKind};

fn json_text(value: &Value) -> String {
    value.to_string()
}

fn json_value(text: &str, field: &str) -> Result<Value, Error> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|error| broken(format!("{field} is not JSON: {error}")))
}

pub(crate) fn config_to_proto(config: &AgentConfig) -> proto::AgentConfig {
    proto::AgentConfig {
        model: config.model.clone(),
        api_key: config.api_key.clone(),
        system_instructions: config.system_instructions.clone(),
        tools: config
            .tools
            .iter()
            .map(|tool| proto::ToolDefinition {
                name: tool.name.clone(),
                description: tool.description.clone(),
                parameter_schema_json: json_text(&tool.parameter_schema),
            })
            .collect(),
        response_schema_json: config.response_schema.as_ref().map(json_text),
        conversation_id: config.conversation_id.clone(),
        save_dir: config
            .save_dir
            .as_ref()
            .map(|dir| dir.to_string_lossy().into_owned()),
        max_quota_retries: config.max_quota_retries,
        extras_json: if config.extras.is_empty() {
            String::new()
        } else {
            Value::Object(config.extras.clone()).to_string()
        },
    }
}

pub(crate) fn config_from_proto(config: proto::AgentConfig) -> Result<AgentConfig, Error> {
    let invalid = |field: &str, error: Error| {
        Error::InvalidConfig(format!("agent config field `{field}`: {error}"))
    };
    let mut tools = Vec::with_capacity(config.tools.len());
    for tool in config.tools {
        let schema = json_value(&tool.parameter_schema_json, "parameter_schema")
            .map_err(|error| invalid("tools", error))?;
        tools.push(ToolDefinition::new(tool.name, tool.description, schema));
    }
    let response_schema = config
        .response_schema_json
        .map(|text| json_value(&text, "response_schema"))
        .transpose()
        .map_err(|error| invalid("response_schema", error))?;
    let extras = match json_value(&config.extras_json, "extras")
        .map_err(|error| invalid("extras", error))?
    {
        Value::Null => serde_json::Map::new(),
        Value::Object(extras) => extras,
        other => {
            return Err(Error::InvalidConfig(format!(
                "agent config field `extras` must be a JSON object, not {other}"
            )))
        }
    };
    let mut out = AgentConfig::builder(config.model).build();
    out.api_key = config.api_key;
    out.system_instructions = config.system_instructions;
    out.tools = tools;
    out.response_schema = response_schema;
    out.conversation_id = config.conversation_id;
    out.save_dir = config.save_dir.map(Into::into);
    out.max_quota_retries = config.max_quota_retries;
    out.extras = extras;
    Ok(out)
}

fn media_to_proto(media: &Media) -> proto::Media {
    proto::Media {
        data: media.data.clone(),
        mime_type: media.mime_type.clone(),
        description: media.description.clone(),
    }
}

fn media_from_proto(media: proto::Media) -> Media {
    let mut out = Media::new(media.data, media.mime_type);
    out.description = media.description;
    out
}

pub(crate) fn content_to_proto(content: &Content) -> proto::Content {
    let kind = match content {
        Content::Text(text) => Kind::Text(text.clone()),
        Content::Image(media) => Kind::Image(media_to_proto(media)),
        Content::Document(media) => Kind::Document(media_to_proto(media)),
        Content::Audio(media) => Kind::Audio(media_to_proto(media)),
        Content::Video(media) => Kind::Video(media_to_proto(media)),
        Content::Multi(parts) => Kind::Multi(proto::ContentList {
            parts: parts.iter().map(content_to_proto).collect(),
        }),
        // A kind added after this protocol version: its text, so nothing is lost silently.
        other => Kind::Text(format!("{other:?}")),
    };
    proto::Content { kind: Some(kind) }
}

pub(crate) fn content_from_proto(content: proto::Content) -> Result<Content, Error> {
    Ok(match content.kind {
        Some(Kind::Text(text)) => Content::Text(text),
        Some(Kind::Image(media)) => Content::Image(media_from_proto(media)),
        Some(Kind::Document(media)) => Content::Document(media_from_proto(media)),
        Some(Kind::Audio(media)) => Content::Audio(media_from_proto(media)),
        Some(Kind::Video(media)) => Content::Video(media_from_proto(media)),
        Some(Kind::Multi(list)) => Content::Multi(
            list.parts
                .into_iter()
                .map(content_from_proto)
                .collect::<Result<_, _>>()?,
        ),
        None => return Err(broken("content of no known kind")),
    })
}

fn tool_call_to_proto(call: &ToolCall) -> proto::ToolCall {
    proto::ToolCall {
        id: call.id.clone(),
        name: call.name.clone(),
        args_json: json_text(&call.args),
    }
}

fn tool_call_from_proto(call: proto::ToolCall) -> Result<ToolCall, Error> {
    let args = json_value(&call.args_json, "tool call arguments")?;
    Ok(ToolCall::new(call.id, call.name, args))
}

fn tool_result_to_proto(result: &ToolResult) -> proto::ToolResult {
    use proto::tool_result::Output;
    proto::ToolResult {
        id: result.id.clone(),
        name: result.name.clone(),
        output: Some(match &result.output {
            Ok(value) => Output::OutputJson(json_text(value)),
            Err(error) => Output::Error(error.message.clone()),
        }),
    }
}

fn tool_result_from_proto(result: proto::ToolResult) -> Result<ToolResult, Error> {
    use proto::tool_result::Output;
    let output = match result.output {
        Some(Output::OutputJson(text)) => Ok(json_value(&text, "tool result")?),
        Some(Output::Error(message)) => Err(ToolError::new(message)),
        None => return Err(broken("a tool result with no output")),
    };
    Ok(ToolResult::new(result.id, result.name, output))
}

pub(crate) fn message_to_proto(message: &ConversationMessage) -> proto::ConversationMessage {
    proto::ConversationMessage {
        role: message.role.name().to_owned(),
        content: Some(content_to_proto(&message.content)),
        tool_calls: message.tool_calls.iter().map(tool_call_to_proto).collect(),
        tool_result: message.tool_result.as_ref().map(tool_result_to_proto),
    }
}

pub(crate) fn message_from_proto(
    message: proto::ConversationMessage,
) -> Result<ConversationMessage, Error> {
    let role = match message.role.as_str() {
        "user" => Role::User,
        "model" => Role::Model,
        "system" => Role::System,
        "tool" => Role::Tool,
        _ => Role::Unknown(message.role),
    };
    let content = message
        .content
        .map(content_from_proto)
        .transpose()?
        .unwrap_or_else(|| Content::Text(String::new()));
    let mut out = ConversationMessage::new(role, content);
    out.tool_calls = message
        .tool_calls
        .into_iter()
        .map(tool_call_from_proto)
        .collect::<Result<_, _>>()?;
    out.tool_result = message
        .tool_result
        .map(tool_result_from_proto)
        .transpose()?;
    Ok(out)
}

pub(crate) fn usage_to_proto(usage: &UsageMetadata) -> proto::Usage {
    proto::Usage {
        prompt_token_count: usage.prompt_token_count,
        cached_content_token_count: usage.cached_content_token_count,
        candidates_token_count: usage.candidates_token_count,
        thoughts_token_count: usage.thoughts_token_count,
        total_token_count: usage.total_token_count,
    }
}

pub(crate) fn usage_from_proto(usage: Option<proto::Usage>) -> UsageMetadata {
    let usage = usage.unwrap_or_default();
    UsageMetadata {
        prompt_token_count: usage.prompt_token_count,
        cached_content_token_count: usage.cached_content_token_count,
        candidates_token_count: usage.candidates_token_count,
        thoughts_token_count: usage.thoughts_token_count,
        total_token_count: usage.total_token_count,
    }
}

/// `None` for an event kind added after this protocol version (it is not sent).
pub(crate) fn event_to_proto(event: ChatEvent) -> Option<proto::Event> {
    let kind = match event {
        ChatEvent::Text(text) => EventKind::Text(text),
        ChatEvent::Thought(text) => EventKind::Thought(text),
        ChatEvent::ToolCall(call) => EventKind::ToolCall(tool_call_to_proto(&call)),
        ChatEvent::ToolResult(result) => EventKind::ToolResult(tool_result_to_proto(&result)),
        ChatEvent::Step(step) => EventKind::Step(proto::Step {
            index: step.index,
            description: step.description,
        }),
        ChatEvent::Usage(usage) => EventKind::Usage(usage_to_proto(&usage)),
        _ => return None,
    };
    Some(proto::Event { kind: Some(kind) })
}

/// `Ok(None)` for an event of a kind this side does not know (from a newer server).
pub(crate) fn event_from_proto(event: proto::Event) -> Result<Option<ChatEvent>, Error> {
    Ok(match event.kind {
        Some(EventKind::Text(text)) => Some(ChatEvent::Text(text)),
        Some(EventKind::Thought(text)) => Some(ChatEvent::Thought(text)),
        Some(EventKind::ToolCall(call)) => Some(ChatEvent::ToolCall(tool_call_from_proto(call)?)),
        Some(EventKind::ToolResult(result)) => {
            Some(ChatEvent::ToolResult(tool_result_from_proto(result)?))
        }
        Some(EventKind::Step(step)) => {
            Some(ChatEvent::Step(Step::new(step.index, step.description)))
        }
        Some(EventKind::Usage(usage)) => Some(ChatEvent::Usage(usage_from_proto(Some(usage)))),
        // Many events, not one: read with `text_run_to_batch`.
        Some(EventKind::TextRun(_)) => return Err(broken("a text run where one event belongs")),
        None => None,
    })
}

pub(crate) fn result_to_proto(result: &ChatResult) -> proto::ChatResult {
    proto::ChatResult {
        text: result.text.clone(),
        usage: Some(usage_to_proto(&result.usage)),
        structured_output_json: result.structured_output.as_ref().map(json_text),
    }
}

pub(crate) fn result_from_proto(result: proto::ChatResult) -> Result<ChatResult, Error> {
    Ok(ChatResult {
        text: result.text,
        usage: usage_from_proto(result.usage),
        structured_output: result
            .structured_output_json
            .map(|text| json_value(&text, "structured output"))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_full_config_crosses_unchanged() {
        let mut config = AgentConfig::builder("gpt-test").build();
        config.api_key = Some("sk-1".into());
        config.system_instructions = Some("be brief".into());
        config.tools = vec![ToolDefinition::new(
            "add",
            "adds",
            json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
        )];
        config.response_schema = Some(json!({"type": "object"}));
        config.conversation_id = Some("talk-1".into());
        config.save_dir = Some("/var/lib/agents".into());
        config.max_quota_retries = 3;
        config.extras = json!({"temperature": 0.2}).as_object().unwrap().clone();
        assert_eq!(config_from_proto(config_to_proto(&config)).unwrap(), config);
        let empty = AgentConfig::default();
        assert_eq!(config_from_proto(config_to_proto(&empty)).unwrap(), empty);
    }

    #[test]
    fn bad_json_in_a_config_names_the_field() {
        let mut config = config_to_proto(&AgentConfig::default());
        config.extras_json = "[1, 2".into();
        let error = config_from_proto(config).unwrap_err().to_string();
        assert!(error.contains("`extras`"), "{error}");
    }

    #[test]
    fn content_messages_and_events_cross_unchanged() {
        let mut image = Media::new(vec![0, 159, 255], "image/png");
        image.description = Some("a dot".into());
        let content = Content::Multi(vec![
            Content::Text("look".into()),
            Content::Image(image),
            Content::Document(Media::new(b"%PDF".to_vec(), "application/pdf")),
        ]);
        assert_eq!(
            content_from_proto(content_to_proto(&content)).unwrap(),
            content
        );

        let call = ToolCall::new("c1", "add", json!({"a": 1}));
        let failed = ToolResult::new("c1", "add", Err(ToolError::new("no")));
        let mut message = ConversationMessage::tool_calls(vec![call.clone()]);
        message.role = Role::Unknown("critic".into());
        for message in [message, ConversationMessage::tool_result(failed.clone())] {
            assert_eq!(
                message_from_proto(message_to_proto(&message)).unwrap(),
                message
            );
        }

        let usage = UsageMetadata {
            prompt_token_count: Some(3),
            total_token_count: Some(9),
            ..UsageMetadata::default()
        };
        let events = [
            ChatEvent::Text("hi".into()),
            ChatEvent::Thought("hmm".into()),
            ChatEvent::ToolCall(call),
            ChatEvent::ToolResult(failed),
            ChatEvent::Step(Step::new(2, "answering")),
            ChatEvent::Usage(usage),
        ];
        for event in events {
            let crossed = event_from_proto(event_to_proto(event.clone()).unwrap()).unwrap();
            assert_eq!(crossed, Some(event));
        }
        let result = ChatResult {
            text: "done".into(),
            usage,
            structured_output: Some(json!({"answer": 4})),
        };
        assert_eq!(result_from_proto(result_to_proto(&result)).unwrap(), result);
    }
}
