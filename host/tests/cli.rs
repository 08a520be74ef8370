//! The `agent-host` binary as a user runs it.

mod common;

use std::process::{Command, Output};

use common::run_host as agent_host;

fn stdout(output: &Output) -> String {
    common::text(&output.stdout)
}

fn stderr(output: &Output) -> String {
    common::text(&output.stderr)
}

fn mock_dir() -> tempfile::TempDir {
    common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")])
}

/// `chat` on the mock, answering at once.
fn chat_with_mock(message: &str, plugin_dir: &std::path::Path) -> Output {
    agent_host(
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=0",
            message,
        ],
        plugin_dir,
    )
}

#[test]
fn chat_streams_the_mock_answer() {
    let dir = mock_dir();
    let output = chat_with_mock("Hello there", dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "echo: Hello there\n");
}

#[test]
fn interactive_chat_reads_one_message_per_line() {
    let dir = mock_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(["chat", "--backend", "mock", "--option", "chunk_delay_ms=0"])
        .arg("--plugin-dir")
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"first\n\nsecond\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(stdout(&output), "echo: first\necho: second\n");
}

#[test]
fn an_unknown_backend_fails_naming_the_available_ones() {
    let dir = mock_dir();
    let output = agent_host(&["chat", "--backend", "nosuch", "hi"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.contains("nosuch") && message.contains("mock"),
        "{message}"
    );
}

#[test]
fn plugins_lists_loaded_and_refused_files() {
    let dir = mock_dir();
    common::junk_file(dir.path());
    let output = agent_host(&["plugins"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let mock = table
        .lines()
        .find(|line| line.starts_with("mock "))
        .unwrap_or_else(|| panic!("no mock row in:\n{table}"));
    assert!(mock.contains(agent_plugin_api::API_VERSION), "{mock}");
    assert!(mock.ends_with("loaded"), "{mock}");
    let junk = table
        .lines()
        .find(|line| line.contains("libjunk.so"))
        .unwrap();
    assert!(junk.contains("refused: not a loadable library"), "{junk}");
}

#[test]
fn a_junk_plugin_does_not_stop_chat() {
    let dir = mock_dir();
    common::junk_file(dir.path());
    let output = chat_with_mock("still works", dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "echo: still works\n");
}

#[test]
fn a_plugin_dropped_into_the_dir_is_picked_up_without_rebuilding() {
    let dir = mock_dir();
    let before = stdout(&agent_host(&["plugins"], dir.path()));
    assert!(!before.contains("shout"), "{before}");
    std::fs::copy(
        common::shout_plugin(),
        dir.path().join("libshout_plugin.so"),
    )
    .unwrap();
    let after = stdout(&agent_host(&["plugins"], dir.path()));
    assert!(
        after
            .lines()
            .any(|line| line.starts_with("shout ") && line.ends_with("loaded")),
        "{after}"
    );
    let output = agent_host(
        &["chat", "--backend", "shout", "hello out there"],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "HELLO OUT THERE\n");
}

#[test]
fn the_config_file_selects_the_backend_and_its_options() {
    let dir = mock_dir();
    std::fs::write(
        dir.path().join("agent-host.toml"),
        "backend = \"mock\"\n[backends.mock]\nchunk_delay_ms = 0\nreplies = [\"scripted\"]\n",
    )
    .unwrap();
    let output = agent_host(&["chat", "hi"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "scripted\n");
}

#[test]
fn a_bad_config_names_the_file_and_the_field() {
    let dir = mock_dir();
    let config = dir.path().join("broken.toml");
    std::fs::write(&config, "backnd = \"mock\"\n").unwrap();
    let output = agent_host(
        &["chat", "--config", config.to_str().unwrap(), "hi"],
        dir.path(),
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("broken.toml") && message.contains("backnd"),
        "{message}"
    );
}

#[test]
fn a_bad_option_names_the_option() {
    let dir = mock_dir();
    let output = agent_host(
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=soon",
            "hi",
        ],
        dir.path(),
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("chunk_delay_ms"), "{message}");
}

#[test]
fn inspect_shows_versions_and_options() {
    let dir = mock_dir();
    let by_name = stdout(&agent_host(&["inspect", "mock"], dir.path()));
    assert!(by_name.contains("name:         mock"), "{by_name}");
    assert!(by_name.contains("chunk_delay_ms"), "{by_name}");
    let path = dir.path().join("libagent_plugin_mock.so");
    let by_path = stdout(&agent_host(
        &["inspect", path.to_str().unwrap()],
        dir.path(),
    ));
    assert_eq!(by_name, by_path);
}

#[test]
fn inspect_explains_a_refused_file() {
    let dir = mock_dir();
    let output = agent_host(
        &["inspect", common::fixture("wrong_api").to_str().unwrap()],
        dir.path(),
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("0.99.0") && message.contains("rebuild"),
        "{message}"
    );
}

#[test]
fn check_passes_on_the_mock_and_fails_on_a_broken_plugin() {
    let dir = mock_dir();
    let mock = dir.path().join("libagent_plugin_mock.so");
    let output = agent_host(&["check", mock.to_str().unwrap()], dir.path());
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains(" passed, 0 failed"),
        "{}",
        stdout(&output)
    );

    let broken = common::fixture("misbehaving");
    let output = agent_host(
        &[
            "check",
            broken.to_str().unwrap(),
            "--option",
            "panic_in=[\"history\"]",
        ],
        dir.path(),
    );
    assert!(!output.status.success(), "{}", stdout(&output));
}

#[test]
fn the_staged_binary_finds_its_plugins_with_no_flags() {
    let output = Command::new(common::staged_binary())
        .arg("plugins")
        .env_remove("AGENT_HOST_PLUGIN_PATH")
        .env_remove("AGENT_HOST_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("mock ") && line.ends_with("loaded")),
        "{table}"
    );
}
