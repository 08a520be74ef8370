//! `fixtures`: the plugins the tests load besides the shipped ones, built for real: the
//! misbehaving fixtures, and the out-of-tree example plugin.

use std::path::PathBuf;

use anyhow::Result;

use crate::workspace::{cargo, exec, fixtures_dir, install, library_file, target_dir};

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
    let dir = fixtures_dir();
    for fixture in FIXTURES {
        let file = library_file(fixture);
        install(&target_dir().join("release").join(&file), &dir.join(&file))?;
    }
    Ok(dir)
}
