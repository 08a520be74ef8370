//! The mock's scripted use of the application's tools: each line of a message of the
//! form `<tool>: <input>`, for a tool the agent declares, calls that tool through the
//! host (all of them at once), and the answer is one line per call, `<tool>: <result>`.
//! So `calculator: 6*7` answers `calculator: 42` when the host offers a calculator, and
//! `calculator: error: no tool named ...` when it declares one but offers none.

use std::collections::BTreeMap;

use agent_plugin_api::plugin::Turn;
use agent_plugin_api::types::{AgentConfig, ToolError};
use serde_json::{json, Value};

/// One scripted call: which tool, and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub tool: String,
    pub args: Value,
}

/// For each declared tool, the argument the mock fills with the line's input: the
/// schema's only property if it has exactly one, else `input`.
pub fn argument_names(config: &AgentConfig) -> BTreeMap<String, String> {
    config
        .tools
        .iter()
        .map(|tool| {
            let properties = tool
                .parameter_schema
                .get("properties")
                .and_then(Value::as_object);
            let name = match properties {
                Some(properties) if properties.len() == 1 => {
                    properties.keys().next().cloned().unwrap_or_default()
                }
                _ => "input".to_owned(),
            };
            (tool.name.clone(), name)
        })
        .collect()
}

/// The calls `user_text` asks for, in order, among the declared tools (`arguments`).
pub fn requests(user_text: &str, arguments: &BTreeMap<String, String>) -> Vec<Request> {
    user_text
        .lines()
        .filter_map(|line| {
            let (tool, input) = line.split_once(':')?;
            let tool = tool.trim();
            let argument = arguments.get(tool)?;
            Some(Request {
                tool: tool.to_owned(),
                args: json!({ argument: input.trim() }),
            })
        })
        .collect()
}

/// Runs every request at once; the answer has a line per call, in request order.
pub async fn answer(turn: &Turn, requests: &[Request]) -> String {
    let calls = requests
        .iter()
        .map(|request| turn.call_tool(&request.tool, request.args.clone()));
    let outputs = futures::future::join_all(calls).await;
    requests
        .iter()
        .zip(outputs)
        .map(|(request, output)| format!("{}: {}", request.tool, shown(output)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn shown(output: Result<Value, ToolError>) -> String {
    match output {
        Ok(Value::String(text)) => text,
        Ok(value) => value.to_string(),
        Err(error) => format!("error: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use agent_plugin_api::types::ToolDefinition;

    use super::*;

    #[test]
    fn the_argument_is_the_schemas_only_property_or_input() {
        let config = AgentConfig::builder("m")
            .tool(ToolDefinition::new(
                "calculator",
                "",
                json!({"type": "object", "properties": {"expression": {"type": "string"}}}),
            ))
            .tool(ToolDefinition::new("clock", "", json!({})))
            .build();
        let names = argument_names(&config);
        assert_eq!(names["calculator"], "expression");
        assert_eq!(names["clock"], "input");
    }

    #[test]
    fn results_show_as_text() {
        assert_eq!(shown(Ok(json!(42))), "42");
        assert_eq!(shown(Ok(json!("noon"))), "noon");
        assert_eq!(shown(Err(ToolError::new("down"))), "error: down");
    }
}
