//! `--backend` and `--option`: which plugin, with which options, as `chat` and `serve`
//! take them.

use agent_host::Host;

#[derive(Debug, clap::Args)]
pub struct BackendArgs {
    /// The plugin to use (default: `backend` in the config).
    #[arg(long)]
    pub backend: Option<String>,
    /// A backend option, `key=value` (value typed like TOML); overrides the config.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
}

impl BackendArgs {
    /// The plugin named, else the config's `backend`.
    pub fn name(&self, host: &Host) -> anyhow::Result<String> {
        match &self.backend {
            Some(name) => Ok(name.clone()),
            None => Ok(host.default_backend()?.to_owned()),
        }
    }

    /// The `--option`s, as the JSON object that overrides the config's.
    pub fn overrides(&self) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        super::options_map(&self.options)
    }
}
