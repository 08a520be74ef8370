//! `[plugins.<name>] call_timeout_ms`: the host bounds a plugin's own work, through the
//! real staged plugin, and never the waits the caller chose.

mod common;

use std::time::{Duration, Instant};

use agent_host::{Config, Host};
use agent_plugin_api::types::{AgentConfig, Content, Error};
use agent_plugin_api::Runtime;
use serde_json::json;

fn host_with_timeout(dir: &std::path::Path, ms: u64) -> Host {
    let config = Config::from_toml(&format!("[plugins.mock]\ncall_timeout_ms = {ms}\n")).unwrap();
    Host::builder()
        .config(config)
        .plugin_dir(dir)
        .without_env()
        .without_exe_dir()
        .build()
}

fn slow_mock(host: &Host) -> agent_plugin_api::host::PluginRuntime {
    let options = json!({"chunk_chars": 1, "chunk_delay_ms": 100});
    host.runtime_with_options("mock", options.as_object().unwrap().clone())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_that_outlasts_the_limit_fails_on_time_and_the_agent_goes_on() {
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let host = host_with_timeout(dir.path(), 1000);
    let runtime = slow_mock(&host);
    assert_eq!(runtime.call_timeout(), Some(Duration::from_millis(1000)));
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let started = Instant::now();
    let handle = runtime
        .chat(agent, &Content::text("a message that takes seconds"))
        .await
        .unwrap();
    let error = handle.text().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(&error, Error::Timeout { duration, operation }
            if *duration == Duration::from_millis(1000) && operation.contains("plugin mock chat turn")),
        "{error}"
    );
    assert!(
        elapsed >= Duration::from_millis(1000) && elapsed < Duration::from_millis(2500),
        "fired after {elapsed:?}"
    );
    // The timed-out turn was cancelled in the plugin: the agent takes the next one.
    runtime.wait_for_idle(agent).await.unwrap();
    let answer = runtime.chat(agent, &Content::text("k")).await.unwrap();
    assert_eq!(answer.text().await.unwrap().text, "echo: k");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callers_own_waits_are_not_cut_short() {
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let host = host_with_timeout(dir.path(), 100);
    let runtime = slow_mock(&host);
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let started = Instant::now();
    let woken = runtime
        .wait_for_wakeup(agent, Duration::from_millis(400))
        .await
        .unwrap();
    assert!(!woken);
    assert!(started.elapsed() >= Duration::from_millis(400));
    runtime.record_quota_hit(Duration::from_millis(300)).await;
    runtime.wait_for_quota().await;
}
