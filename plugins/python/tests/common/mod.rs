//! What the Python plugin's tests and benches share: the staged plugin file.

use std::path::{Path, PathBuf};

use agent_plugin_api::PluginLibrary;

/// The workspace root.
#[allow(dead_code)] // Not every test binary needs it.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Opens `$AGENT_HOST_DIST/plugins/libagent_plugin_python.so` (else the workspace's
/// `target/dist`), where `cargo xtask stage` puts it; a missing file fails loudly.
pub fn staged_plugin() -> PluginLibrary {
    let dist = std::env::var_os("AGENT_HOST_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/dist"));
    let path = dist.join("plugins/libagent_plugin_python.so");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask stage` first (or `cargo xtask test` / `cargo xtask bench`)",
        path.display()
    );
    PluginLibrary::open(&path).expect("the staged Python plugin loads")
}
