//! The host: discovery, loading, selection by name.

use std::path::{Path, PathBuf};

use crate::config::{Config, Isolation, PluginPin};
use crate::discovery::{self, SearchDir};
use crate::error::HostError;
use crate::isolation::{Launch, Program};
use crate::registry::{self, Candidate, CandidateStatus, Policy};
use crate::scan::Verdict;
use crate::starter::RuntimeStarter;
use agent_plugin_api::host::{PluginLibrary, PluginRuntime};
use agent_plugin_api::types::Error;
use agent_plugin_api::Runtime;

/// Plugins found at start-up, and the config that selects among them.
#[derive(Debug)]
pub struct Host {
    config: Config,
    policy: Policy,
    search_dirs: Vec<PathBuf>,
    candidates: Vec<Candidate>,
    warnings: Vec<String>,
    serve_executable: Option<PathBuf>,
}

/// Chooses where a [`Host`] looks for plugins.
#[derive(Debug, Default)]
#[must_use]
pub struct HostBuilder {
    config: Config,
    plugin_dirs: Vec<PathBuf>,
    skip_env: bool,
    skip_exe_dir: bool,
    allow_insecure: bool,
    serve_executable: Option<PathBuf>,
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

    /// Accept plugin files and directories that fail the ownership and mode rules (the
    /// CLI's `--allow-insecure-plugins`). The config's `allow_insecure_plugins` does the
    /// same; [`Config::load`] honours it only in a file that passes the rules.
    pub fn allow_insecure_plugins(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// The `agent-host` executable that serves plugins the config isolates (default:
    /// this process if it is `agent-host`, else `agent-host` beside it).
    pub fn serve_executable(mut self, executable: impl Into<PathBuf>) -> Self {
        self.serve_executable = Some(executable.into());
        self
    }

    /// Discovers and checks every candidate without running any plugin code: a plugin
    /// is loaded when it is first asked for. One bad file never stops the others.
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
        let policy = Policy {
            allow_insecure: self.allow_insecure || self.config.allow_insecure_plugins,
        };
        let mut candidates: Vec<Candidate> = files
            .iter()
            .map(|file| registry::examine(file, &self.config.plugins, policy))
            .collect();
        registry::resolve_names(&mut candidates, &self.config.plugins);
        for candidate in &candidates {
            match &candidate.status {
                CandidateStatus::Usable => tracing::debug!(
                    path = %candidate.path.display(),
                    plugin = candidate.name().unwrap_or_default(),
                    "plugin found"
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
            policy,
            search_dirs: dirs.into_iter().map(|dir| dir.path).collect(),
            candidates,
            warnings,
            serve_executable: self.serve_executable,
        }
    }
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
            .filter(|candidate| candidate.is_usable())
            .filter_map(|candidate| candidate.name().map(str::to_owned))
            .collect();
        // Backends with no plugin file here: started by command, or served elsewhere.
        names.extend(
            self.config
                .plugins
                .iter()
                .filter(|(_, pin)| pin.command.is_some() || pin.url.is_some())
                .map(|(name, _)| name.clone()),
        );
        names.sort();
        names.dedup();
        names
    }

    /// The candidate that provides plugin `name`, not loaded yet.
    pub fn candidate(&self, name: &str) -> Result<&Candidate, HostError> {
        let named = || {
            self.candidates
                .iter()
                .filter(move |candidate| candidate.name() == Some(name))
        };
        let duplicates: Vec<PathBuf> = named()
            .filter(|candidate| matches!(candidate.status, CandidateStatus::Duplicate { .. }))
            .map(|candidate| candidate.path.clone())
            .collect();
        if !duplicates.is_empty() {
            return Err(HostError::DuplicatePlugin {
                name: name.to_owned(),
                paths: duplicates,
            });
        }
        if let Some(usable) = named().find(|candidate| candidate.is_usable()) {
            return Ok(usable);
        }
        if let Some(refused) =
            named().find(|candidate| matches!(candidate.status, CandidateStatus::Refused(_)))
        {
            return Err(HostError::PluginRefused {
                name: Some(name.to_owned()),
                path: refused.path.clone(),
                reason: refused.status_text(),
            });
        }
        if let Some(pinned) = self
            .config
            .plugins
            .get(name)
            .and_then(|pin| pin.path.as_ref())
        {
            if let Some(refused) = self
                .candidates
                .iter()
                .find(|candidate| registry::same_file(&candidate.path, pinned))
            {
                return Err(HostError::PluginRefused {
                    name: Some(name.to_owned()),
                    path: refused.path.clone(),
                    reason: refused.status_text(),
                });
            }
        }
        Err(HostError::UnknownBackend {
            name: name.to_owned(),
            available: self.available(),
            refused: self
                .candidates
                .iter()
                .filter(|candidate| candidate.name().is_none())
                .count(),
        })
    }

    /// The plugin named `name`, loaded on first use (only its file runs any code).
    pub fn plugin(&self, name: &str) -> Result<&PluginLibrary, HostError> {
        let candidate = self.candidate(name)?;
        candidate
            .library()
            .map_err(|reason| HostError::PluginRefused {
                name: Some(name.to_owned()),
                path: candidate.path.clone(),
                reason: format!("refused: {reason}"),
            })
    }

    /// Checks one file outside the plugin directories (`inspect PATH`, `check PATH`) the
    /// way discovery checks each candidate: same trust rules, same pins.
    pub fn examine_file(&self, path: &Path) -> Candidate {
        let mut candidates = [registry::examine(path, &self.config.plugins, self.policy)];
        registry::resolve_names(&mut candidates, &Default::default());
        let [candidate] = candidates;
        candidate
    }

    /// Loads every usable candidate in a child process (`scanner`: an `agent-host`
    /// executable, which runs [`scanner_child`](crate::scanner_child) for the hidden
    /// subcommand), so a plugin that crashes or hangs while loading is a refusal. Each
    /// constructor gets the config's options for its plugin.
    pub fn verify_all(&self, scanner: &Path) {
        for candidate in &self.candidates {
            if candidate.is_usable() {
                self.verify(candidate, scanner);
            }
        }
    }

    /// [`Host::verify_all`] for one candidate.
    pub fn verify<'a>(&self, candidate: &'a Candidate, scanner: &Path) -> &'a Verdict {
        let options = match candidate.metadata() {
            Some(metadata) => self
                .config
                .backend_options(&metadata.name, &metadata.path_options),
            None => Default::default(),
        };
        candidate.verify(scanner, &serde_json::Value::Object(options))
    }

    /// [`Host::verify`] with `options` for the constructor instead of the config's.
    pub fn verify_with_options<'a>(
        &self,
        candidate: &'a Candidate,
        scanner: &Path,
        options: &serde_json::Value,
    ) -> &'a Verdict {
        candidate.verify(scanner, options)
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
    /// A plugin the config isolates (`isolation = "process"`) is refused here: it must
    /// not be loaded into this process; use [`Host::start_runtime`].
    pub fn runtime_with_options(
        &self,
        name: &str,
        overrides: serde_json::Map<String, serde_json::Value>,
    ) -> Result<PluginRuntime, HostError> {
        if self.isolation(name) == Isolation::Process {
            return Err(HostError::Isolated {
                name: name.to_owned(),
            });
        }
        self.runtime_in_process(name, overrides)
    }

    /// The runtime of plugin `name` as the config says to run it: loaded here, or in
    /// child processes (`[plugins.<name>] isolation = "process"`, `workers`, `command`),
    /// or served elsewhere (`url`).
    pub async fn start_runtime(
        &self,
        name: &str,
        overrides: serde_json::Map<String, serde_json::Value>,
    ) -> Result<std::sync::Arc<dyn Runtime>, HostError> {
        let starter = self.runtime_starter(name, overrides)?;
        starter.start().await.map_err(|error| HostError::Runtime {
            backend: name.to_owned(),
            error,
        })
    }

    /// How to make runtimes of plugin `name` as the config says to run it, decided once
    /// (the file found and checked, the options merged): [`Host::start_runtime`] for
    /// one, or [`RuntimeStarter::start`] for each of many (`check` makes one per case).
    pub fn runtime_starter(
        &self,
        name: &str,
        overrides: serde_json::Map<String, serde_json::Value>,
    ) -> Result<RuntimeStarter, HostError> {
        let pin = self.config.plugins.get(name).cloned().unwrap_or_default();
        if let Some(url) = &pin.url {
            return self.reached_by_url(name, url, overrides);
        }
        let call_timeout = pin.call_timeout();
        let workers = pin.workers.unwrap_or(1) as usize;
        if let Some(argv) = pin.command {
            let launch = Launch {
                plugin: name.to_owned(),
                program: Program::Command {
                    argv,
                    dir: self.config.base_dir().map(Path::to_owned),
                },
                options: self.options(name, &[], overrides),
            };
            return Ok(RuntimeStarter::process(name, launch, workers, call_timeout));
        }
        if pin.isolation == Isolation::InProcess {
            let library = self.plugin(name)?.clone();
            let options = self.options(name, &library.metadata().path_options, overrides);
            return Ok(RuntimeStarter::in_process(
                name,
                library,
                serde_json::Value::Object(options),
                call_timeout,
            ));
        }
        let candidate = self.candidate(name)?;
        let metadata = candidate
            .metadata()
            .ok_or_else(|| HostError::PluginRefused {
                name: Some(name.to_owned()),
                path: candidate.path.clone(),
                reason: "its metadata cannot be read".into(),
            })?;
        let launch = Launch {
            plugin: name.to_owned(),
            program: Program::Serve {
                executable: self.serve_executable()?,
                file: candidate.path.clone(),
                sha256: pin.sha256.clone(),
                allow_insecure: self.policy.allow_insecure,
            },
            options: self.options(name, &metadata.path_options, overrides),
        };
        Ok(RuntimeStarter::process(name, launch, workers, call_timeout))
    }

    /// A backend reached by its `url`: the server's options are its own, so options
    /// here (the config's `[backends.<name>]`, `--option`) are refused, not dropped.
    fn reached_by_url(
        &self,
        name: &str,
        url: &str,
        overrides: serde_json::Map<String, serde_json::Value>,
    ) -> Result<RuntimeStarter, HostError> {
        let refuse = |error| HostError::Runtime {
            backend: name.to_owned(),
            error,
        };
        let options = self.options(name, &[], overrides);
        if let Some(key) = options.keys().next() {
            return Err(refuse(Error::InvalidConfig(format!(
                "option `{key}`: backend {name:?} is served at {url}, with the options \
                 `agent-host serve` was given there (--option); none are sent from here"
            ))));
        }
        let pin = self.config.plugins.get(name).cloned().unwrap_or_default();
        let destination = crate::remote_url::destination(url, &pin)
            .map_err(|why| refuse(Error::InvalidConfig(format!("plugins.{name}.{why}"))))?;
        Ok(RuntimeStarter::url(name, destination))
    }

    /// The config's `[backends.<name>]` with `overrides` on top, key by key.
    fn options(
        &self,
        name: &str,
        path_options: &[String],
        overrides: serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut options = self.config.backend_options(name, path_options);
        options.extend(overrides);
        options
    }

    /// How the config says to run plugin `name`.
    pub fn isolation(&self, name: &str) -> Isolation {
        self.config
            .plugins
            .get(name)
            .map(PluginPin::runs_in)
            .unwrap_or_default()
    }

    /// The `agent-host` executable that serves isolated plugins: the one set with
    /// [`HostBuilder::serve_executable`], else this process when it is `agent-host`,
    /// else `agent-host` beside this process's executable.
    fn serve_executable(&self) -> Result<PathBuf, HostError> {
        if let Some(executable) = &self.serve_executable {
            return Ok(executable.clone());
        }
        let current = std::env::current_exe().map_err(|error| HostError::NoServeExecutable {
            reason: format!("cannot find this executable: {error}"),
        })?;
        if current.file_stem().is_some_and(|stem| stem == "agent-host") {
            return Ok(current);
        }
        let beside = current.with_file_name("agent-host");
        if beside.is_file() {
            return Ok(beside);
        }
        Err(HostError::NoServeExecutable {
            reason: format!(
                "no agent-host beside {} (set it with HostBuilder::serve_executable)",
                current.display()
            ),
        })
    }

    /// Loads plugin `name` into this process whatever the config's `isolation` says:
    /// what `agent-host serve` (the child side of isolation) does.
    pub fn runtime_in_process(
        &self,
        name: &str,
        overrides: serde_json::Map<String, serde_json::Value>,
    ) -> Result<PluginRuntime, HostError> {
        let library = self.plugin(name)?;
        let options = self.options(name, &library.metadata().path_options, overrides);
        let runtime = library
            .new_runtime(&serde_json::Value::Object(options))
            .map_err(|error| HostError::Runtime {
                backend: name.to_owned(),
                error,
            })?;
        let timeout = self
            .config
            .plugins
            .get(name)
            .and_then(|pin| pin.call_timeout());
        Ok(runtime.with_call_timeout(timeout))
    }
}
