//! `fixtures`: the plugins the tests load besides the shipped ones, built for real: the
//! misbehaving fixtures, the out-of-tree example plugin, and the frozen plugins built
//! against earlier api versions (`tests/fixtures/frozen`, each its own workspace).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::workspace::{cargo, exec, fixtures_dir, install, library_file, root, target_dir};

pub const FIXTURES: &[&str] = &[
    "fixture-misbehaving",
    "fixture-wrong-api",
    "fixture-no-root",
    "fixture-crash-on-load",
    "shout-plugin",
];

pub fn build() -> Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "--release"]);
    for fixture in FIXTURES {
        build.args(["-p", fixture]);
    }
    exec(&mut build)?;
    install_built()
}

/// Installs the fixtures already built in release (by [`build`], or with the staged
/// packages by `stage_with`), and builds and installs the frozen ones.
pub fn install_built() -> Result<PathBuf> {
    let dir = fixtures_dir();
    for fixture in FIXTURES {
        let file = library_file(fixture);
        install(&target_dir().join("release").join(&file), &dir.join(&file))?;
    }
    for frozen in frozen_fixtures()? {
        build_frozen(&frozen, &dir)?;
    }
    Ok(dir)
}

/// `tests/fixtures/frozen/api-<version>`, oldest first.
fn frozen_fixtures() -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/frozen"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    found.sort();
    Ok(found)
}

/// Builds one frozen workspace with its own lock file, outside the main target dir (its
/// `agent-plugin-api` is another package of the same name), and installs its plugin as
/// `libfrozen_api_<version>.so`. The frozen workspaces share one target dir, so their
/// common dependencies are built once; unoptimized and without debug info, which is all
/// an ABI check needs (a fifth of the release build's time: about a minute for all five
/// on a clean checkout, against four).
fn build_frozen(workspace: &Path, dir: &Path) -> Result<()> {
    let version = workspace
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("api-"))
        .context("a frozen fixture dir is named api-<version>")?;
    let crate_name = format!("frozen_api_{}", version.replace('.', "_"));
    let target = target_dir().join("frozen");
    let mut build = cargo();
    build
        .args([
            "build",
            "--config",
            "profile.dev.debug=false",
            "--manifest-path",
        ])
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    exec(&mut build)?;
    let file = library_file(&crate_name);
    install(&target.join("debug").join(&file), &dir.join(&file))
}
