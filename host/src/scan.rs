//! Loading a plugin where a crash cannot hurt: in a child process (GStreamer's plugin
//! scanner is the model).
//!
//! Listing commands want the full verdict on every file (api version, layout, whether
//! its constructor accepts the options), which means running its code. The parent hands
//! the already opened and checked file to a child `agent-host` as its stdin; the child
//! loads it from there (the same file, not the path again), builds one runtime, and
//! prints a JSON report. A child that dies by a signal, or gives no answer within
//! [`SCAN_TIMEOUT`], makes the file refused, and the listing goes on.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use agent_plugin_api::host::{PluginFile, PluginLibrary, PluginMetadata};
use serde::{Deserialize, Serialize};

/// The hidden subcommand of `agent-host` that runs the child side.
pub const SCAN_SUBCOMMAND: &str = "__scan-plugin";
/// How long a child may take to load a plugin and build a runtime.
pub const SCAN_TIMEOUT: Duration = Duration::from_secs(20);

/// What loading a file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It loaded; `constructor` says whether it built a runtime from the options.
    Loaded {
        metadata: PluginMetadata,
        constructor: Result<(), String>,
    },
    /// Loading refused it, with the reason.
    Refused(String),
    /// The child died while loading it (a signal, or an exit without a report).
    Crashed(String),
    /// The child gave no answer in time and was killed.
    Hung(Duration),
}

impl Verdict {
    pub(crate) fn loaded_here(library: &PluginLibrary) -> Verdict {
        Verdict::Loaded {
            metadata: library.metadata().clone(),
            constructor: Ok(()),
        }
    }

    pub fn is_loadable(&self) -> bool {
        matches!(self, Verdict::Loaded { .. })
    }

    pub fn status_text(&self) -> String {
        match self {
            Verdict::Loaded {
                constructor: Ok(()),
                ..
            } => "loaded".to_owned(),
            Verdict::Loaded {
                constructor: Err(error),
                ..
            } => format!("loads, but its constructor refuses the options: {error}"),
            Verdict::Refused(reason) => format!("refused: {reason}"),
            Verdict::Crashed(how) => format!("refused: crashed while loading ({how})"),
            Verdict::Hung(after) => format!(
                "refused: hung while loading (no answer in {} s)",
                after.as_secs()
            ),
        }
    }
}

/// The child's report on stdout.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    /// Why loading refused the file; or else what it loaded.
    refused: Option<String>,
    metadata: Option<PluginMetadata>,
    constructor_error: Option<String>,
}

/// Reads a child's pipe to its end on a thread of its own, so neither pipe can fill up
/// and stall the child while the parent waits for it.
fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Parent side: loads `file` in a child `scanner` process.
pub(crate) fn verify(scanner: &Path, file: &PluginFile, options: &serde_json::Value) -> Verdict {
    let stdin = match file.file().try_clone() {
        Ok(stdin) => stdin,
        Err(error) => return Verdict::Refused(format!("cannot hand the file to a child: {error}")),
    };
    let child = Command::new(scanner)
        .arg(SCAN_SUBCOMMAND)
        .arg(file.path())
        .arg(options.to_string())
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            return Verdict::Refused(format!(
                "cannot start the plugin scanner {}: {error}",
                scanner.display()
            ))
        }
    };
    let reader = read_all(child.stdout.take().expect("stdout is piped"));
    let error_reader = read_all(child.stderr.take().expect("stderr is piped"));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > SCAN_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Verdict::Hung(SCAN_TIMEOUT);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(error) => return Verdict::Refused(format!("cannot wait for the scanner: {error}")),
        }
    };
    let output = reader.join().unwrap_or_default();
    let errors = error_reader.join().unwrap_or_default();
    if let Some(signal) = status.signal() {
        tracing::debug!(path = %file.path().display(), "scanner stderr:\n{errors}");
        return Verdict::Crashed(crate::exit_status::signal_name(signal));
    }
    match serde_json::from_str::<Report>(output.trim()) {
        Ok(Report {
            refused: Some(reason),
            ..
        }) => Verdict::Refused(reason),
        Ok(Report {
            metadata: Some(metadata),
            constructor_error,
            ..
        }) => Verdict::Loaded {
            metadata,
            constructor: constructor_error.map_or(Ok(()), Err),
        },
        _ => {
            let last = errors.lines().last().unwrap_or("").trim().to_owned();
            let code = status.code().unwrap_or(-1);
            Verdict::Crashed(if last.is_empty() {
                format!("exit status {code}")
            } else {
                format!("exit status {code}: {last}")
            })
        }
    }
}

/// Child side, run by `agent-host __scan-plugin PATH OPTIONS_JSON` with the plugin file
/// as stdin: loads it, builds a runtime from the options, prints the report.
pub fn scanner_child(path: &Path, options_json: &str) -> ExitCode {
    // A plugin that hangs while loading must not outlive the host that asked (a
    // SIGTERM'd `agent-host plugins` left its scanner running): die with the parent.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    if rustix::process::getppid().is_none_or(|parent| parent.as_raw_nonzero().get() == 1) {
        return ExitCode::FAILURE;
    }
    let report = examine_stdin(path, options_json);
    match serde_json::to_string(&report) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(_) => ExitCode::FAILURE,
    }
}

fn examine_stdin(path: &Path, options_json: &str) -> Report {
    use std::os::fd::AsFd;
    let refused = |reason: String| Report {
        refused: Some(reason),
        metadata: None,
        constructor_error: None,
    };
    let stdin = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(file) => file,
        Err(error) => return refused(format!("scanner: no plugin file on stdin: {error}")),
    };
    let library = match PluginFile::from_file(stdin.into(), path).and_then(PluginFile::load) {
        Ok(library) => library,
        Err(error) => return refused(error.reason()),
    };
    let options: serde_json::Value =
        serde_json::from_str(options_json).unwrap_or(serde_json::Value::Object(Default::default()));
    Report {
        refused: None,
        constructor_error: library
            .new_runtime(&options)
            .err()
            .map(|error| error.to_string()),
        metadata: Some(library.metadata().clone()),
    }
}
