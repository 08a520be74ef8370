//! examples/grpc-python: a backend in Python on `grpcio` (not the embedded interpreter),
//! started by the staged host as a `command` child, passes the conformance kit through
//! `agent-host check --backend`, and its failures are the host's usual one-liners.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The venv's Python, with grpcio; a missing one fails the test, never passes silently.
fn venv_python() -> PathBuf {
    let venv = std::env::var_os("AGENT_HOST_PYTHON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repository().join("target/python-venv"));
    let python = venv.join("bin/python");
    let has_grpc = Command::new(&python)
        .args(["-c", "import grpc, grpc_tools"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        has_grpc,
        "{} has no grpcio: run `cargo xtask python-env` first (or `cargo xtask test`)",
        python.display()
    );
    python
}

/// A directory whose agent-host.toml makes `echo-py` the example, with `extra` lines in
/// its `[plugins.echo-py]`.
fn configured(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let backend = common::repository().join("examples/grpc-python/backend.py");
    let config = format!(
        "backend = \"echo-py\"\n[plugins.echo-py]\ncommand = [{:?}, {:?}]\n{extra}\n",
        venv_python().display().to_string(),
        backend.display().to_string()
    );
    let file = dir.path().join("agent-host.toml");
    std::fs::write(&file, config).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

fn host(dir: &Path, args: &[&str]) -> Output {
    Command::new(common::staged_binary())
        .args(args)
        .env_remove("AGENT_HOST_CONFIG")
        .env_remove("AGENT_HOST_PLUGIN_PATH")
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn the_python_grpc_backend_passes_the_conformance_kit() {
    let dir = configured("");
    let output = host(
        dir.path(),
        &[
            "check",
            "--backend",
            "echo-py",
            "--failing-prompt",
            "please FAIL",
        ],
    );
    let stdout = common::text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        common::text(&output.stderr)
    );
    assert!(
        stdout.contains(" 0 failed,") && stdout.contains(" 0 crashed"),
        "{stdout}"
    );
    // Only the saved-conversation cases may skip: the example saves nothing.
    for line in stdout.lines().filter(|line| line.starts_with("SKIP")) {
        assert!(line.contains("saved."), "{stdout}");
    }
}

#[test]
fn the_python_grpc_backend_chats_with_options_and_says_what_is_wrong() {
    let dir = configured("workers = 2\n[backends.echo-py]\nchunk_delay_ms = 0");
    let output = host(dir.path(), &["chat", "hello from grpcio"]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert!(
        common::text(&output.stdout).contains("hello from grpcio"),
        "{}",
        common::text(&output.stdout)
    );
    // An option it does not know: the child's own word, in the host's one line.
    let output = host(dir.path(), &["chat", "--option", "colour=1", "hi"]);
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("plugin \"echo-py\"") && stderr.contains("colour"),
        "{stderr}"
    );
}
