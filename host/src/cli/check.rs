use std::path::PathBuf;
use std::process::ExitCode;

use agent_conformance::{case_names, run_all, run_selected, Target};
use agent_host::HostError;
use agent_plugin_api::{Content, PluginLibrary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin library file to check.
    path: PathBuf,
    /// A backend option, `key=value`, for every runtime the checks create.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// A message the backend fails on, to check that a failed turn changes nothing.
    #[arg(long, value_name = "MESSAGE")]
    failing_prompt: Option<String>,
    /// Run only this case, or every case under this prefix (e.g. `chat`).
    #[arg(long)]
    case: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Loads the file as the host would, then runs the conformance kit on fresh runtimes of
/// it. Exit 0 when nothing failed or crashed.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let library = PluginLibrary::open(&args.path).map_err(|error| HostError::PluginRefused {
        path: args.path.clone(),
        reason: error.to_string(),
    })?;
    let options = serde_json::Value::Object(super::options_map(&args.options)?);
    // Refuse bad options up front, with the plugin's own message, not once per case.
    library
        .new_runtime(&options)
        .map_err(|error| HostError::Runtime {
            backend: library.metadata().name.clone(),
            error,
        })?;
    let target = Target::from_library(library, options)
        .with_failing_prompt(args.failing_prompt.map(Content::text));
    let report = match &args.case {
        None => run_all(&target).await,
        Some(filter) => {
            let prefix = format!("{filter}.");
            let selected = |name: &str| name == filter || name.starts_with(&prefix);
            if !case_names().into_iter().any(selected) {
                anyhow::bail!(
                    "no case matches {filter:?}; the cases are: {}",
                    case_names().join(", ")
                );
            }
            run_selected(&target, selected).await
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
