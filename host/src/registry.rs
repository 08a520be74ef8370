//! Every candidate file the host looked at, and what became of it.

use std::path::{Path, PathBuf};

use agent_plugin_api::{LoadError, PluginLibrary};

use crate::config::PluginPin;
use crate::digest::sha256_hex;

/// One file found in a plugin directory (or pinned in the config).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    pub status: CandidateStatus,
}

#[derive(Debug, Clone)]
pub enum CandidateStatus {
    /// Loaded and usable by name.
    Loaded(PluginLibrary),
    /// Not loaded; the reason says what is wrong with the file.
    Refused(String),
    /// Loaded, but another file has the same plugin name and no pin decides.
    Duplicate {
        library: PluginLibrary,
        others: Vec<PathBuf>,
    },
    /// Loaded, but the config pins another file for this plugin name.
    Shadowed {
        library: PluginLibrary,
        pinned: PathBuf,
    },
}

impl Candidate {
    /// The library, whatever its status, if it loaded.
    pub fn library(&self) -> Option<&PluginLibrary> {
        match &self.status {
            CandidateStatus::Loaded(library)
            | CandidateStatus::Duplicate { library, .. }
            | CandidateStatus::Shadowed { library, .. } => Some(library),
            CandidateStatus::Refused(_) => None,
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.library()
            .map(|library| library.metadata().name.as_str())
    }

    /// One line for the `plugins` table.
    pub fn status_text(&self) -> String {
        match &self.status {
            CandidateStatus::Loaded(_) => "loaded".to_owned(),
            CandidateStatus::Refused(reason) => format!("refused: {reason}"),
            CandidateStatus::Duplicate { others, .. } => format!(
                "duplicate name, also in {}",
                others
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CandidateStatus::Shadowed { pinned, .. } => {
                format!("unused: the config pins {}", pinned.display())
            }
        }
    }
}

/// Loads one file; a digest, when pinned, is checked before the library runs any code.
pub(crate) fn load(path: &Path, digest: Option<&str>) -> Candidate {
    let status = match digest.map(|expected| check_digest(path, expected)) {
        Some(Err(reason)) => CandidateStatus::Refused(reason),
        _ => match PluginLibrary::open(path) {
            Ok(library) => CandidateStatus::Loaded(library),
            Err(error) => {
                if let LoadError::LayoutMismatch { details, .. } = &error {
                    tracing::debug!(path = %path.display(), "layout report:\n{details}");
                }
                CandidateStatus::Refused(refusal_reason(&error))
            }
        },
    };
    Candidate {
        path: path.to_owned(),
        status,
    }
}

/// The error without the path (the table shows the path in its own column).
fn refusal_reason(error: &LoadError) -> String {
    let text = error.to_string();
    let path = match error {
        LoadError::NotALibrary { path, .. }
        | LoadError::NoHandshake { path }
        | LoadError::BadApiVersion { path, .. }
        | LoadError::IncompatibleApi { path, .. }
        | LoadError::NoRootModule { path, .. }
        | LoadError::LayoutMismatch { path, .. }
        | LoadError::Other { path, .. } => path.display().to_string(),
    };
    let text = text
        .strip_prefix(&format!("{path}: "))
        .map(str::to_owned)
        .unwrap_or(text);
    // dlopen repeats the path in its own message.
    text.replace(&format!("{path}: "), "")
}

pub(crate) fn check_digest(path: &Path, expected: &str) -> Result<(), String> {
    let actual = sha256_hex(path).map_err(|error| format!("cannot read for sha256: {error}"))?;
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(format!(
            "sha256 mismatch: the config expects {expected}, the file has {actual}"
        ))
    }
}

/// Applies pins and duplicate detection to freshly loaded candidates.
pub(crate) fn resolve_names(
    candidates: &mut [Candidate],
    pins: &std::collections::BTreeMap<String, PluginPin>,
) {
    for candidate in candidates.iter_mut() {
        let CandidateStatus::Loaded(library) = &candidate.status else {
            continue;
        };
        let Some(pin) = pins.get(&library.metadata().name) else {
            continue;
        };
        if let Some(pinned) = &pin.path {
            if !same_file(pinned, &candidate.path) {
                candidate.status = CandidateStatus::Shadowed {
                    library: library.clone(),
                    pinned: pinned.clone(),
                };
                continue;
            }
        } else if let Some(expected) = &pin.sha256 {
            if let Err(reason) = check_digest(&candidate.path, expected) {
                candidate.status = CandidateStatus::Refused(reason);
            }
        }
    }
    let loaded: Vec<(usize, String, PathBuf)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(index, candidate)| match &candidate.status {
            CandidateStatus::Loaded(library) => Some((
                index,
                library.metadata().name.clone(),
                candidate.path.clone(),
            )),
            _ => None,
        })
        .collect();
    for (index, name, path) in &loaded {
        let others: Vec<PathBuf> = loaded
            .iter()
            .filter(|(other, other_name, _)| other != index && other_name == name)
            .map(|(_, _, other_path)| other_path.clone())
            .collect();
        if others.is_empty() {
            continue;
        }
        if let CandidateStatus::Loaded(library) = &candidates[*index].status {
            let library = library.clone();
            debug_assert_eq!(&candidates[*index].path, path);
            candidates[*index].status = CandidateStatus::Duplicate { library, others };
        }
    }
}

pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
