//! `chat --save-dir`: which conversation a session goes on with, and `--history`.

use std::path::Path;

use agent_plugin_api::types::{AgentId, ConversationMessage, Role};
use agent_plugin_api::Runtime;

use super::stdout::{Output, StdoutError};

/// Says on stderr which conversation the agent has and how to go on with it: a user who
/// did not name one needs the id the backend made up.
pub async fn announce(runtime: &dyn Runtime, agent: AgentId, backend: &str, dir: &Path) {
    let id = match runtime.conversation_id(agent).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            eprintln!(
                "agent-host: warning: backend {backend:?} saves no conversations; --save-dir \
                 has no effect"
            );
            return;
        }
        Err(error) => {
            eprintln!("agent-host: warning: backend {backend:?}: conversation_id: {error}");
            return;
        }
    };
    let turns = runtime.turn_count(agent).await.unwrap_or(0);
    let dir = dir.display();
    if turns == 0 {
        eprintln!(
            "agent-host: conversation {id} (new); go on with it with --save-dir {dir} \
             --conversation {id}"
        );
    } else {
        let plural = if turns == 1 { "" } else { "s" };
        eprintln!("agent-host: conversation {id}: {turns} turn{plural} so far, in {dir}");
    }
}

/// `--history`: the conversation so far on stdout, the user's messages after `> `.
pub async fn print_history(runtime: &dyn Runtime, agent: AgentId) -> anyhow::Result<()> {
    let history = runtime.history(agent).await?;
    let mut out = String::new();
    for message in &history {
        describe(message, &mut out);
    }
    match Output::new().text(&out) {
        Ok(()) | Err(StdoutError::Closed) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn describe(message: &ConversationMessage, out: &mut String) {
    use std::fmt::Write as _;

    let text = message.content.to_text();
    match &message.role {
        Role::User => {
            for line in text.lines() {
                let _ = writeln!(out, "> {line}");
            }
        }
        Role::Tool => {
            if let Some(result) = &message.tool_result {
                match &result.output {
                    Ok(value) => {
                        let _ = writeln!(out, "[tool result] {} {value}", result.name);
                    }
                    Err(error) => {
                        let _ = writeln!(out, "[tool error] {} {error}", result.name);
                    }
                }
            }
        }
        _ => {
            for call in &message.tool_calls {
                let _ = writeln!(out, "[tool call] {} {}", call.name, call.args);
            }
            if !text.is_empty() {
                let _ = writeln!(out, "{text}");
            }
        }
    }
}
