//! The trait a backend implements to be exported from a `cdylib`.

use serde::de::DeserializeOwned;

use crate::runtime::Runtime;
use crate::types::Error;

/// A backend that can be built from its options and exported from a `cdylib`.
pub trait Plugin: Runtime + Sized + 'static {
    /// The name hosts select it by (`backend = "..."`): short, lowercase.
    const NAME: &'static str;
    /// The plugin's own version; use `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    const DESCRIPTION: &'static str = "";
    /// Help for the options, shown by `agent-host inspect`.
    const OPTIONS_HELP: &'static str = "";
    /// Options whose values are file paths (a string, or an array of strings). The host
    /// resolves a relative one from a config file against that file's directory, so a
    /// config means the same from any working directory.
    const PATH_OPTIONS: &'static [&'static str] = &[];

    /// The `[backends.<name>]` table; unknown or mistyped keys are reported by path.
    type Options: DeserializeOwned;

    /// Builds a runtime. Runs inside the plugin's own tokio runtime, so it may spawn.
    fn new(options: Self::Options) -> Result<Self, Error>;
}

/// Builds `P` from the options the host sends (a JSON object): unknown or mistyped keys
/// are refused by path.
pub(crate) fn build_from_json<P: Plugin>(options_json: &str) -> Result<P, Error> {
    // Through a `Value`: the host wrote this JSON, so a position in it ("line 1 column
    // 20") would only mislead; the path names the option.
    let value: serde_json::Value = serde_json::from_str(options_json)
        .map_err(|error| Error::InvalidConfig(format!("options of plugin {}: {error}", P::NAME)))?;
    let options: P::Options = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            Error::InvalidConfig(format!("options of plugin {}: {inner}", P::NAME))
        } else {
            Error::InvalidConfig(format!("option `{path}` of plugin {}: {inner}", P::NAME))
        }
    })?;
    P::new(options)
}
