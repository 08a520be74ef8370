//! The `[backends.python]` options.

use std::path::PathBuf;

use agent_plugin_api::plugin::JsonSchema;
use agent_plugin_api::types::Error;
use serde::Deserialize;

/// The options of the Python backend. Unknown keys are refused by name. The doc
/// comments are the help `agent-host inspect python` shows.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PythonOptions {
    /// The agent class, as "module:attr" (unset: the bundled
    /// agent_host.reference:ReferenceAgent).
    pub agent: Option<String>,
    /// Directories prepended to sys.path, e.g. where your agent module lives.
    pub python_path: Vec<PathBuf>,
    /// A virtualenv made with the same Python; its site-packages join sys.path.
    pub venv: Option<PathBuf>,
    /// Not accepted here: set the host's [plugins.python] call_timeout_ms, which holds
    /// even while an agent blocks the event loop.
    // Refused with that pointer by `validate`: a limit kept on the event loop cannot
    // fire while an agent blocks it.
    #[schemars(with = "Option<serde_json::Value>")]
    pub call_timeout_ms: Option<serde::de::IgnoredAny>,
    /// The key this runtime's quota backoff is kept under (unset: "python").
    pub api_key: Option<String>,
}

impl PythonOptions {
    /// Checks what serde cannot; each error names its option.
    pub fn validate(&self) -> Result<(), Error> {
        if self.call_timeout_ms.is_some() {
            return Err(Error::InvalidConfig(
                "option `call_timeout_ms` is the host's now: set it under [plugins.python] \
                 (it holds even while an agent blocks the event loop)"
                    .to_owned(),
            ));
        }
        if let Some(agent) = &self.agent {
            let valid = agent
                .split_once(':')
                .is_some_and(|(module, attr)| !module.is_empty() && !attr.is_empty());
            if !valid {
                return Err(Error::InvalidConfig(format!(
                    "option `agent`: expected \"module:attr\", got {agent:?}"
                )));
            }
        }
        for dir in &self.python_path {
            if !dir.is_dir() {
                return Err(Error::InvalidConfig(format!(
                    "option `python_path`: {} is not a directory",
                    dir.display()
                )));
            }
        }
        if let Some(venv) = &self.venv {
            self.site_packages(venv)?;
        }
        Ok(())
    }

    /// The venv's site-packages for the Python this plugin embeds.
    pub fn site_packages(&self, venv: &std::path::Path) -> Result<PathBuf, Error> {
        let version = env!("AGENT_PYTHON_VERSION");
        let site = venv
            .join("lib")
            .join(format!("python{version}"))
            .join("site-packages");
        if site.is_dir() {
            Ok(site)
        } else {
            Err(Error::InvalidConfig(format!(
                "option `venv`: {} has no lib/python{version}/site-packages (a venv made with Python {version} is needed)",
                venv.display()
            )))
        }
    }

    pub fn quota_key(&self) -> &str {
        self.api_key.as_deref().unwrap_or("python")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_option() {
        let bad = [
            (
                PythonOptions {
                    agent: Some("no_colon".into()),
                    ..Default::default()
                },
                "agent",
            ),
            (
                PythonOptions {
                    python_path: vec!["/nonexistent/dir".into()],
                    ..Default::default()
                },
                "python_path",
            ),
            (
                PythonOptions {
                    venv: Some("/nonexistent/venv".into()),
                    ..Default::default()
                },
                "venv",
            ),
        ];
        for (options, name) in bad {
            let Err(Error::InvalidConfig(message)) = options.validate() else {
                panic!("{name} should be refused");
            };
            assert!(message.contains(&format!("option `{name}`")), "{message}");
        }
        assert!(PythonOptions::default().validate().is_ok());
    }

    #[test]
    fn unknown_options_are_refused() {
        let error = serde_json::from_value::<PythonOptions>(serde_json::json!({"agnet": "x:y"}))
            .unwrap_err();
        assert!(error.to_string().contains("agnet"));
    }
}
