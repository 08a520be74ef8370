//! `cargo xtask <command>`: the project's build chores, in Rust so they run anywhere
//! cargo does.

mod bench;
mod fixtures;
mod python_env;
mod soak;
mod stage;
mod summary;
mod test;
mod workspace;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build in release and lay out target/dist/agent-host and target/dist/plugins/.
    Stage,
    /// Stage, then stream a chat answer from the mock backend.
    Demo {
        /// The backend: `mock`, or `openai` (against the tests' local stub server).
        #[arg(long, default_value = "mock")]
        backend: String,
        /// The message to send.
        #[arg(default_value = "Hello from agent-host! This answer streams from a plugin.")]
        message: String,
    },
    /// Build the test plugins (misbehaving fixtures, the example plugin) into target/fixtures/.
    Fixtures,
    /// Make target/python-venv (the plugin's Python) with the Python examples' requirements.
    PythonEnv,
    /// Stage, build the fixtures, make the Python venv, and run every test (nextest when installed), doc test and the quick soak.
    Test {
        /// Extra arguments for the test runner (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Stage, then soak the plugins through the ABI (100,000 mock cycles, 20,000 Python,
    /// 10,000 turns in flight, 10,000 dropped handles, runtimes built and dropped, a 50 MB
    /// echo) and check resident memory, threads and fds against the bounds it prints;
    /// fails when one is exceeded.
    Soak {
        /// The short run that `cargo xtask test` does (`--scale 0.2`).
        #[arg(long)]
        quick: bool,
        /// Extra arguments for agent-soak (after `--`): `--scale F`, `--phase NAME`, `--large-mb N`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Stage, run the criterion benchmarks, and write target/bench/summary.json (every
    /// figure with its baseline, ratio and goal).
    Bench {
        /// Every figure, with shorter and fewer samples (a few minutes).
        #[arg(long)]
        quick: bool,
        /// Extra arguments for criterion (after `--`), e.g. a filter.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Stage => stage::stage().map(|_| ()),
        Command::Demo { backend, message } => stage::demo(&backend, &message),
        Command::Fixtures => fixtures::build().map(|_| ()),
        Command::PythonEnv => python_env::ensure().map(|_| ()),
        Command::Test { args } => test::run(&args),
        Command::Soak { quick, args } => soak::run(quick, &args),
        Command::Bench { quick, args } => bench::run(quick, &args),
    }
}
