//! The trait a backend implements to be exported from a `cdylib`.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::options::OptionsSchema;
use crate::runtime::Runtime;
use crate::types::Error;

/// A backend that can be built from its options and exported from a `cdylib`.
pub trait Plugin: Runtime + Sized + 'static {
    /// The name hosts select it by (`backend = "..."`): short, lowercase.
    const NAME: &'static str;
    /// The plugin's own version; use `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    const DESCRIPTION: &'static str = "";
    /// Notes on the options beyond what their doc comments say, shown by `agent-host
    /// inspect` under the table it makes from the options' schema.
    const OPTIONS_HELP: &'static str = "";
    /// Options whose values are file paths (a string, or an array of strings). The host
    /// resolves a relative one from a config file against that file's directory, so a
    /// config means the same from any working directory.
    const PATH_OPTIONS: &'static [&'static str] = &[];

    /// The `[backends.<name>]` table. Its schema (`#[derive(JsonSchema)]`: doc comments
    /// become the help, `#[schemars(range(min = 1, max = 10))]` a range, serde defaults
    /// the defaults) is what `inspect` shows and what every table is checked against:
    /// unknown keys and mistyped values are refused by name before serde runs.
    type Options: DeserializeOwned + JsonSchema;

    /// Builds a runtime. Runs inside the plugin's own tokio runtime, so it may spawn.
    fn new(options: Self::Options) -> Result<Self, Error>;
}

/// The schema of `P`'s options, as `inspect` shows it and the export layer checks it.
pub(crate) fn options_schema<P: Plugin>() -> OptionsSchema {
    OptionsSchema::of::<P::Options>()
}

/// Builds `P` from the options the host sends (a JSON object): unknown or mistyped keys
/// are refused by path, first by the schema, then by serde.
pub(crate) fn build_from_json<P: Plugin>(options_json: &str) -> Result<P, Error> {
    // Through a `Value`: the host wrote this JSON, so a position in it ("line 1 column
    // 20") would only mislead; the path names the option.
    let value: serde_json::Value = serde_json::from_str(options_json)
        .map_err(|error| Error::InvalidConfig(format!("options of plugin {}: {error}", P::NAME)))?;
    options_schema::<P>().check(&value).map_err(|error| {
        Error::InvalidConfig(if error.path.is_empty() {
            format!("options of plugin {}: {}", P::NAME, error.problem)
        } else {
            format!(
                "option `{}` of plugin {}: {}",
                error.path,
                P::NAME,
                error.problem
            )
        })
    })?;
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
