//! `bench`: criterion benchmarks against the staged plugins.

use anyhow::Result;

use crate::stage;
use crate::workspace::{cargo, dist_dir, exec};

pub fn run(extra: &[String]) -> Result<()> {
    stage::stage()?;
    let mut bench = cargo();
    bench
        .args(["bench", "--workspace"])
        .args(extra)
        .env("AGENT_HOST_DIST", dist_dir());
    exec(&mut bench)
}
