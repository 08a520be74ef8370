//! Why a plugin file could not be loaded, in one line that names the file.

use std::path::{Path, PathBuf};

use semver::Version;

/// The symbol every plugin exports first: a C function returning the NUL-terminated
/// `agent-plugin-api` version it was built with. It never changes shape, so the host
/// can refuse an incompatible plugin before reading anything else.
pub const HANDSHAKE_SYMBOL: &str = "agent_plugin_api_version";

/// Why a file could not be loaded as a plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: not a loadable library: {reason}")]
    NotALibrary { path: PathBuf, reason: String },
    #[error("{path}: not an agent-host plugin (no `{HANDSHAKE_SYMBOL}` symbol; was it built with agent_plugin_api::export_plugin!?)")]
    NoHandshake { path: PathBuf },
    #[error("{path}: reports an api version that is not semver: {text:?}")]
    BadApiVersion { path: PathBuf, text: String },
    #[error(
        "{path}: built against agent-plugin-api {plugin}, but this host uses {host}; {}",
        crate::version::incompatibility_advice(plugin, host)
    )]
    IncompatibleApi {
        path: PathBuf,
        plugin: Version,
        host: Version,
    },
    #[error("{path}: no root module: {reason}")]
    NoRootModule { path: PathBuf, reason: String },
    #[error("{path}: layout mismatch with this host's agent-plugin-api: {summary}")]
    LayoutMismatch {
        path: PathBuf,
        summary: String,
        /// abi_stable's full report, tens of kilobytes: for debug logs.
        details: String,
    },
    #[error("{path}: {reason}")]
    Other { path: PathBuf, reason: String },
}

impl LoadError {
    /// The same error about `path` (loading goes through `/proc/self/fd/N`, which is no
    /// name to show a user).
    pub(crate) fn with_path(mut self, path: &Path) -> LoadError {
        *self.path_mut() = path.to_owned();
        self
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::NotALibrary { path, .. }
            | LoadError::NoHandshake { path }
            | LoadError::BadApiVersion { path, .. }
            | LoadError::IncompatibleApi { path, .. }
            | LoadError::NoRootModule { path, .. }
            | LoadError::LayoutMismatch { path, .. }
            | LoadError::Other { path, .. } => path,
        }
    }

    fn path_mut(&mut self) -> &mut PathBuf {
        match self {
            LoadError::NotALibrary { path, .. }
            | LoadError::NoHandshake { path }
            | LoadError::BadApiVersion { path, .. }
            | LoadError::IncompatibleApi { path, .. }
            | LoadError::NoRootModule { path, .. }
            | LoadError::LayoutMismatch { path, .. }
            | LoadError::Other { path, .. } => path,
        }
    }

    /// What is wrong, without the path (for tables that show the path beside it).
    pub fn reason(&self) -> String {
        let text = self.to_string();
        let path = self.path().display().to_string();
        let text = text
            .strip_prefix(&format!("{path}: "))
            .map(str::to_owned)
            .unwrap_or(text);
        // dlopen repeats the path (or the /proc/self/fd name) in its own message.
        let text = text.replace(&format!("{path}: "), "");
        strip_fd_names(&text)
    }
}

/// `/proc/self/fd/7: cannot open shared object...` -> `cannot open shared object...`.
fn strip_fd_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("/proc/self/fd/") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "/proc/self/fd/".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        rest = after[digits..]
            .strip_prefix(": ")
            .unwrap_or(&after[digits..]);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_drop_the_path_and_fd_names() {
        let error = LoadError::NotALibrary {
            path: "/p/libx.so".into(),
            reason: "/proc/self/fd/12: undefined symbol: foo".to_owned(),
        };
        assert_eq!(
            error.reason(),
            "not a loadable library: undefined symbol: foo"
        );
    }
}
