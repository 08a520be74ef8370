//! What the mock targets of these tests share.

use agent_plugin_api::Content;
use agent_plugin_mock::MockOptions;

/// The mock's defaults, plus a compaction point every two turns so that the compaction
/// checks have something to look at.
#[allow(dead_code)] // Not every test binary builds the mock in-process.
pub fn mock_options() -> MockOptions {
    MockOptions {
        compact_every: 2,
        ..MockOptions::default()
    }
}

/// The same options as the mock plugin's JSON option table.
#[allow(dead_code)] // Only the test binary that loads the plugin file uses it.
pub fn mock_options_json() -> serde_json::Value {
    serde_json::json!({ "compact_every": 2 })
}

/// A message the mock answers with an error: it contains the default `fail_on` word.
pub fn failing_prompt() -> Option<Content> {
    Some(Content::text("conformance: please FAIL this turn"))
}
