//! `test`: everything, against the staged binary and plugins.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::workspace::{cargo, dist_dir, exec};
use crate::{fixtures, python_env, soak, stage};

/// Every test run builds with these, so the runs share one build: the plugin allocator
/// (`agent_plugin_api::plugin::PluginAllocator`) is compiled and tested, as the staged
/// mock uses it.
const FEATURES: [&str; 2] = ["--features", "agent-plugin-api/allocator"];

pub fn run_tests(extra: &[String]) -> Result<()> {
    let venv = python_env::venv_dir()?;
    let nextest = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    let mut tests = cargo();
    if nextest {
        tests.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        tests.args(["test", "--workspace", "--no-fail-fast"]);
    }
    tests.args(FEATURES);
    tests.args(extra);
    with_layout(&mut tests, &venv);
    exec(&mut tests)?;
    if nextest {
        // nextest does not run doc tests.
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]).args(FEATURES);
        with_layout(&mut doc, &venv);
        exec(&mut doc)?;
    }
    // Crates outside the workspace, as third parties write them: the scaffold's, built
    // and tested as generated, and the third-party example, each then used from the
    // staged host (ignored in the run above: they compile crates of their own).
    // `--workspace`, as above: `-p agent-host` alone unifies features differently and
    // rebuilt half the dependencies (6 minutes of a CI run).
    let mut scaffold = cargo();
    if nextest {
        scaffold
            .args(["nextest", "run", "--workspace", "--run-ignored", "only"])
            .args(FEATURES);
    } else {
        scaffold
            .args(["test", "--workspace"])
            .args(FEATURES)
            .args(["--", "--ignored"]);
    }
    with_layout(&mut scaffold, &venv);
    exec(&mut scaffold)?;
    // The crates third parties depend on carry what a registry needs. `--no-verify`:
    // agent-conformance depends on agent-plugin-api, which no registry has yet, so its
    // package cannot be built from the registry alone; both are packed from this
    // workspace together.
    let mut package = cargo();
    package.args([
        "package",
        "-p",
        "agent-plugin-api",
        "-p",
        "agent-conformance",
        "--no-verify",
        "--allow-dirty",
    ]);
    exec(&mut package)?;
    // The Python half of the Python backend, on its own (with a fake Rust side).
    let mut python = Command::new(python_env::build_python());
    python
        .current_dir(crate::workspace::root().join("plugins/python/python"))
        .args(["-m", "unittest", "discover", "-s", "tests"]);
    exec(&mut python)?;
    // The Python backend over grpcio, on its own (its test speaks the protocol to it).
    let mut grpc_python = Command::new(python_env::venv_python(&venv));
    grpc_python.current_dir(crate::workspace::root()).args([
        "-m",
        "unittest",
        "discover",
        "-s",
        "examples/grpc-python",
    ]);
    exec(&mut grpc_python)?;
    // A short soak: resident memory, threads and fds across many agents, on the staged
    // plugins (the full run is `cargo xtask soak`).
    soak::soak(true, &[])?;
    Ok(())
}

/// Tells the tests where the staged layout, the fixtures and the Python venv are.
fn with_layout(command: &mut Command, venv: &Path) {
    command
        .env("AGENT_HOST_DIST", dist_dir())
        .env("AGENT_HOST_FIXTURES", crate::workspace::fixtures_dir())
        .env("AGENT_HOST_PYTHON_VENV", venv);
}

pub fn run(extra: &[String]) -> Result<()> {
    // One cargo run for both: the fixtures then reuse the staged build's dependencies.
    stage::stage_with(fixtures::FIXTURES)?;
    fixtures::install_built()?;
    python_env::ensure()?;
    run_tests(extra)
}
