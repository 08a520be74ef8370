//! The conformance kit on this backend, twice, one `#[test]` per check:
//!
//! - `in_process`: the backend built as a host builds it (options checked by the export
//!   layer, every call through the FFI layer), without a plugin file;
//! - `plugin_file`: the real plugin file, built by this test itself (so it is never
//!   stale) and loaded as `agent-host` loads it.
//!
//! `cargo test` runs both; `cargo test plugin_file::chat` the `chat.*` checks on the file.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use agent_conformance::{conformance_tests, Target};
use agent_plugin_api::plugin::AgentRuntime;
use agent_plugin_api::types::Content;

/// The inputs every check uses; a slow real backend raises the timeout.
fn configured(target: Target) -> Target {
    target
        .with_failing_prompt(Some(Content::text("please FAIL")))
        .with_check_timeout(Duration::from_secs(30))
}

mod in_process {
    use super::*;

    fn target() -> Target {
        configured(Target::plugin::<AgentRuntime<echo_plus::Backend>>(
            serde_json::json!({}),
        ))
    }

    conformance_tests!(target());
}

mod plugin_file {
    use super::*;

    fn target() -> Target {
        let target = Target::from_file(built_plugin(), serde_json::json!({}))
            .unwrap_or_else(|error| panic!("the plugin file does not load: {error}"));
        configured(target)
    }

    conformance_tests!(target());
}

/// Builds the plugin file with the cargo running these tests, once per test process,
/// into a target directory of its own (the one `cargo test` uses may be locked).
fn built_plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let target_dir = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest_dir.join("target"))
                .join("plugin-under-test");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--lib", "--manifest-path"])
                .arg(manifest_dir.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target_dir)
                .status()
                .expect("cannot run cargo");
            assert!(status.success(), "building the plugin file failed");
            target_dir.join("debug").join("libecho_plus.so")
        })
        .clone()
}
