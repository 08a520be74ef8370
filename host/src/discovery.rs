//! Where plugin files are looked for, in order, and which files count.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// `:`-separated plugin directories from the environment.
pub const PLUGIN_PATH_ENV: &str = "AGENT_HOST_PLUGIN_PATH";

/// Whether a file name looks like this platform's dynamic library.
pub fn is_plugin_file_name(name: &str) -> bool {
    if cfg!(target_os = "windows") {
        name.ends_with(".dll")
    } else if cfg!(target_os = "macos") {
        name.starts_with("lib") && name.ends_with(".dylib")
    } else {
        name.starts_with("lib") && name.ends_with(".so")
    }
}

/// A directory to search, and whether its absence is worth a warning.
#[derive(Debug, Clone)]
pub(crate) struct SearchDir {
    pub path: PathBuf,
    pub explicit: bool,
}

/// Directories from `$AGENT_HOST_PLUGIN_PATH`.
pub(crate) fn env_dirs() -> Vec<PathBuf> {
    std::env::var_os(PLUGIN_PATH_ENV)
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|dir| !dir.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `plugins/` beside the running executable.
pub(crate) fn exe_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("plugins"))
}

/// Every plugin file in `dirs`, in order (each directory's files by name), each file once.
/// Directories that cannot be read are reported in `warnings` when they were asked for.
pub(crate) fn candidates(dirs: &[SearchDir], warnings: &mut Vec<String>) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(&dir.path) {
            Ok(entries) => entries,
            Err(error) => {
                if dir.explicit {
                    warnings.push(format!("plugin directory {}: {error}", dir.path.display()));
                }
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_str().is_some_and(is_plugin_file_name))
            // Not only regular files: a directory, FIFO or device named like a plugin is
            // listed as refused (opening it never blocks), not silently skipped.
            .map(|entry| entry.path())
            .collect();
        files.sort();
        for file in files {
            if seen.insert(identity(&file)) {
                found.push(file);
            }
        }
    }
    found
}

fn identity(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert!(is_plugin_file_name("libagent_plugin_mock.so"));
        assert!(!is_plugin_file_name("agent_plugin_mock.so"));
        assert!(!is_plugin_file_name("libagent_plugin_mock.so.txt"));
        assert!(!is_plugin_file_name("README.md"));
    }

    #[test]
    fn finds_files_in_order_once() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        for name in ["libb.so", "liba.so", "notes.txt"] {
            std::fs::write(first.path().join(name), b"").unwrap();
        }
        std::fs::write(second.path().join("libc.so"), b"").unwrap();
        let dirs = [
            SearchDir {
                path: first.path().to_owned(),
                explicit: true,
            },
            SearchDir {
                path: second.path().to_owned(),
                explicit: true,
            },
            SearchDir {
                path: first.path().to_owned(),
                explicit: true,
            },
            SearchDir {
                path: "/nonexistent/dir".into(),
                explicit: true,
            },
        ];
        let mut warnings = Vec::new();
        let found = candidates(&dirs, &mut warnings);
        let names: Vec<_> = found
            .iter()
            .map(|path| path.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["liba.so", "libb.so", "libc.so"]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("/nonexistent/dir"));
    }
}
