//! `agent-host check`: the conformance kit on one plugin file, each case in a child
//! process of its own unless `--in-process`.

mod in_child;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use agent_conformance::{case_names, cases, run_case, run_selected, Report, Target};
use agent_host::{Host, HostError};
use agent_plugin_api::host::PluginLibrary;
use agent_plugin_api::types::Content;
use agent_plugin_api::Runtime;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin library file to check.
    #[arg(required_unless_present = "backend")]
    path: Option<PathBuf>,
    /// Check the backend the config names, run as the config says (in-process, in child
    /// processes, a `command`, or a `url`), instead of a file.
    #[arg(long, value_name = "NAME", conflicts_with = "path")]
    backend: Option<String>,
    /// A backend option, `key=value`, for every runtime the checks create; it replaces
    /// the config's `[backends.<name>]` value of that key.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// A message the backend fails on, to check that a failed turn changes nothing.
    #[arg(long, value_name = "MESSAGE")]
    failing_prompt: Option<String>,
    /// The message whose answer must take well over 100 ms (default: about sixty words
    /// the backend is asked to answer; see docs/semantics.md, "The conformance kit").
    #[arg(long, value_name = "MESSAGE")]
    long_prompt: Option<String>,
    /// How long one check may take, e.g. `60s` or `2m` (default 20s). A backend that
    /// streams from a real model needs more.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Run only this case, or every case under this prefix (e.g. `chat`).
    #[arg(long)]
    case: Option<String>,
    /// Leave out this case, or every case under this prefix; repeatable.
    #[arg(long, value_name = "CASE")]
    exclude: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Run every case in this process, not each in a child process of its own: faster,
    /// but a plugin that crashes ends the whole run with no report.
    #[arg(long)]
    in_process: bool,
    /// A child's way in (not for users): run this one case in-process and print its
    /// report as one line of JSON.
    #[arg(long, hide = true, value_name = "CASE", conflicts_with = "in_process")]
    case_child: Option<String>,
}

/// `name` is `filter` or under it (`chat` covers `chat.drop_cancels`).
fn matches(name: &str, filter: &str) -> bool {
    name == filter
        || name
            .strip_prefix(filter)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Refuses a filter that names no check, listing the checks.
fn known_filter(filter: &str, flag: &str) -> anyhow::Result<()> {
    if case_names().into_iter().any(|name| matches(name, filter)) {
        Ok(())
    } else {
        anyhow::bail!(
            "{flag} {filter:?} matches no case; the cases are: {}",
            case_names().join(", ")
        )
    }
}

/// Checks the file as the host would (trust rules, pins), loads it in a child process
/// first (a crash there is a refusal), then in this process, and runs the conformance kit
/// on fresh runtimes of it, built as the host builds them: the config's
/// `[backends.<name>]` options (with `--option` on top) and its `[plugins.<name>]`
/// call timeout. Each case runs in a child process of its own (see `in_child`) unless
/// `--in-process`. Exit 0 when nothing failed or crashed.
pub async fn run(host: &Host, args: Args) -> anyhow::Result<ExitCode> {
    for filter in args.case.iter() {
        known_filter(filter, "--case")?;
    }
    for filter in &args.exclude {
        known_filter(filter, "--exclude")?;
    }
    let overrides = super::options_map(&args.options)?;
    let target = match (&args.path, &args.backend) {
        (Some(path), _) => file_target(host, path, overrides, args.case_child.is_some())?,
        (None, Some(name)) => {
            backend_target(host, name, overrides, args.case_child.is_some()).await?
        }
        (None, None) => anyhow::bail!("give a plugin file or --backend NAME"),
    };
    let mut target = target.with_failing_prompt(args.failing_prompt.map(Content::text));
    if let Some(prompt) = args.long_prompt {
        target = target.with_long_prompt(Content::text(prompt));
    }
    if let Some(timeout) = args.timeout {
        target = target.with_check_timeout(timeout);
    }
    let selected = |name: &str| {
        args.case
            .as_deref()
            .is_none_or(|filter| matches(name, filter))
            && !args.exclude.iter().any(|filter| matches(name, filter))
    };
    if let Some(case) = &args.case_child {
        return report_one_case(&target, case).await;
    }
    if !case_names().into_iter().any(selected) {
        anyhow::bail!("--case and --exclude leave no case to run");
    }
    let report = if args.in_process {
        run_selected(&target, selected).await
    } else {
        let mut report = Report {
            target: target.name().to_owned(),
            cases: Vec::new(),
        };
        for case in cases().iter().filter(|case| selected(case.name)) {
            report
                .cases
                .push(in_child::run_case(case, target.check_timeout()).await);
        }
        report
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

/// The plugin in file `path`, checked as `inspect` checks it (the scanner too, unless
/// this is a case's child: its parent ran it on this file moments ago).
fn file_target(
    host: &Host,
    path: &Path,
    overrides: serde_json::Map<String, serde_json::Value>,
    is_case_child: bool,
) -> anyhow::Result<Target> {
    let candidate = host.examine_file(path);
    let refused = |reason: String| HostError::PluginRefused {
        name: candidate.name().map(str::to_owned),
        path: path.to_owned(),
        reason,
    };
    if !candidate.is_usable() {
        return Err(refused(candidate.status_text()).into());
    }
    let (name, path_options) = candidate
        .metadata()
        .map(|meta| (meta.name.clone(), meta.path_options.clone()))
        .unwrap_or_default();
    let mut options = host.config().backend_options(&name, &path_options);
    options.extend(overrides);
    let options = serde_json::Value::Object(options);
    if !is_case_child {
        let verdict = host.verify_with_options(&candidate, &super::scanner()?, &options);
        if !verdict.is_loadable() {
            return Err(refused(verdict.status_text()).into());
        }
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
    let call_timeout = host
        .config()
        .plugins
        .get(&library.metadata().name)
        .and_then(|pin| pin.call_timeout());
    Ok(target(library, options, call_timeout))
}

/// The backend `name` as the config runs it. One runtime is started up front (not in a
/// case's child), so a backend that cannot start says so once, not once per case.
async fn backend_target(
    host: &Host,
    name: &str,
    overrides: serde_json::Map<String, serde_json::Value>,
    is_case_child: bool,
) -> anyhow::Result<Target> {
    let starter = host.runtime_starter(name, overrides)?;
    if !is_case_child {
        let refused = |error| HostError::Runtime {
            backend: name.to_owned(),
            error,
        };
        drop(starter.start().await.map_err(refused)?);
    }
    Ok(Target::new_shared(name, move || {
        let starter = starter.clone();
        async move { starter.start().await }
    }))
}

/// The child's side of `in_child`: one case, its report as a line of JSON on stdout. It
/// ends when its parent closes stdin (the parent was stopped), whatever the case does.
async fn report_one_case(target: &Target, case: &str) -> anyhow::Result<ExitCode> {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(1);
    });
    let report = run_case(target, case)
        .await
        .ok_or_else(|| anyhow::anyhow!("--case-child {case:?}: no such case"))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string(&report)?)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Fresh runtimes of the plugin, each as `Host::runtime` would build it.
fn target(
    library: PluginLibrary,
    options: serde_json::Value,
    call_timeout: Option<Duration>,
) -> Target {
    let name = library.metadata().name.clone();
    let library = Arc::new(library);
    let options = Arc::new(options);
    Target::new_shared(name, move || {
        let built = library
            .new_runtime(&options)
            .map(|runtime| Arc::new(runtime.with_call_timeout(call_timeout)) as Arc<dyn Runtime>);
        std::future::ready(built)
    })
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_filter_is_a_case_or_a_topic() {
        assert!(matches("chat.drop_cancels", "chat"));
        assert!(matches("chat.drop_cancels", "chat.drop_cancels"));
        assert!(!matches("chat.drop_cancels", "chat.drop"));
        assert!(!matches("chatter.x", "chat"));
    }
}
