//! The `agent-host` command: list, inspect, chat with and check plugins.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
