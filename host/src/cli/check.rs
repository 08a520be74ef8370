use std::path::PathBuf;
use std::process::ExitCode;

use agent_conformance::{case_names, run_all, run_selected, Target};
use agent_host::{Host, HostError};
use agent_plugin_api::types::Content;

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

/// Checks the file as the host would (trust rules, pins), loads it in a child process
/// first (a crash there is a refusal), then in this process, and runs the conformance kit
/// on fresh runtimes of it. Exit 0 when nothing failed or crashed.
pub async fn run(host: &Host, args: Args) -> anyhow::Result<ExitCode> {
    let options = serde_json::Value::Object(super::options_map(&args.options)?);
    let candidate = host.examine_file(&args.path);
    let refused = |reason: String| HostError::PluginRefused {
        name: candidate.name().map(str::to_owned),
        path: args.path.clone(),
        reason,
    };
    if !candidate.is_usable() {
        return Err(refused(candidate.status_text()).into());
    }
    let verdict = host.verify_with_options(&candidate, &super::scanner()?, &options);
    if !verdict.is_loadable() {
        return Err(refused(verdict.status_text()).into());
    }
    let library = candidate
        .library()
        .map_err(|reason| refused(format!("refused: {reason}")))?
        .clone();
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
