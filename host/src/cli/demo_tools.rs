//! `chat --tools demo`: two tools to watch a tool call happen, declared to the agent and
//! served by this process. `clock` tells the time; `calculator` works out an arithmetic
//! expression.

use agent_plugin_api::types::{ToolDefinition, ToolError, Tools};
use serde_json::{json, Value};

/// The names `--tools` accepts.
pub const SETS: &[&str] = &["demo"];

/// The declarations and the handlers of a named set of tools.
pub fn set(name: &str) -> Result<(Vec<ToolDefinition>, Tools), String> {
    match name {
        "demo" => Ok(demo()),
        other => Err(format!(
            "--tools {other:?}: no such set of tools (known: {})",
            SETS.join(", ")
        )),
    }
}

fn demo() -> (Vec<ToolDefinition>, Tools) {
    let declarations = vec![
        ToolDefinition::new(
            "clock",
            "The current date and time, in UTC.",
            json!({"type": "object", "properties": {}}),
        ),
        ToolDefinition::new(
            "calculator",
            "Works out an arithmetic expression such as 6*7 or (2+3)/4.",
            json!({
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            }),
        ),
    ];
    let tools = Tools::new()
        .with("clock", |_| async {
            Ok(json!(humantime::format_rfc3339_seconds(
                std::time::SystemTime::now()
            )
            .to_string()))
        })
        .with("calculator", |args| async move { calculate(&args) });
    (declarations, tools)
}

/// The longest expression the calculator takes.
const MAX_EXPRESSION_BYTES: usize = 256;

/// Arithmetic only: numbers, `+ - * / %`, `^` and parentheses.
fn calculate(args: &Value) -> Result<Value, ToolError> {
    let expression = args
        .get("expression")
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::new("calculator: give {\"expression\": \"6*7\"}"))?;
    // The parser recurses per operator: a long expression would overflow the stack of
    // the thread the handler runs on, which takes the process down.
    if expression.len() > MAX_EXPRESSION_BYTES {
        return Err(ToolError::new(format!(
            "calculator: the expression is {} bytes long, more than {MAX_EXPRESSION_BYTES}",
            expression.len()
        )));
    }
    if !expression
        .chars()
        .all(|c| c.is_ascii_digit() || " .+-*/%^()eE".contains(c))
    {
        return Err(ToolError::new(format!(
            "calculator: {expression:?} is not arithmetic"
        )));
    }
    match evalexpr::eval(expression) {
        Ok(evalexpr::Value::Int(number)) => Ok(json!(number)),
        Ok(evalexpr::Value::Float(number)) if number.is_finite() => Ok(json!(number)),
        Ok(other) => Err(ToolError::new(format!(
            "calculator: {expression} gives {other}"
        ))),
        Err(error) => Err(ToolError::new(format!("calculator: {expression}: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_calculator_does_arithmetic_and_nothing_else() {
        let (declarations, tools) = demo();
        assert_eq!(declarations.len(), 2);
        let calc = |text: &str| tools.call("calculator", json!({ "expression": text }));
        assert_eq!(calc("6*7").await, Ok(json!(42)));
        assert_eq!(calc("(2+3)/2.0").await, Ok(json!(2.5)));
        assert!(calc("1/0").await.is_err());
        assert!(calc("x = 3").await.is_err());
        assert!(calc("").await.is_err());
        let long = format!("{}1", "1+".repeat(100_000));
        let error = calc(&long).await.unwrap_err();
        assert!(error.message.contains("more than 256"), "{error}");
        let deep = format!("{}1{}", "(".repeat(120), ")".repeat(120));
        assert_eq!(calc(&deep).await, Ok(json!(1)));
        let now = tools.call("clock", json!({})).await.unwrap();
        assert!(now.as_str().unwrap().ends_with('Z'), "{now}");
    }
}
