//! The conformance kit on the staged mock with `isolation = "process"`: each runtime is a
//! child `agent-host serve` (the staged binary) of the staged plugin file, used through
//! the host's `ProcessRuntime`. Applications must see no difference, so every check
//! passes unchanged.

mod common;

use agent_conformance::{conformance_tests, Target};
use agent_host::{Config, Host};

fn isolated_mock() -> Target {
    Target::new_shared("mock (isolation = \"process\")", || async {
        let config = Config::from_toml(
            "[plugins.mock]\nisolation = \"process\"\n[backends.mock]\ncompact_every = 2\n",
        )
        .map_err(agent_plugin_api::types::Error::InvalidConfig)?;
        let host = Host::builder()
            .config(config)
            .plugin_dir(common::staged_dir().join("plugins"))
            .without_env()
            .without_exe_dir()
            .serve_executable(common::staged_dir().join("agent-host"))
            .build();
        host.start_runtime("mock", Default::default())
            .await
            .map_err(|error| agent_plugin_api::types::Error::BackendError(error.to_string()))
    })
    .with_failing_prompt(common::failing_prompt())
}

conformance_tests!(isolated_mock());
