//! `python-env`: the venv the Python examples run in, target/python-venv, made with the
//! Python the plugin embeds and holding the Python examples' requirements (pydantic-ai's,
//! and the grpcio backend's).
//!
//! Idempotent: a marker file in the venv records the interpreter and a hash of the
//! requirements it was installed from; when both match, nothing is run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::workspace::{exec, root, target_dir};

/// The requirements installed into the venv, relative to the workspace root.
const REQUIREMENTS: [&str; 2] = [
    "examples/pydantic-ai/requirements.txt",
    "examples/grpc-python/requirements.txt",
];

/// The marker file, inside the venv.
const MARKER: &str = ".agent-host-requirements";

/// target/python-venv, absolute (the tests get it through the environment).
pub fn venv_dir() -> Result<PathBuf> {
    let venv = target_dir().join("python-venv");
    std::path::absolute(&venv).with_context(|| format!("cannot resolve {}", venv.display()))
}

/// The Python PyO3 builds the plugin with: `$PYO3_PYTHON`, else `python3` on PATH.
pub fn build_python() -> OsString {
    std::env::var_os("PYO3_PYTHON")
        .filter(|python| !python.is_empty())
        .unwrap_or_else(|| "python3".into())
}

pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// 64-bit FNV-1a: stable across Rust versions (unlike `DefaultHasher`), and enough to
/// notice an edited requirements file.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Creates or updates the venv; returns its absolute path.
pub fn ensure() -> Result<PathBuf> {
    let mut contents = Vec::new();
    for file in REQUIREMENTS {
        let path = root().join(file);
        contents.extend(
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
        );
    }
    let python = build_python();
    let marker_text = format!(
        "python={}\nrequirements={:016x}\n",
        python.to_string_lossy(),
        fnv1a(&contents)
    );
    let venv = venv_dir()?;
    let marker = venv.join(MARKER);
    let recorded = std::fs::read_to_string(&marker).ok();
    if venv_python(&venv).is_file() && recorded.as_deref() == Some(marker_text.as_str()) {
        eprintln!("xtask: {} is up to date", venv.display());
        return Ok(venv);
    }
    let made_with = |text: &str| text.lines().next().map(str::to_owned);
    if recorded.is_some_and(|recorded| made_with(&recorded) != made_with(&marker_text)) {
        eprintln!(
            "xtask: {} was made with another Python: remaking it",
            venv.display()
        );
        std::fs::remove_dir_all(&venv)
            .with_context(|| format!("cannot remove {}", venv.display()))?;
    }
    if !venv_python(&venv).is_file() {
        let mut create = Command::new(&python);
        create.args(["-m", "venv"]).arg(&venv);
        exec(&mut create).with_context(|| {
            format!(
                "cannot make a venv with {} (set PYO3_PYTHON to the Python the plugin embeds)",
                python.to_string_lossy()
            )
        })?;
    }
    // A failed install must not leave a marker that says it worked.
    let _ = std::fs::remove_file(&marker);
    let started = std::time::Instant::now();
    let mut install = Command::new(venv_python(&venv));
    install.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
    ]);
    for file in REQUIREMENTS {
        install.arg("-r").arg(root().join(file));
    }
    exec(&mut install)?;
    std::fs::write(&marker, marker_text)
        .with_context(|| format!("cannot write {}", marker.display()))?;
    eprintln!(
        "xtask: installed {} into {} in {:.1?}",
        REQUIREMENTS.join(" and "),
        venv.display(),
        started.elapsed()
    );
    Ok(venv)
}
