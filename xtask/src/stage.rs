//! `stage` and `demo`: the layout a user gets, built in release.

use std::path::PathBuf;

use anyhow::Result;

use crate::workspace::{self, cargo, dist_dir, exec, install, library_file, target_dir};

/// The plugins shipped in target/dist/plugins/.
pub const SHIPPED_PLUGINS: &[&str] = &[
    "agent-plugin-mock",
    "agent-plugin-python",
    "agent-plugin-openai",
];

/// Builds the host and the shipped plugins in release and lays them out in target/dist.
pub fn stage() -> Result<PathBuf> {
    stage_with(&[])
}

/// [`stage`], building `also` (more workspace packages) in the same cargo run: built
/// apart, a package resolves its dependencies' features apart and rebuilds them.
pub fn stage_with(also: &[&str]) -> Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "agent-host"]);
    for package in SHIPPED_PLUGINS.iter().chain(also) {
        build.args(["-p", package]);
    }
    // The mock's `.so` with its own allocator; its rlib (in-process) keeps the caller's.
    build.args(["--features", "agent-plugin-mock/allocator"]);
    exec(&mut build)?;
    let release = target_dir().join("release");
    let dist = dist_dir();
    let binary = if cfg!(windows) {
        "agent-host.exe"
    } else {
        "agent-host"
    };
    install(&release.join(binary), &dist.join(binary))?;
    for plugin in SHIPPED_PLUGINS {
        let file = library_file(plugin);
        install(&release.join(&file), &dist.join("plugins").join(&file))?;
    }
    eprintln!("xtask: staged {}", dist.display());
    Ok(dist.join(binary))
}

pub fn demo(backend: &str, message: &str) -> Result<()> {
    let binary = stage()?;
    let mut chat = std::process::Command::new(binary);
    chat.current_dir(workspace::root())
        .args(["chat", "--backend", backend, "--verbose", message]);
    if backend != "openai" {
        return exec(&mut chat);
    }
    // The openai backend against the tests' stub server (no key, no network).
    exec(cargo().args([
        "build",
        "-p",
        "agent-plugin-openai",
        "--example",
        "stub_server",
    ]))?;
    let server_binary = target_dir().join("debug/examples/stub_server");
    let mut server = std::process::Command::new(server_binary)
        .args(["--seconds", "60"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("piped")),
        &mut line,
    )?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow::anyhow!("the stub server said {line:?}"))?
        .to_owned();
    chat.args(["--option", &format!("base_url={url}")]);
    let outcome = exec(&mut chat);
    let _ = server.kill();
    let _ = server.wait();
    outcome
}
