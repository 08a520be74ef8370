//! The host: discovery, loading, selection by name.

use std::path::{Path, PathBuf};

use agent_plugin_api::{PluginLibrary, PluginRuntime};

use crate::config::Config;
use crate::discovery::{self, SearchDir};
use crate::error::HostError;
use crate::registry::{self, Candidate, CandidateStatus};

/// Plugins found at start-up, and the config that selects among them.
#[derive(Debug)]
pub struct Host {
    config: Config,
    search_dirs: Vec<PathBuf>,
    candidates: Vec<Candidate>,
    warnings: Vec<String>,
}

/// Chooses where a [`Host`] looks for plugins.
#[derive(Debug, Default)]
#[must_use]
pub struct HostBuilder {
    config: Config,
    plugin_dirs: Vec<PathBuf>,
    skip_env: bool,
    skip_exe_dir: bool,
}

impl HostBuilder {
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Searched first, in the order given (the CLI's `--plugin-dir`).
    pub fn plugin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugin_dirs.push(dir.into());
        self
    }

    /// Ignore `$AGENT_HOST_PLUGIN_PATH`.
    pub fn without_env(mut self) -> Self {
        self.skip_env = true;
        self
    }

    /// Ignore `plugins/` beside the executable.
    pub fn without_exe_dir(mut self) -> Self {
        self.skip_exe_dir = true;
        self
    }

    /// Discovers and loads every candidate. One bad file never stops the others.
    pub fn build(self) -> Host {
        let explicit = |path: PathBuf| SearchDir {
            path,
            explicit: true,
        };
        let mut dirs: Vec<SearchDir> = self.plugin_dirs.into_iter().map(explicit).collect();
        if !self.skip_env {
            dirs.extend(discovery::env_dirs().into_iter().map(explicit));
        }
        dirs.extend(self.config.plugin_dirs.iter().cloned().map(explicit));
        if !self.skip_exe_dir {
            dirs.extend(discovery::exe_dir().map(|path| SearchDir {
                path,
                explicit: false,
            }));
        }
        let mut warnings = Vec::new();
        let mut files = discovery::candidates(&dirs, &mut warnings);
        // A pinned file is loaded even when it sits outside every plugin directory.
        for pin in self.config.plugins.values() {
            if let Some(pinned) = &pin.path {
                if !files.iter().any(|file| registry::same_file(file, pinned)) {
                    files.push(pinned.clone());
                }
            }
        }
        let mut candidates: Vec<Candidate> = files
            .iter()
            .map(|file| registry::load(file, pinned_digest(&self.config, file)))
            .collect();
        registry::resolve_names(&mut candidates, &self.config.plugins);
        for candidate in &candidates {
            match &candidate.status {
                CandidateStatus::Loaded(library) => tracing::debug!(
                    path = %candidate.path.display(),
                    plugin = %library.metadata().name,
                    "plugin loaded"
                ),
                _ => tracing::warn!(
                    path = %candidate.path.display(),
                    "plugin not used: {}",
                    candidate.status_text()
                ),
            }
        }
        Host {
            config: self.config,
            search_dirs: dirs.into_iter().map(|dir| dir.path).collect(),
            candidates,
            warnings,
        }
    }
}

/// The digest the config pins for this exact file, checked before it is loaded.
fn pinned_digest<'a>(config: &'a Config, file: &Path) -> Option<&'a str> {
    config
        .plugins
        .values()
        .find_map(|pin| match (&pin.path, &pin.sha256) {
            (Some(path), Some(digest)) if registry::same_file(path, file) => Some(digest.as_str()),
            _ => None,
        })
}

impl Host {
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Loads plugins from the environment, the config's directories and `plugins/` beside
    /// the executable.
    pub fn from_config(config: Config) -> Result<Host, HostError> {
        Ok(Host::builder().config(config).build())
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every file looked at, in discovery order, with what became of it.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The directories searched, in order.
    pub fn search_dirs(&self) -> &[PathBuf] {
        &self.search_dirs
    }

    /// Problems that are not about one file (an unreadable plugin directory).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Names of the plugins that can be selected.
    pub fn available(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .candidates
            .iter()
            .filter(|candidate| matches!(candidate.status, CandidateStatus::Loaded(_)))
            .filter_map(|candidate| candidate.name().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The plugin named `name`.
    pub fn plugin(&self, name: &str) -> Result<&PluginLibrary, HostError> {
        let duplicates: Vec<PathBuf> = self
            .candidates
            .iter()
            .filter(|candidate| {
                matches!(candidate.status, CandidateStatus::Duplicate { .. })
                    && candidate.name() == Some(name)
            })
            .map(|candidate| candidate.path.clone())
            .collect();
        if !duplicates.is_empty() {
            return Err(HostError::DuplicatePlugin {
                name: name.to_owned(),
                paths: duplicates,
            });
        }
        self.candidates
            .iter()
            .find_map(|candidate| match &candidate.status {
                CandidateStatus::Loaded(library) if library.metadata().name == name => {
                    Some(library)
                }
                _ => None,
            })
            .ok_or_else(|| HostError::UnknownBackend {
                name: name.to_owned(),
                available: self.available(),
            })
    }

    /// The backend named in the config's `backend`.
    pub fn default_backend(&self) -> Result<&str, HostError> {
        self.config
            .backend
            .as_deref()
            .ok_or_else(|| HostError::NoBackendSelected {
                available: self.available(),
            })
    }

    /// A runtime of plugin `name`, built with the config's `[backends.<name>]` options.
    pub fn runtime(&self, name: &str) -> Result<PluginRuntime, HostError> {
        self.runtime_with_options(name, serde_json::Map::new())
    }

    /// Like [`Host::runtime`], with `overrides` replacing config options key by key.
    pub fn runtime_with_options(
        &self,
        name: &str,
        overrides: serde_json::Map<String, serde_json::Value>,
    ) -> Result<PluginRuntime, HostError> {
        let library = self.plugin(name)?;
        let mut options = self.config.backend_options(name);
        options.extend(overrides);
        library
            .new_runtime(&serde_json::Value::Object(options))
            .map_err(|error| HostError::Runtime {
                backend: name.to_owned(),
                error,
            })
    }
}
