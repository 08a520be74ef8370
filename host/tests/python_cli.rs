//! The Python backend from the `agent-host` binary, as a user runs it.

mod common;

use std::path::Path;
use std::process::Command;

fn python_dir() -> tempfile::TempDir {
    common::plugin_dir(&[(common::python_plugin(), "libagent_plugin_python.so")])
}

use common::{run_host as agent_host, text};

/// `chat` with an agent from the Python plugin's test agents.
fn chat_with_agent(agent: &str, message: &str, dir: &Path) -> std::process::Output {
    let agents = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/python/tests/agents");
    agent_host(
        &[
            "chat",
            "--backend",
            "python",
            "--option",
            &format!("agent={agent}"),
            "--option",
            &format!("python_path=[{:?}]", agents.display().to_string()),
            message,
        ],
        dir,
    )
}

#[test]
fn chat_streams_the_reference_agents_answer_and_exits_cleanly() {
    let dir = python_dir();
    let output = agent_host(&["chat", "--backend", "python", "hello"], dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "echo: hello\n");
}

#[test]
fn chat_serves_a_user_agent_given_by_option() {
    let dir = python_dir();
    let output = chat_with_agent("shouting:Shouting", "quiet please", dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "QUIET PLEASE \n");
}

#[test]
fn a_broken_agent_module_gives_a_readable_error() {
    let dir = python_dir();
    let output = chat_with_agent("broken_syntax:Broken", "hi", dir.path());
    assert!(!output.status.success());
    let message = text(&output.stderr);
    assert!(message.contains("option `agent`"), "{message}");
    assert!(message.contains("SyntaxError"), "{message}");
    assert!(message.contains("broken_syntax.py"), "{message}");
}

#[test]
fn a_python_that_cannot_start_is_an_error_not_a_crash() {
    let dir = python_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(["chat", "--backend", "python", "hi", "--plugin-dir"])
        .arg(dir.path())
        .env("PYTHONHOME", "/nonexistent/python-home")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let message = text(&output.stderr);
    assert!(message.contains("Python failed to initialize"), "{message}");
}

#[test]
fn check_passes_on_the_python_plugin() {
    let dir = python_dir();
    let plugin = dir.path().join("libagent_plugin_python.so");
    let output = agent_host(
        &[
            "check",
            plugin.to_str().unwrap(),
            "--failing-prompt",
            "please FAIL",
        ],
        dir.path(),
    );
    let report = text(&output.stdout);
    assert!(output.status.success(), "{report}{}", text(&output.stderr));
    assert!(report.contains(" 0 failed, "), "{report}");
    assert!(report.contains(" 0 crashed"), "{report}");
    // Only the host-tool checks may skip, until Python agents get the host's tools.
    for line in report.lines().filter(|line| line.starts_with("SKIP")) {
        assert!(line.contains("tools."), "{line}");
    }
}
