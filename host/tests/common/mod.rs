//! Where the staged layout and the fixtures are, and plugin directories made to order.
//! `cargo xtask test` builds both and sets `AGENT_HOST_DIST` / `AGENT_HOST_FIXTURES`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target")
}

fn dir_from_env(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_target().join(default))
}

fn existing(path: PathBuf, how: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run `{how}` first (or `cargo xtask test`, which does)",
        path.display()
    );
    path
}

pub fn dist_dir() -> PathBuf {
    dir_from_env("AGENT_HOST_DIST", "dist")
}

/// The staged mock plugin, the real `.so` a user gets.
pub fn mock_plugin() -> PathBuf {
    existing(
        dist_dir().join("plugins/libagent_plugin_mock.so"),
        "cargo xtask stage",
    )
}

/// The staged Python plugin.
pub fn python_plugin() -> PathBuf {
    existing(
        dist_dir().join("plugins/libagent_plugin_python.so"),
        "cargo xtask stage",
    )
}

/// The staged `agent-host` binary.
pub fn staged_binary() -> PathBuf {
    existing(dist_dir().join("agent-host"), "cargo xtask stage")
}

pub fn fixture(name: &str) -> PathBuf {
    existing(
        dir_from_env("AGENT_HOST_FIXTURES", "fixtures").join(format!("libfixture_{name}.so")),
        "cargo xtask fixtures",
    )
}

/// The out-of-tree example plugin (`examples/shout-plugin`).
pub fn shout_plugin() -> PathBuf {
    existing(
        dir_from_env("AGENT_HOST_FIXTURES", "fixtures").join("libshout_plugin.so"),
        "cargo xtask fixtures",
    )
}

/// A fresh plugin directory holding copies of `files` (source path, file name).
pub fn plugin_dir(files: &[(PathBuf, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (source, name) in files {
        std::fs::copy(source, dir.path().join(name)).unwrap();
    }
    dir
}

/// A file named like a plugin that is not a library at all.
pub fn junk_file(dir: &Path) -> PathBuf {
    let path = dir.join("libjunk.so");
    std::fs::write(&path, b"this is not a shared library\n").unwrap();
    path
}

/// Runs the `agent-host` binary under test with `plugin_dir` as its only plugin
/// directory and working directory, and no plugin or config settings from outside.
pub fn run_host(args: &[&str], plugin_dir: &Path) -> Output {
    run_binary(
        Path::new(env!("CARGO_BIN_EXE_agent-host")),
        args,
        plugin_dir,
    )
}

/// [`run_host`] with another `agent-host` binary (the staged one).
pub fn run_binary(binary: &Path, args: &[&str], plugin_dir: &Path) -> Output {
    Command::new(binary)
        .args(args)
        .arg("--plugin-dir")
        .arg(plugin_dir)
        .env_remove("AGENT_HOST_PLUGIN_PATH")
        .env_remove("AGENT_HOST_CONFIG")
        .env_remove("PYTHONHOME")
        .current_dir(plugin_dir)
        .output()
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `output`'s stdout, after asserting that `what` succeeded (stderr in the message).
pub fn succeeded(what: &str, output: Output) -> String {
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        text(&output.stderr)
    );
    stdout
}

/// The checkout this test runs in.
pub fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Where crates outside the workspace (the scaffold's, the third-party example) build:
/// shared by them and by runs, so their dependencies compile once.
pub fn outside_target() -> PathBuf {
    repository().join("target").join("outside")
}

/// The cargo running the tests (or the one on `PATH`).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The staged `agent-host serve --backend mock` (the staged mock is found beside it)
/// with `args`, run in `dir`, and the handshake line it printed.
pub fn serve(args: &[&str], dir: &Path) -> (std::process::Child, agent_remote::HandshakeLine) {
    use std::io::BufRead as _;
    let mut serve = Command::new(staged_binary())
        .args(["serve", "--backend", "mock"])
        .args(args)
        .env_remove("AGENT_HOST_CONFIG")
        .env_remove("AGENT_HOST_PLUGIN_PATH")
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let handshake = first
        .parse()
        .unwrap_or_else(|why| panic!("serve {args:?} printed no handshake: {why}"));
    (serve, handshake)
}
