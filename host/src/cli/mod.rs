//! Command-line interface. Every failure ends as one line on stderr and a non-zero exit
//! (the codes are in `exit`).

mod backend_args;
mod chat;
mod check;
mod conversation;
mod demo_tools;
mod exit;
mod inspect;
mod new_plugin;
mod plugins;
mod serve;
mod signals;
mod stdin_lines;
mod stdout;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use agent_host::{parse_option, Config, Host};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "agent-host",
    version,
    about = "Loads agent runtime backends from plugins"
)]
struct Cli {
    /// Config file (default: $AGENT_HOST_CONFIG, else ./agent-host.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A directory to search for plugins first; repeatable.
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,
    /// Load plugin files, and read config files, that others could have written
    /// (group/other-writable, or owned by another user).
    #[arg(long, global = true)]
    allow_insecure_plugins: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every plugin file found, loaded or not, with the reason when not.
    Plugins(plugins::Args),
    /// Show one plugin's metadata and options, by name or by path.
    Inspect(inspect::Args),
    /// Chat with a backend; streams the answer as it comes. No MESSAGE: interactive.
    Chat(chat::Args),
    /// Load a plugin file and run the conformance kit on it.
    Check(check::Args),
    /// Write a new plugin crate (builds and passes the conformance kit as generated).
    NewPlugin(new_plugin::Args),
    /// Serve a backend over gRPC, on a Unix socket or loopback TCP, until SIGTERM.
    Serve(serve::Args),
}

pub fn main() -> ExitCode {
    exit::install_panic_hook();
    if let Some(code) = scanner_child() {
        return code;
    }
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return exit::fail(anyhow::anyhow!("cannot start tokio: {error}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => exit::fail(error),
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (plugins log under
/// `plugin::<name>::<target>`). By default: errors, and plugins' warnings too (a
/// blocked event loop, a clamped backoff, a torn line dropped from a saved
/// conversation), which say something about the user's run.
fn init_logging() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("error,plugin=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .try_init();
}

/// Colour only for a person at a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour_on_stderr() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Before any plugin is loaded, so that an embedded interpreter finds SIGINT taken.
    let mut signals = signals::install().context("cannot install signal handlers")?;
    let load_host_with = |config: Option<Config>| -> anyhow::Result<Host> {
        let Some(config) = config else {
            let config = Config::load_trusting(cli.config.as_deref(), cli.allow_insecure_plugins)?;
            let mut builder = Host::builder()
                .config(config)
                .allow_insecure_plugins(cli.allow_insecure_plugins);
            for dir in &cli.plugin_dirs {
                builder = builder.plugin_dir(dir);
            }
            return Ok(builder.build());
        };
        // A config made here (a process-isolation child): only what it pins.
        Ok(Host::builder()
            .config(config)
            .without_env()
            .without_exe_dir()
            .allow_insecure_plugins(cli.allow_insecure_plugins)
            .build())
    };
    let load_host = || load_host_with(None);
    match cli.command {
        Command::Plugins(args) => plugins::run(&load_host()?, args),
        Command::Inspect(args) => inspect::run(&load_host()?, args),
        Command::Chat(args) => chat::run(&load_host()?, args, &mut signals).await,
        Command::Check(args) => check::run(&load_host()?, args).await,
        Command::NewPlugin(args) => new_plugin::run(args),
        Command::Serve(args) => serve::run(load_host_with, args, &mut signals).await,
    }
}

/// `agent-host __scan-plugin PATH OPTIONS` (see `agent_host::scanner_child`): the child
/// side of loading a plugin in a separate process. Not a user command.
fn scanner_child() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != agent_host::SCAN_SUBCOMMAND {
        return None;
    }
    let path = PathBuf::from(args.next().unwrap_or_default());
    let options = args.next().and_then(|text| text.into_string().ok());
    Some(agent_host::scanner_child(
        &path,
        options.as_deref().unwrap_or("{}"),
    ))
}

/// The executable that loads plugins in a child process: this one.
fn scanner() -> anyhow::Result<PathBuf> {
    std::env::current_exe().map_err(|error| anyhow::anyhow!("cannot find this executable: {error}"))
}

/// `--option key=value` flags as the JSON object handed to a plugin.
fn options_map(options: &[String]) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    options
        .iter()
        .map(|option| parse_option(option).map_err(anyhow::Error::msg))
        .collect()
}
