use std::path::PathBuf;

/// What can go wrong between a config file and a running backend. Each message names
/// the file, field, plugin or version at fault.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("config file {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error(
        "no backend selected: pass --backend or set `backend` in the config; {}",
        available_text(available)
    )]
    NoBackendSelected { available: Vec<String> },
    #[error("unknown backend {name:?}; {}{}", available_text(available), refused_text(*refused))]
    UnknownBackend {
        name: String,
        available: Vec<String>,
        /// Files refused before they could say which plugin they are.
        refused: usize,
    },
    #[error("two plugins are named {name:?}: {}; pin one with [plugins.{name}] path = \"...\" in the config", join_paths(paths))]
    DuplicatePlugin { name: String, paths: Vec<PathBuf> },
    #[error("{}{reason} ({})", name.as_ref().map(|name| format!("plugin {name:?} ")).unwrap_or_default(), path.display())]
    PluginRefused {
        name: Option<String>,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "plugin {name:?} is configured with isolation = \"process\", so it is not loaded into \
         this process: start it with Host::start_runtime"
    )]
    Isolated { name: String },
    #[error("isolation = \"process\" needs the agent-host executable: {reason}")]
    NoServeExecutable { reason: String },
    /// The plugin refused: its error says why (shown in full, not as a cause chain).
    #[error("backend {backend:?}: {error}")]
    Runtime {
        backend: String,
        error: agent_plugin_api::types::Error,
    },
}

fn available_text(available: &[String]) -> String {
    if available.is_empty() {
        "no plugins were loaded (see `agent-host plugins`)".to_owned()
    } else {
        format!("available: {}", available.join(", "))
    }
}

fn refused_text(refused: usize) -> String {
    match refused {
        0 => String::new(),
        1 => "; 1 file was refused (see `agent-host plugins`)".to_owned(),
        n => format!("; {n} files were refused (see `agent-host plugins`)"),
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}
