//! The TOML config file: which backend, where to look, each backend's options, pins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::HostError;

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "AGENT_HOST_CONFIG";
/// Read from the working directory when no config file is named.
pub const DEFAULT_CONFIG_FILE: &str = "agent-host.toml";

/// The host's configuration. Relative paths in a file are relative to that file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The plugin to use when the application does not name one.
    pub backend: Option<String>,
    #[serde(default)]
    pub plugin_dirs: Vec<PathBuf>,
    /// `[backends.<name>]`: handed to that plugin as its options.
    #[serde(default)]
    pub backends: BTreeMap<String, toml::Table>,
    /// `[plugins.<name>]`: which file provides a plugin, and its expected digest.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginPin>,
    /// The file this was read from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Pins a plugin name to a file and/or a SHA-256 digest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginPin {
    pub path: Option<PathBuf>,
    /// Hex SHA-256 of the library file; a mismatch refuses the plugin.
    pub sha256: Option<String>,
}

impl Config {
    /// Finds and reads the config: `explicit`, else `$AGENT_HOST_CONFIG`, else
    /// `agent-host.toml` in the working directory, else an empty config.
    pub fn load(explicit: Option<&Path>) -> Result<Config, HostError> {
        if let Some(path) = explicit {
            return Config::from_file(path);
        }
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|value| !value.is_empty()) {
            return Config::from_file(Path::new(&path));
        }
        let default = Path::new(DEFAULT_CONFIG_FILE);
        if default.is_file() {
            return Config::from_file(default);
        }
        Ok(Config::default())
    }

    pub fn from_file(path: &Path) -> Result<Config, HostError> {
        let text = std::fs::read_to_string(path).map_err(|error| HostError::Config {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        let mut config = Config::from_toml(&text).map_err(|message| HostError::Config {
            path: path.to_owned(),
            message,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        for dir in &mut config.plugin_dirs {
            *dir = base.join(&*dir);
        }
        for pin in config.plugins.values_mut() {
            if let Some(file) = &mut pin.path {
                *file = base.join(&*file);
            }
        }
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Parses TOML text; the error is one line naming the field and position.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|error| one_line(&error))?;
        for (name, pin) in &config.plugins {
            if let Some(digest) = &pin.sha256 {
                if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "plugins.{name}.sha256: expected 64 hex digits, got {digest:?}"
                    ));
                }
            }
        }
        Ok(config)
    }

    /// The options table for `backend`, as the JSON object handed to the plugin.
    pub fn backend_options(&self, backend: &str) -> serde_json::Map<String, serde_json::Value> {
        self.backends
            .get(backend)
            .map(|table| match serde_json::to_value(table) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            })
            .unwrap_or_default()
    }
}

/// toml's errors span several lines (a snippet with a caret); keep the message and place.
fn one_line(error: &toml::de::Error) -> String {
    let message = error.message().trim().to_owned();
    match error.span() {
        Some(span) => format!("{message} (at byte {})", span.start),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example() {
        let config = Config::from_toml(
            r#"
            backend = "mock"
            plugin_dirs = ["./plugins"]

            [backends.mock]
            chunk_delay_ms = 5

            [backends.python]
            agent = "my_agents.support:SupportAgent"
            venv = ".venv"

            [plugins.mock]
            path = "/opt/agent-host/plugins/libagent_plugin_mock.so"
            sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            "#,
        )
        .unwrap();
        assert_eq!(config.backend.as_deref(), Some("mock"));
        assert_eq!(
            config.backend_options("mock")["chunk_delay_ms"],
            serde_json::json!(5)
        );
        assert!(config.backend_options("nosuch").is_empty());
        assert!(config.plugins["mock"].path.is_some());
    }

    #[test]
    fn unknown_fields_are_named() {
        let error = Config::from_toml("backnd = \"mock\"").unwrap_err();
        assert!(error.contains("backnd"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn bad_digests_are_named() {
        let error = Config::from_toml("[plugins.mock]\nsha256 = \"xyz\"").unwrap_err();
        assert!(error.contains("plugins.mock.sha256"), "{error}");
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent-host.toml");
        std::fs::write(&file, "plugin_dirs = [\"plugins\"]\n").unwrap();
        let config = Config::from_file(&file).unwrap();
        assert_eq!(config.plugin_dirs, vec![dir.path().join("plugins")]);
    }
}
