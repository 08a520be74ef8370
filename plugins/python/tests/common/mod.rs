//! What the Python plugin's tests and benches share: the staged plugin file and CLI.

use std::path::{Path, PathBuf};

use agent_plugin_api::host::PluginLibrary;

/// The workspace root.
#[allow(dead_code)] // Not every test binary needs it.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$AGENT_HOST_DIST` (else the workspace's `target/dist`), where `cargo xtask stage`
/// puts the CLI and the plugins.
#[allow(dead_code)] // Not every test binary needs it.
pub fn dist() -> PathBuf {
    std::env::var_os("AGENT_HOST_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/dist"))
}

/// The staged `agent-host` binary (it finds the staged plugins beside it).
#[allow(dead_code)] // Not every test binary needs it.
pub fn staged_cli() -> PathBuf {
    let path = dist().join("agent-host");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask stage` first (or `cargo xtask test`)",
        path.display()
    );
    path
}

/// The directory of the test agents (`tests/agents`).
#[allow(dead_code)] // Not every test binary needs it.
pub fn agents_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/agents")
        .display()
        .to_string()
}

/// Opens `<dist>/plugins/libagent_plugin_python.so`; a missing file fails loudly.
#[allow(dead_code)] // Not every test binary needs it.
pub fn staged_plugin() -> PluginLibrary {
    let path = dist().join("plugins/libagent_plugin_python.so");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask stage` first (or `cargo xtask test` / `cargo xtask bench`)",
        path.display()
    );
    PluginLibrary::open(&path).expect("the staged Python plugin loads")
}

/// Makes an empty venv at `venv` with the Python the plugin embeds (`python -m venv
/// --without-pip`, `--system-site-packages` when asked); returns its site-packages.
#[allow(dead_code)] // Not every test binary needs it.
pub fn make_venv(venv: &Path, system_site_packages: bool) -> PathBuf {
    let mut make = std::process::Command::new(env!("AGENT_PYTHON_EXECUTABLE"));
    make.args(["-m", "venv", "--without-pip"]);
    if system_site_packages {
        make.arg("--system-site-packages");
    }
    assert!(
        make.arg(venv).status().unwrap().success(),
        "cannot make a venv at {}",
        venv.display()
    );
    venv.join("lib")
        .join(format!("python{}", env!("AGENT_PYTHON_VERSION")))
        .join("site-packages")
}
