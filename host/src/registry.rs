//! Every candidate file the host looked at, and what became of it.
//!
//! The loading pipeline, in one place: [`examine`] opens a file once and checks it
//! without running it (complete shared object, trust rules, digest, metadata record,
//! api version); [`resolve_names`] applies pins and finds duplicate names; and
//! [`Candidate::library`] loads a usable candidate, from that same open file, the first
//! time it is asked for. Listing commands verify what loading would do in a child
//! process (see `scan`), so a crash there is a refusal, not the host's end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use agent_plugin_api::host::{is_compatible, LoadError, PluginFile, PluginLibrary, PluginMetadata};

use crate::config::PluginPin;
use crate::digest::sha256_hex;
use crate::scan::Verdict;
use crate::trust;

/// One file found in a plugin directory (or pinned in the config).
#[derive(Debug)]
pub struct Candidate {
    pub path: PathBuf,
    pub status: CandidateStatus,
    /// What its metadata record says, when it could be read.
    metadata: Option<PluginMetadata>,
    /// The open, checked file, until it is loaded.
    file: Mutex<Option<PluginFile>>,
    library: OnceLock<Result<PluginLibrary, String>>,
    verdict: OnceLock<Verdict>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateStatus {
    /// Passed every check that runs none of its code: selectable by name.
    Usable,
    /// Not usable; the reason says what is wrong with the file.
    Refused(String),
    /// Another file has the same plugin name and no pin decides.
    Duplicate { others: Vec<PathBuf> },
    /// The config pins another file for this plugin name.
    Shadowed { pinned: PathBuf },
}

/// What the host does with plugin files besides looking at them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Policy {
    /// Skip the ownership and mode rules (`--allow-insecure-plugins`).
    pub allow_insecure: bool,
}

impl Candidate {
    fn new(path: &Path, status: CandidateStatus) -> Self {
        Candidate {
            path: path.to_owned(),
            status,
            metadata: None,
            file: Mutex::new(None),
            library: OnceLock::new(),
            verdict: OnceLock::new(),
        }
    }

    /// What the file says about itself, read without running it.
    pub fn metadata(&self) -> Option<&PluginMetadata> {
        self.metadata.as_ref()
    }

    pub fn name(&self) -> Option<&str> {
        self.metadata
            .as_ref()
            .map(|metadata| metadata.name.as_str())
    }

    pub fn is_usable(&self) -> bool {
        self.status == CandidateStatus::Usable
    }

    /// Loads the plugin, once; later calls return the same library or the same error.
    pub fn library(&self) -> Result<&PluginLibrary, &str> {
        self.library
            .get_or_init(|| {
                if !self.is_usable() {
                    return Err(self.status_text());
                }
                let file = self
                    .file
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .take()
                    .ok_or_else(|| "the file is no longer open".to_owned())?;
                file.load().map_err(|error| {
                    log_layout_details(&error);
                    error.reason()
                })
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The library, if it was loaded in this process.
    pub fn loaded(&self) -> Option<&PluginLibrary> {
        self.library.get().and_then(|result| result.as_ref().ok())
    }

    /// What a child process found when it loaded the file, if one was asked.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.get()
    }

    /// Loads the file in a child process (`scanner`, see `scan`) and keeps the verdict;
    /// `options` are handed to the plugin's constructor there.
    pub(crate) fn verify(&self, scanner: &Path, options: &serde_json::Value) -> &Verdict {
        self.verdict.get_or_init(|| {
            if let Some(library) = self.loaded() {
                return Verdict::loaded_here(library);
            }
            let file = self
                .file
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match file.as_ref() {
                Some(file) => crate::scan::verify(scanner, file, options),
                None => Verdict::Refused(self.status_text()),
            }
        })
    }

    /// One line for the `plugins` table.
    pub fn status_text(&self) -> String {
        match &self.status {
            CandidateStatus::Usable => match (self.verdict(), self.library.get()) {
                (Some(verdict), _) => verdict.status_text(),
                (None, Some(Ok(_))) => "loaded".to_owned(),
                (None, Some(Err(reason))) => format!("refused: {reason}"),
                (None, None) => "usable (not loaded)".to_owned(),
            },
            CandidateStatus::Refused(reason) => format!("refused: {reason}"),
            CandidateStatus::Duplicate { others } => format!(
                "duplicate name, also in {}",
                others
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CandidateStatus::Shadowed { pinned } => {
                format!("unused: the config pins {}", pinned.display())
            }
        }
    }
}

fn log_layout_details(error: &LoadError) {
    if let LoadError::LayoutMismatch { details, path, .. } = error {
        tracing::debug!(path = %path.display(), "layout report:\n{details}");
    }
}

/// Opens and checks one file without running any of its code: a complete shared object
/// for this machine, the trust rules, the digest the config pins for it, its metadata
/// record and api version.
pub(crate) fn examine(
    path: &Path,
    pins: &BTreeMap<String, PluginPin>,
    policy: Policy,
) -> Candidate {
    let refused = |reason: String| Candidate::new(path, CandidateStatus::Refused(reason));
    let mut file = match PluginFile::open(path) {
        Ok(file) => file,
        Err(error) => return refused(error.reason()),
    };
    // The record is read by parsing, never by running the file: an untrusted file is
    // still named in `plugins`, so the operator knows which one to fix.
    let mut candidate = Candidate::new(path, CandidateStatus::Usable);
    candidate.metadata = file.metadata().ok().cloned();
    if !policy.allow_insecure {
        if let Err(untrusted) = trust::check_file(path, file.file()) {
            candidate.status = CandidateStatus::Refused(untrusted.0);
            return candidate;
        }
    }
    let metadata = match file.metadata() {
        Ok(metadata) => metadata,
        Err(reason) => return refused(format!("cannot tell what plugin it is: {reason}")),
    };
    if let Some(reason) = api_refusal(path, metadata) {
        candidate.status = CandidateStatus::Refused(reason);
        return candidate;
    }
    if let Some((table, expected)) = pinned_digest(pins, path, &metadata.name) {
        let actual = sha256_hex(file.bytes());
        if !actual.eq_ignore_ascii_case(expected) {
            candidate.status = CandidateStatus::Refused(format!(
                "sha256 mismatch: [plugins.{table}] expects {expected}, the file has {actual}"
            ));
            return candidate;
        }
    }
    file.release_bytes();
    *candidate.file.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(file);
    candidate
}

/// The version rule, applied to what the record says, before anything is loaded; the
/// reason is the one loading would give.
fn api_refusal(path: &Path, metadata: &PluginMetadata) -> Option<String> {
    let path = path.to_owned();
    let host = agent_plugin_api::host::api_version();
    let refusal = match semver::Version::parse(&metadata.api_version) {
        Err(_) => LoadError::BadApiVersion {
            path,
            text: metadata.api_version.clone(),
        },
        Ok(plugin) if !is_compatible(&plugin, &host) => {
            LoadError::IncompatibleApi { path, plugin, host }
        }
        Ok(_) => return None,
    };
    Some(refusal.reason())
}

/// The digest a pin demands of this file: a pin of this exact path, or a pin of the
/// plugin's name that names no path. Returns the pin's table name too.
fn pinned_digest<'a>(
    pins: &'a BTreeMap<String, PluginPin>,
    path: &Path,
    name: &str,
) -> Option<(&'a str, &'a str)> {
    pins.iter().find_map(|(table, pin)| {
        let digest = pin.sha256.as_deref()?;
        let applies = match &pin.path {
            Some(pinned) => same_file(pinned, path),
            None => table == name,
        };
        applies.then_some((table.as_str(), digest))
    })
}

/// Applies path pins and finds duplicate names among usable candidates.
pub(crate) fn resolve_names(candidates: &mut [Candidate], pins: &BTreeMap<String, PluginPin>) {
    for candidate in candidates.iter_mut() {
        if !candidate.is_usable() {
            continue;
        }
        let name = candidate.name().unwrap_or_default().to_owned();
        let pinned_here = pins.iter().find(|(_, pin)| {
            pin.path
                .as_ref()
                .is_some_and(|pinned| same_file(pinned, &candidate.path))
        });
        let pinned_elsewhere = pins.get(&name).and_then(|pin| pin.path.as_ref());
        candidate.status = match (pinned_here, pinned_elsewhere) {
            (Some((table, _)), _) if *table != name => CandidateStatus::Refused(format!(
                "[plugins.{table}] pins this file, but it is plugin {name:?}"
            )),
            (None, Some(pinned)) => CandidateStatus::Shadowed {
                pinned: pinned.clone(),
            },
            _ => continue,
        };
    }
    let usable: Vec<(usize, String, PathBuf)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, candidate)| candidate.is_usable())
        .filter_map(|(index, candidate)| {
            Some((index, candidate.name()?.to_owned(), candidate.path.clone()))
        })
        .collect();
    for (index, name, _) in &usable {
        let others: Vec<PathBuf> = usable
            .iter()
            .filter(|(other, other_name, _)| other != index && other_name == name)
            .map(|(_, _, other_path)| other_path.clone())
            .collect();
        if !others.is_empty() {
            candidates[*index].status = CandidateStatus::Duplicate { others };
        }
    }
}

pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
