//! Where things are, and running cargo.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_owned()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub fn dist_dir() -> PathBuf {
    target_dir().join("dist")
}

pub fn fixtures_dir() -> PathBuf {
    target_dir().join("fixtures")
}

/// The platform's file name for the dynamic library of crate `name`.
pub fn library_file(crate_name: &str) -> String {
    let stem = crate_name.replace('-', "_");
    if cfg!(target_os = "windows") {
        format!("{stem}.dll")
    } else if cfg!(target_os = "macos") {
        format!("lib{stem}.dylib")
    } else {
        format!("lib{stem}.so")
    }
}

pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

pub fn exec(command: &mut Command) -> Result<()> {
    eprintln!("xtask: running {command:?}");
    let started = std::time::Instant::now();
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    // Said for every step, so a CI log shows where a slow run spent its time.
    eprintln!(
        "xtask: {} took {:.0} s",
        describe(command),
        started.elapsed().as_secs_f64()
    );
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// The program and its first arguments, short enough for a timing line.
fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .map_or_else(
            || command.get_program().to_string_lossy(),
            |name| name.to_string_lossy(),
        )
        .into_owned();
    command.get_args().take(4).fold(program, |line, arg| {
        format!("{line} {}", arg.to_string_lossy())
    })
}

/// Copies `from` to `to` through a temporary name, so a running process that has the
/// old file mapped keeps a consistent copy.
pub fn install(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().expect("a file path");
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.tmp",
        to.file_name().expect("a file name").to_string_lossy()
    ));
    std::fs::copy(from, &temporary)
        .with_context(|| format!("copy {} to {}", from.display(), temporary.display()))?;
    std::fs::rename(&temporary, to)?;
    Ok(())
}
