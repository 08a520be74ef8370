use std::path::Path;
use std::process::ExitCode;

use agent_host::{Host, HostError, PluginLibrary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plugin name (as listed by `agent-host plugins`) or a path to a library file.
    plugin: String,
}

pub fn run(host: &Host, args: Args) -> anyhow::Result<ExitCode> {
    let by_path = args.plugin.contains(std::path::MAIN_SEPARATOR)
        || agent_host::is_plugin_file_name(&args.plugin) && Path::new(&args.plugin).exists();
    let library = if by_path {
        PluginLibrary::open(&args.plugin).map_err(|error| HostError::PluginRefused {
            path: args.plugin.clone().into(),
            reason: error.to_string(),
        })?
    } else {
        host.plugin(&args.plugin)?.clone()
    };
    let meta = library.metadata();
    println!("name:         {}", meta.name);
    println!("version:      {}", meta.version);
    println!(
        "api version:  {} (host: {})",
        meta.api_version,
        agent_plugin_api::API_VERSION
    );
    println!("path:         {}", library.path().display());
    if !meta.description.is_empty() {
        println!("description:  {}", meta.description);
    }
    if !meta.options_help.is_empty() {
        println!("options ([backends.{}] or --option key=value):", meta.name);
        for line in meta.options_help.lines() {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
