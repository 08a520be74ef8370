//! The `[backends.python]` options.

use std::path::PathBuf;

use agent_plugin_api::types::Error;
use serde::Deserialize;

/// Help for every option, shown by `agent-host inspect python`.
pub const OPTIONS_HELP: &str = "\
agent = \"module:attr\": the agent class (default: the bundled agent_host.reference:ReferenceAgent)
python_path = [\"dir\", ...]: directories prepended to sys.path, e.g. where your agent module lives
venv = \"path\": a virtualenv made with the same Python; its site-packages join sys.path
api_key = \"KEY\": the key this runtime's quota backoff is kept under (default \"python\")";

/// The options of the Python backend. Unknown keys are refused by name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PythonOptions {
    /// `module:attr` of the agent class; `None` is the bundled reference agent.
    pub agent: Option<String>,
    pub python_path: Vec<PathBuf>,
    pub venv: Option<PathBuf>,
    /// Refused with a pointer to the host's `[plugins.python] call_timeout_ms`: a limit
    /// kept on the event loop cannot fire while an agent blocks it.
    pub call_timeout_ms: Option<serde::de::IgnoredAny>,
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
