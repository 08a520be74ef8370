//! `soak`: the soak run (`tests/soak`, the `agent-soak` binary) in release against the
//! staged plugins, through the ABI as an application loads them.
//!
//! It prints the bounds first, then a table of every phase's figures; it fails when one
//! is exceeded. The phases and bounds are documented in the README ("Soak") and in
//! `tests/soak/src/bounds.rs`.

use anyhow::Result;

use crate::stage;
use crate::workspace::{cargo, dist_dir, exec};

/// The scale of the short run inside `cargo xtask test` (under 10 s on 2 cores, plus the build).
pub const QUICK_SCALE: &str = "0.2";

/// Stages, then soaks; `extra` goes to `agent-soak` (`--scale 0.1`, `--phase dropped`).
pub fn run(quick: bool, extra: &[String]) -> Result<()> {
    stage::stage()?;
    soak(quick, extra)
}

/// Soaks the plugins already staged in target/dist.
pub fn soak(quick: bool, extra: &[String]) -> Result<()> {
    let mut soak = cargo();
    soak.args(["run", "--quiet", "--release", "-p", "agent-soak", "--"])
        .arg("--plugin-dir")
        .arg(dist_dir().join("plugins"));
    if quick {
        soak.args(["--scale", QUICK_SCALE]);
    }
    soak.args(extra);
    exec(&mut soak)
}
