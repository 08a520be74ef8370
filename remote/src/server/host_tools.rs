//! The application's tools as the backend sees them: each call goes back to the client
//! over the session and waits for its answer.

use std::sync::Arc;

use agent_plugin_api::types::{ToolError, Tools};
use serde_json::Value;

use super::session::Session;
use crate::proto::tool_reply::Output;

/// Tools named `names` whose handlers call back to the client; `tools_id` is the id of the
/// `CreateAgent` call that offered them.
pub(super) fn calling_back(session: &Arc<Session>, tools_id: u64, names: Vec<String>) -> Tools {
    names.into_iter().fold(Tools::new(), |tools, name| {
        // Weak: the tools live inside the backend's agent, which the session owns.
        let session = Arc::downgrade(session);
        let tool = name.clone();
        tools.with(name, move |args: Value| {
            let session = session.upgrade();
            let tool = tool.clone();
            async move {
                match session {
                    Some(session) => session.call_tool(tools_id, &tool, args).await,
                    None => Err(application_gone()),
                }
            }
        })
    })
}

pub(super) fn application_gone() -> ToolError {
    ToolError::new("the application's session ended before the tool answered")
}

pub(super) fn reply_output(output: Option<Output>) -> Result<Value, ToolError> {
    match output {
        Some(Output::OutputJson(text)) => serde_json::from_str(&text)
            .map_err(|error| ToolError::new(format!("the tool's answer is not JSON: {error}"))),
        Some(Output::Error(message)) => Err(ToolError::new(message)),
        None => Err(ToolError::new("the application's answer had no output")),
    }
}
