//! Host side: open a plugin file, shake hands, check its layout, read its root module.

use std::ffi::{c_char, CStr};
use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError};
use semver::Version;

use super::root_module::PluginModuleRef;
use crate::version::{api_version, is_compatible};

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
    #[error("{path}: built against agent-plugin-api {plugin}, but this host uses {host}; rebuild the plugin against agent-plugin-api {host}")]
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

/// Opens `path` and returns its checked root module.
///
/// The library is never unloaded: abi_stable keeps it for the life of the process.
pub(crate) fn open(path: &Path) -> Result<PluginModuleRef, LoadError> {
    let plugin_api = handshake(path)?;
    let host = api_version();
    if !is_compatible(&plugin_api, &host) {
        return Err(LoadError::IncompatibleApi {
            path: path.to_owned(),
            plugin: plugin_api,
            host,
        });
    }
    // Not `RootModule::load_from_file`: it caches one module per type and process, so a
    // second plugin file would silently get the first one's module.
    let header = lib_header_from_path(path).map_err(|error| library_error(path, error))?;
    header
        .init_root_module::<PluginModuleRef>()
        .map_err(|error| library_error(path, error))
}

fn handshake(path: &Path) -> Result<Version, LoadError> {
    // SAFETY: loading runs the library's initializers. Candidates come from the plugin
    // directories the user configured, which is the trust boundary of a plugin host.
    let library =
        unsafe { libloading::Library::new(path) }.map_err(|error| LoadError::NotALibrary {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
    // SAFETY: the symbol is declared by `export_plugin!` with exactly this signature.
    let version_fn =
        unsafe { library.get::<extern "C" fn() -> *const c_char>(HANDSHAKE_SYMBOL.as_bytes()) }
            .map_err(|_| LoadError::NoHandshake {
                path: path.to_owned(),
            })?;
    let pointer = version_fn();
    let text = if pointer.is_null() {
        String::new()
    } else {
        // SAFETY: `export_plugin!` returns a pointer to a NUL-terminated static string.
        unsafe { CStr::from_ptr(pointer) }
            .to_string_lossy()
            .into_owned()
    };
    // Never unloaded: unloading a Rust library that has run code is not sound in general.
    std::mem::forget(library);
    Version::parse(&text).map_err(|_| LoadError::BadApiVersion {
        path: path.to_owned(),
        text,
    })
}

fn library_error(path: &Path, error: LibraryError) -> LoadError {
    let path = path.to_owned();
    match error {
        LibraryError::OpenError { err, .. } => LoadError::NotALibrary {
            path,
            reason: err.to_string(),
        },
        LibraryError::GetSymbolError { err, .. } => LoadError::NoRootModule {
            path,
            reason: err.to_string(),
        },
        LibraryError::AbiInstability(report) => {
            let details = report.to_string();
            LoadError::LayoutMismatch {
                summary: summarize_layout_report(&details),
                path,
                details,
            }
        }
        other => LoadError::Other {
            path,
            reason: other.to_string(),
        },
    }
}

/// abi_stable's report runs to about 36 KB; its last lines name the mismatch.
fn summarize_layout_report(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    format!(
        "{tail} ({} lines of layout report at debug level)",
        lines.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_not_a_library() {
        let Err(error) = open(Path::new("/nonexistent/libnothing.so")) else {
            panic!("a missing file loaded")
        };
        assert!(matches!(error, LoadError::NotALibrary { .. }), "{error}");
        assert!(error.to_string().contains("/nonexistent/libnothing.so"));
    }

    #[test]
    fn a_junk_file_is_not_a_library() {
        let path = std::env::temp_dir().join(format!("libjunk-{}.so", std::process::id()));
        std::fs::write(&path, b"this is not an ELF file").unwrap();
        let Err(error) = open(&path) else {
            panic!("a junk file loaded")
        };
        std::fs::remove_file(&path).ok();
        assert!(matches!(error, LoadError::NotALibrary { .. }), "{error}");
    }

    #[test]
    fn layout_reports_are_summarized() {
        let report = (0..500).map(|i| format!("line {i}\n")).collect::<String>();
        let summary = summarize_layout_report(&report);
        assert!(summary.starts_with("line 497 / line 498 / line 499"));
        assert!(summary.len() < 120);
    }
}
