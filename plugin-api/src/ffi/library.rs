//! Host side: load an opened plugin file, shake hands, check its layout, read its root
//! module.

use std::ffi::{c_char, CStr};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use abi_stable::abi_stability::abi_checking;
use abi_stable::library::{lib_header_from_path, LibHeader, LibraryError};
use abi_stable::StableAbi;
use semver::Version;

use super::root_module::{ImportedModule, PluginModuleRef};
use crate::host::{LoadError, HANDSHAKE_SYMBOL};
use crate::version::{api_version, is_compatible};

/// Files loaded so far. Each stays open for the life of the process: the dynamic linker
/// knows a library by the name it was opened under (`/proc/self/fd/N`), so the number
/// must never be reused for another file while the library is loaded, which is forever.
static LOADED_FILES: Mutex<Vec<LoadedFile>> = Mutex::new(Vec::new());

struct LoadedFile {
    /// Device and inode: the same file opened again loads through the first descriptor.
    id: (u64, u64),
    file: File,
}

/// Loads the already opened and validated `file` (see [`PluginFile`](crate::PluginFile))
/// and returns its checked root module; `path` is for messages only.
///
/// The library is loaded through `/proc/self/fd/N`, so what loads is the file that was
/// checked, even if its path now names another. It is never unloaded.
pub(crate) fn open(file: File, path: &Path) -> Result<ImportedModule, LoadError> {
    let by_fd = keep_open(file).map_err(|reason| LoadError::Other {
        path: path.to_owned(),
        reason,
    })?;
    let named = |error: LoadError| error.with_path(path);
    let plugin_api = handshake(&by_fd).map_err(named)?;
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
    let header = lib_header_from_path(&by_fd).map_err(|error| library_error(path, error))?;
    check_layout(header, path)?;
    // SAFETY: `check_layout` has just checked the module's layout, as the plugin built it,
    // against this host's.
    unsafe { header.init_root_module_with_unchecked_layout::<PluginModuleRef>() }
        .map(ImportedModule::new)
        .map_err(|error| library_error(path, error))
}

/// Checks that the plugin's types are this host's, or a prefix of them: every vtable
/// and module the plugin has is the host's up to its last method, and the host may know
/// methods after it (added later in the series), for which it has defaults.
///
/// abi_stable's own check (`init_root_module`) takes the loading side as the older one
/// and refuses a vtable with fewer methods than the host's, so a plugin built before a
/// method was added could never load in a newer host. The check is the same, with the
/// roles the other way round: the plugin is the interface, the host the implementation
/// that may have grown. A plugin newer than the host is refused by the version rule first.
fn check_layout(header: &LibHeader, path: &Path) -> Result<(), LoadError> {
    let plugin = header.layout().ok_or_else(|| LoadError::NoRootModule {
        path: path.to_owned(),
        reason: "the root module carries no layout to check".to_owned(),
    })?;
    abi_checking::check_layout_compatibility(plugin, <PluginModuleRef as StableAbi>::LAYOUT)
        .map_err(|errors| {
            let details = errors.to_string();
            LoadError::LayoutMismatch {
                path: path.to_owned(),
                summary: summarize_layout_report(&details),
                details,
            }
        })
}

fn handshake(path: &Path) -> Result<Version, LoadError> {
    // SAFETY: loading runs the library's initializers. The file was validated as a whole
    // shared object for this machine first (a truncated one would fault inside the
    // dynamic linker), and the host applied its trust rules to it: running its code is
    // what loading a plugin means.
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

/// Registers `file` for good and returns the name to load it by.
fn keep_open(file: File) -> Result<PathBuf, String> {
    let meta = file
        .metadata()
        .map_err(|error| format!("cannot stat the opened file: {error}"))?;
    let id = (meta.dev(), meta.ino());
    let mut loaded = LOADED_FILES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fd = match loaded.iter().find(|known| known.id == id) {
        Some(known) => known.file.as_raw_fd(),
        None => {
            let fd = file.as_raw_fd();
            loaded.push(LoadedFile { id, file });
            fd
        }
    };
    let by_fd = PathBuf::from(format!("/proc/self/fd/{fd}"));
    if by_fd.exists() {
        Ok(by_fd)
    } else {
        Err("cannot load from the opened file: /proc is not mounted".to_owned())
    }
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

    // One module type as api versions see it: the newer one has a method more, the
    // changed one another signature.
    mod older {
        #![allow(dead_code)] // only the layout is used
        #[repr(C)]
        #[derive(abi_stable::StableAbi)]
        #[sabi(kind(Prefix(prefix_ref = ModuleRef)))]
        #[sabi(missing_field(option))]
        pub struct Module {
            #[sabi(last_prefix_field)]
            pub first: extern "C" fn() -> u32,
        }
    }

    mod newer {
        #![allow(dead_code)] // only the layout is used
        #[repr(C)]
        #[derive(abi_stable::StableAbi)]
        #[sabi(kind(Prefix(prefix_ref = ModuleRef)))]
        #[sabi(missing_field(option))]
        pub struct Module {
            #[sabi(last_prefix_field)]
            pub first: extern "C" fn() -> u32,
            pub second: extern "C" fn() -> u32,
        }
    }

    mod changed {
        #![allow(dead_code)] // only the layout is used
        #[repr(C)]
        #[derive(abi_stable::StableAbi)]
        #[sabi(kind(Prefix(prefix_ref = ModuleRef)))]
        #[sabi(missing_field(option))]
        pub struct Module {
            #[sabi(last_prefix_field)]
            pub first: extern "C" fn() -> u64,
        }
    }

    #[test]
    fn an_older_plugin_checks_as_the_interface_of_a_newer_host() {
        let older = <older::ModuleRef as StableAbi>::LAYOUT;
        let newer = <newer::ModuleRef as StableAbi>::LAYOUT;
        // The way `check_layout` asks: the plugin's (older) against the host's (newer).
        assert!(abi_checking::check_layout_compatibility(older, newer).is_ok());
        // abi_stable's own way for a loader refuses it: the host has more methods.
        assert!(abi_checking::check_layout_compatibility(newer, older).is_err());
        // A method whose signature changed is refused either way.
        let changed = <changed::ModuleRef as StableAbi>::LAYOUT;
        assert!(abi_checking::check_layout_compatibility(changed, older).is_err());
        assert!(abi_checking::check_layout_compatibility(older, changed).is_err());
    }

    #[test]
    fn layout_reports_are_summarized() {
        let report = (0..500).map(|i| format!("line {i}\n")).collect::<String>();
        let summary = summarize_layout_report(&report);
        assert!(summary.starts_with("line 497 / line 498 / line 499"));
        assert!(summary.len() < 120);
    }
}
