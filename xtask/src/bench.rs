//! `bench`: criterion benchmarks against the staged plugins.

use anyhow::Result;

use crate::stage;
use crate::workspace::{cargo, dist_dir, exec};

/// Every criterion bench target, as `(package, bench)`.
const BENCHES: &[(&str, &str)] = &[
    ("agent-host", "abi_overhead"),
    ("agent-plugin-python", "python_bridge"),
];

pub fn run(extra: &[String]) -> Result<()> {
    stage::stage()?;
    let mut bench = cargo();
    bench.arg("bench");
    for (package, target) in BENCHES {
        bench.args(["-p", package, "--bench", target]);
    }
    bench
        .arg("--")
        .args(extra)
        .env("AGENT_HOST_DIST", dist_dir());
    exec(&mut bench)
}
