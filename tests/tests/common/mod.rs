//! What the mock targets of these tests share.

use std::path::PathBuf;

use agent_plugin_api::host::PluginLibrary;
use agent_plugin_api::types::Content;
use agent_plugin_mock::MockOptions;

/// Where `cargo xtask stage` lays out the binary and plugins: `$AGENT_HOST_DIST`, else
/// `<workspace>/target/dist`.
#[allow(dead_code)] // Only the test binaries that use the staged layout call it.
pub fn staged_dir() -> PathBuf {
    match std::env::var_os("AGENT_HOST_DIST") {
        Some(dist) => PathBuf::from(dist),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dist"),
    }
}

/// Loads a staged plugin file, `$AGENT_HOST_DIST/plugins/<file>` (else
/// `<workspace>/target/dist/plugins/<file>`), where `cargo xtask stage` puts it. A
/// missing file fails the test: these tests never pass without the plugin.
#[allow(dead_code)] // Only the test binaries that load plugin files use it.
pub fn staged_plugin(file: &str) -> PluginLibrary {
    let path = staged_dir().join("plugins").join(file);
    assert!(
        path.is_file(),
        "the staged plugin {} is missing: run `cargo xtask stage` first (or set \
         AGENT_HOST_DIST to a directory holding plugins/{file})",
        path.display()
    );
    PluginLibrary::open(&path)
        .unwrap_or_else(|error| panic!("cannot load {}: {error}", path.display()))
}

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
