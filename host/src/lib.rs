//! agent-host: finds agent runtime backends in dynamic libraries, checks them, loads them,
//! and hands the application a [`Runtime`](agent_plugin_api::Runtime) by name.
//!
//! ```no_run
//! use agent_host::{Config, Host};
//! use agent_plugin_api::types::AgentConfig;
//! use agent_plugin_api::Runtime;
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let host = Host::from_config(Config::load(None)?)?;
//! let runtime = host.runtime("mock")?;
//! let agent = runtime.create_agent(AgentConfig::builder("any-model").build()).await?;
//! let answer = runtime.chat(agent, &"Hello".into()).await?.text().await?;
//! println!("{}", answer.text);
//! # Ok(()) }
//! ```
//!
//! Discovery order: [`HostBuilder::plugin_dir`] (the CLI's `--plugin-dir`), then
//! `AGENT_HOST_PLUGIN_PATH`, then the config's `plugin_dirs`, then `plugins/` beside the
//! executable. A loaded library stays loaded for the life of the process.

mod config;
mod digest;
mod discovery;
mod error;
mod exit_status;
mod host;
mod isolation;
mod options;
mod registry;
mod remote_url;
mod scan;
mod secret_file;
mod starter;
mod trust;

pub use config::{Config, Isolation, PluginPin, CONFIG_ENV, DEFAULT_CONFIG_FILE, MAX_WORKERS};
pub use discovery::{is_plugin_file_name, PLUGIN_PATH_ENV};
pub use error::HostError;
pub use exit_status::describe as describe_exit_status;
pub use host::{Host, HostBuilder};
pub use isolation::{Launch, ProcessRuntime, Program, LISTEN_ENV, OPTIONS_ENV, PLUGIN_ENV};
pub use options::parse_option;
pub use registry::{Candidate, CandidateStatus};
pub use remote_url::{parse_backend_url, BackendUrl};
pub use scan::{scanner_child, Verdict, SCAN_SUBCOMMAND, SCAN_TIMEOUT};
pub use secret_file::{read_public, read_secret};
pub use starter::RuntimeStarter;

pub use agent_plugin_api::host::{PluginFile, PluginLibrary, PluginMetadata, PluginRuntime};
