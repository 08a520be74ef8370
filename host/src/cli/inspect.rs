use std::path::Path;
use std::process::ExitCode;

use agent_host::{Candidate, Host, HostError, Verdict};
use agent_plugin_api::host::PluginMetadata;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plugin name (as listed by `agent-host plugins`) or a path to a library file.
    plugin: String,
}

/// Shows what a plugin says about itself (its metadata record, then what loading it in a
/// child process showed), the plugin's own options, and the host's settings for it.
pub fn run(host: &Host, args: Args) -> anyhow::Result<ExitCode> {
    let by_path = args.plugin.contains(std::path::MAIN_SEPARATOR)
        || agent_host::is_plugin_file_name(&args.plugin) && Path::new(&args.plugin).exists();
    let examined;
    let candidate: &Candidate = if by_path {
        examined = host.examine_file(Path::new(&args.plugin));
        &examined
    } else {
        host.candidate(&args.plugin)?
    };
    if let agent_host::CandidateStatus::Refused(reason) = &candidate.status {
        return Err(HostError::PluginRefused {
            name: candidate.name().map(str::to_owned),
            path: candidate.path.clone(),
            reason: format!("refused: {reason}"),
        }
        .into());
    }
    let verdict = host.verify(candidate, &super::scanner()?);
    let meta = match verdict {
        Verdict::Loaded { metadata, .. } => metadata,
        _ => candidate.metadata().ok_or_else(|| {
            anyhow::anyhow!("{}: {}", candidate.path.display(), verdict.status_text())
        })?,
    };
    println!("name:         {}", meta.name);
    println!("version:      {}", meta.version);
    println!(
        "api version:  {} (host: {})",
        meta.api_version,
        agent_plugin_api::host::API_VERSION
    );
    println!("path:         {}", candidate.path.display());
    println!("status:       {}", candidate.status_text());
    if !meta.description.is_empty() {
        println!("description:  {}", meta.description);
    }
    print_options(meta);
    if !meta.path_options.is_empty() {
        println!(
            "  (paths, relative ones resolved against the config file: {})",
            meta.path_options.join(", ")
        );
    }
    println!("host settings ([plugins.{}]):", meta.name);
    let pin = host.config().plugins.get(&meta.name);
    let setting = |value: Option<String>| value.unwrap_or_else(|| "(not set)".to_owned());
    println!(
        "  path = {}",
        setting(
            pin.and_then(|pin| pin.path.as_ref())
                .map(|path| path.display().to_string())
        )
    );
    println!(
        "  sha256 = {}",
        setting(pin.and_then(|pin| pin.sha256.clone()))
    );
    println!(
        "  call_timeout_ms = {}",
        setting(
            pin.and_then(|pin| pin.call_timeout_ms)
                .map(|ms| ms.to_string())
        )
    );
    Ok(if verdict.is_loadable() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The options from the plugin's schema (api 0.2.3), one entry each: type, range and
/// default on the first line, help under it; then the plugin's notes. A plugin built
/// before 0.2.3 has only its notes (free text).
fn print_options(meta: &PluginMetadata) {
    let options = meta
        .options_schema
        .as_ref()
        .map(|schema| schema.options())
        .unwrap_or_default();
    if options.is_empty() && meta.options_help.is_empty() {
        if meta.options_schema.is_some() {
            println!("options:      none");
        }
        return;
    }
    println!(
        "options, the plugin's own ([backends.{}] or --option key=value):",
        meta.name
    );
    for option in &options {
        let mut summary = option.kind.clone();
        if let Some(range) = &option.range {
            summary.push_str(&format!(", {range}"));
        }
        if option.required {
            summary.push_str(" (required)");
        } else if let Some(default) = &option.default {
            if default.is_null() {
                summary.push_str(" (unset by default)");
            } else {
                summary.push_str(&format!(" (default {default})"));
            }
        }
        println!("  {} = {summary}", option.name);
        if !option.help.is_empty() {
            println!("      {}", option.help);
        }
    }
    for line in meta.options_help.lines() {
        println!("  {line}");
    }
}
