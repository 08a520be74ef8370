//! A loaded plugin file and what it says about itself.

use std::path::{Path, PathBuf};

use super::{LoadError, PluginFile, PluginRuntime};
use crate::ffi::ImportedModule;
use crate::options::OptionsSchema;
use crate::types::Error;

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PluginMetadata {
    pub name: String,
    pub version: String,
    pub description: String,
    /// The `agent-plugin-api` version the plugin was built with.
    pub api_version: String,
    pub options_help: String,
    /// Options whose values are paths (see [`Plugin::PATH_OPTIONS`](crate::plugin::Plugin::PATH_OPTIONS)).
    pub path_options: Vec<String>,
    /// The schema of the options (api 0.2.3; `None` from an older plugin, or when read
    /// from the file's record alone, without loading it).
    #[serde(default)]
    pub options_schema: Option<OptionsSchema>,
}

/// A plugin file that passed every check: handshake, api version, layout.
///
/// The library stays loaded for the life of the process (abi_stable never unloads).
#[derive(Clone)]
pub struct PluginLibrary {
    path: PathBuf,
    module: ImportedModule,
    metadata: PluginMetadata,
}

impl std::fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLibrary")
            .field("path", &self.path)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl PluginLibrary {
    /// Opens, checks and loads a plugin file (see [`PluginFile`]), and routes its logs to
    /// this process's `log`/`tracing` under the target `plugin::<name>`. A host that
    /// applies rules of its own to the file opens a [`PluginFile`] and loads that.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        PluginFile::open(path)?.load()
    }

    /// Checks the loaded module against the record read from its file, and starts its
    /// log bridge.
    pub(crate) fn from_module(
        path: PathBuf,
        module: ImportedModule,
        recorded: Option<PluginMetadata>,
    ) -> Result<Self, LoadError> {
        let reported = module.metadata();
        let metadata = PluginMetadata {
            name: reported.name,
            version: reported.version,
            description: reported.description,
            api_version: reported.api_version,
            options_help: reported.options_help,
            path_options: recorded
                .as_ref()
                .map(|recorded| recorded.path_options.clone())
                .unwrap_or_default(),
            options_schema: module.options_schema(),
        };
        if let Some(recorded) = &recorded {
            if recorded.name != metadata.name || recorded.api_version != metadata.api_version {
                return Err(LoadError::Other {
                    path,
                    reason: format!(
                        "its metadata record says plugin {:?} (api {}), its code says {:?} (api {})",
                        recorded.name, recorded.api_version, metadata.name, metadata.api_version
                    ),
                });
            }
        }
        module.install_logger();
        Ok(PluginLibrary {
            path,
            module,
            metadata,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &PluginMetadata {
        &self.metadata
    }

    /// Builds a runtime; `options` is the backend's option table (a JSON object).
    pub fn new_runtime(&self, options: &serde_json::Value) -> Result<PluginRuntime, Error> {
        let runtime = self.module.new_runtime(&options.to_string())?;
        Ok(PluginRuntime::new(
            self.metadata.name.clone(),
            self.metadata.api_version.clone(),
            runtime,
        ))
    }
}
