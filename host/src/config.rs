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
    /// `[plugins.<name>]`: what the host does with that plugin (which file, its digest,
    /// its call timeout). Kept apart from `[backends.<name>]`, which is the plugin's own.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginPin>,
    /// Load plugin files (and read config files) that fail the ownership and mode rules.
    /// Honoured only in a config file that itself passes them.
    #[serde(default)]
    pub allow_insecure_plugins: bool,
    /// The file this was read from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[plugins.<name>]`: the host's settings for one plugin.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginPin {
    /// The file that provides the plugin; others with its name are not used.
    pub path: Option<PathBuf>,
    /// Hex SHA-256 of the library file; a mismatch refuses the plugin.
    pub sha256: Option<String>,
    /// The longest the backend may take over one call or one turn, in milliseconds
    /// (1 to [`MAX_CALL_TIMEOUT_MS`]); absent: no limit. Waits the caller chose
    /// (`wait_for_idle`, `wait_for_wakeup`, `wait_for_quota`) are never cut short.
    pub call_timeout_ms: Option<u64>,
    /// Where the plugin runs: in this process (the default) or in child processes
    /// (`agent-host serve`), so that its crash, exit or hang is not the host's.
    #[serde(default)]
    pub isolation: Isolation,
    /// With `isolation = "process"`: how many children share the agents (1 to
    /// [`MAX_WORKERS`]); an agent stays on its child for its life.
    pub workers: Option<u32>,
    /// A backend served by `agent-host serve` elsewhere (`https://HOST:PORT`,
    /// `http://127.0.0.1:PORT` or `unix:PATH`; see
    /// [`parse_backend_url`](crate::parse_backend_url)): no plugin file is looked for or
    /// loaded, and the server's own options apply.
    pub url: Option<String>,
    /// With an `https://` url: the CA (PEM file) the server's certificate must chain to;
    /// absent, the system's roots.
    pub tls_ca: Option<PathBuf>,
    /// With an `https://` url: this host's certificate and its key (PEM files, the key
    /// readable by its owner only), for a server that asks for them (mutual TLS).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// With a url: the file holding the client token the server asks for (readable by
    /// its owner only)...
    pub token_file: Option<PathBuf>,
    /// ...or the environment variable holding it.
    pub token_env: Option<String>,
    /// A backend in another language: the program (and its arguments) the host starts
    /// as a child process, which speaks the protocol of `proto/` on the socket named in
    /// `$AGENT_HOST_LISTEN` (docs/remote.md, "A backend in another language"). A program
    /// given with a `/` is relative to the config file's directory, which is also its
    /// working directory; a bare name is looked up on `PATH`. Always out of process.
    pub command: Option<Vec<String>>,
}

/// `[plugins.<name>] isolation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    #[default]
    InProcess,
    Process,
}

/// The most worker processes one plugin may have.
pub const MAX_WORKERS: u32 = 64;

/// The largest `call_timeout_ms`: a day.
pub const MAX_CALL_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;

impl PluginPin {
    pub fn call_timeout(&self) -> Option<std::time::Duration> {
        self.call_timeout_ms.map(std::time::Duration::from_millis)
    }

    /// Where the plugin runs: a `command` backend always in a child process.
    pub fn runs_in(&self) -> Isolation {
        if self.command.is_some() {
            Isolation::Process
        } else {
            self.isolation
        }
    }
}

impl Config {
    /// Finds and reads the config: `explicit`, else `$AGENT_HOST_CONFIG`, else
    /// `agent-host.toml` in the working directory, else an empty config.
    ///
    /// A config file that names plugin directories or pins, or allows insecure plugins,
    /// must pass the trust rules (see [`Config::from_file`]).
    pub fn load(explicit: Option<&Path>) -> Result<Config, HostError> {
        Config::load_trusting(explicit, false)
    }

    /// Like [`Config::load`]; `allow_insecure` (the CLI's `--allow-insecure-plugins`)
    /// accepts a config file that fails the trust rules.
    pub fn load_trusting(
        explicit: Option<&Path>,
        allow_insecure: bool,
    ) -> Result<Config, HostError> {
        let path = if let Some(path) = explicit {
            path.to_owned()
        } else if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|value| !value.is_empty()) {
            PathBuf::from(path)
        } else if Path::new(DEFAULT_CONFIG_FILE).is_file() {
            PathBuf::from(DEFAULT_CONFIG_FILE)
        } else {
            return Ok(Config::default());
        };
        let config = Config::from_file(&path)?;
        if config.decides_where_plugins_come_from() && !allow_insecure {
            if let Err(untrusted) = crate::trust::check_config(&path) {
                return Err(HostError::Config {
                    path,
                    message: format!("not trusted: {}", untrusted.0),
                });
            }
        }
        Ok(config)
    }

    /// Whether this config chooses code to load: plugin directories, pins, or the
    /// insecure switch. Such a file must be as trustworthy as the plugins.
    pub fn decides_where_plugins_come_from(&self) -> bool {
        !self.plugin_dirs.is_empty() || !self.plugins.is_empty() || self.allow_insecure_plugins
    }

    /// The directory relative paths in the file are resolved against (`None`: the
    /// working directory, for a file given by a bare name).
    pub fn base_dir(&self) -> Option<&Path> {
        self.source
            .as_deref()
            .and_then(Path::parent)
            .filter(|dir| !dir.as_os_str().is_empty())
    }

    /// Reads one config file, without the trust rules (see [`Config::load`]).
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
            for file in [
                &mut pin.path,
                &mut pin.tls_ca,
                &mut pin.tls_cert,
                &mut pin.tls_key,
                &mut pin.token_file,
            ]
            .into_iter()
            .flatten()
            {
                *file = base.join(&*file);
            }
            if let Some(program) = pin.command.as_mut().and_then(|command| command.first_mut()) {
                // Absolute: the child starts in `base`, where a relative path would be
                // taken from again.
                if program.contains('/') {
                    let joined = base.join(&*program);
                    let absolute = std::path::absolute(&joined).unwrap_or(joined);
                    *program = absolute.to_string_lossy().into_owned();
                }
            }
        }
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Parses TOML text; the error is one line naming the field and position.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let document = toml::Deserializer::parse(text).map_err(|error| one_line(text, &error))?;
        let config: Config = serde_path_to_error::deserialize(document).map_err(|error| {
            let path = error.path().to_string();
            let inner = one_line(text, error.inner());
            if path == "." {
                inner
            } else {
                format!("{}: {inner}", escape_controls(&path))
            }
        })?;
        for (name, pin) in &config.plugins {
            if let Some(digest) = &pin.sha256 {
                if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "plugins.{name}.sha256: expected 64 hex digits, got {digest:?}"
                    ));
                }
            }
            if let Some(timeout) = pin.call_timeout_ms {
                if !(1..=MAX_CALL_TIMEOUT_MS).contains(&timeout) {
                    return Err(format!(
                        "plugins.{name}.call_timeout_ms: {timeout} is outside 1..={MAX_CALL_TIMEOUT_MS} \
                         (leave it out for no limit)"
                    ));
                }
            }
            check_url_security(name, pin)?;
            if let Some(url) = &pin.url {
                crate::parse_backend_url(url)
                    .map_err(|why| format!("plugins.{name}.url: {why}"))?;
                let local = [
                    ("path", pin.path.is_some()),
                    ("sha256", pin.sha256.is_some()),
                    ("isolation", pin.isolation != Isolation::InProcess),
                    ("workers", pin.workers.is_some()),
                    ("call_timeout_ms", pin.call_timeout_ms.is_some()),
                ];
                if let Some((field, _)) = local.iter().find(|(_, set)| *set) {
                    return Err(format!(
                        "plugins.{name}.{field}: not for a backend reached by url (the \
                         server at {url} has its own file, process and limits); leave \
                         out one of the two"
                    ));
                }
            }
            if let Some(command) = &pin.command {
                check_command(name, command)?;
                let beside = [
                    ("path", pin.path.is_some()),
                    ("sha256", pin.sha256.is_some()),
                    ("url", pin.url.is_some()),
                ];
                if let Some((field, _)) = beside.iter().find(|(_, set)| *set) {
                    return Err(format!(
                        "plugins.{name}.{field}: not for a backend started by command (the \
                         program is the backend; there is no plugin file); leave out one \
                         of the two"
                    ));
                }
            }
            if let Some(workers) = pin.workers {
                if !(1..=MAX_WORKERS).contains(&workers) {
                    return Err(format!(
                        "plugins.{name}.workers: {workers} is outside 1..={MAX_WORKERS}"
                    ));
                }
                if pin.runs_in() != Isolation::Process {
                    return Err(format!(
                        "plugins.{name}.workers: workers are child processes, so they need \
                         isolation = \"process\" in [plugins.{name}]"
                    ));
                }
            }
        }
        Ok(config)
    }

    /// The options table for `backend`, as the JSON object handed to the plugin.
    /// `path_options` (what the plugin declares as paths) that are relative are resolved
    /// against the config file's directory, so the file means the same from anywhere.
    pub fn backend_options(
        &self,
        backend: &str,
        path_options: &[String],
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut options = self
            .backends
            .get(backend)
            .map(|table| match serde_json::to_value(table) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            })
            .unwrap_or_default();
        if let Some(base) = self.base_dir() {
            for key in path_options {
                if let Some(value) = options.get_mut(key) {
                    resolve_paths(value, base);
                }
            }
        }
        options
    }
}

/// Joins a relative path (or each relative path of an array) onto `base`.
fn resolve_paths(value: &mut serde_json::Value, base: &Path) {
    match value {
        serde_json::Value::String(text) if Path::new(text.as_str()).is_relative() => {
            *text = base.join(&*text).to_string_lossy().into_owned();
        }
        serde_json::Value::Array(items) => {
            for item in items {
                resolve_paths(item, base);
            }
        }
        _ => {}
    }
}

/// Keys may hold any character: a newline in one must not split the error's line.
/// The TLS and token settings go with a url, and an `https://` url with a way for the
/// client to prove itself (the server asks for one: a client token or a certificate).
fn check_url_security(name: &str, pin: &PluginPin) -> Result<(), String> {
    let tls_fields = [
        ("tls_ca", pin.tls_ca.is_some()),
        ("tls_cert", pin.tls_cert.is_some()),
        ("tls_key", pin.tls_key.is_some()),
    ];
    let token_fields = [
        ("token_file", pin.token_file.is_some()),
        ("token_env", pin.token_env.is_some()),
    ];
    let set = |fields: &[(&'static str, bool)]| fields.iter().find(|(_, set)| *set).map(|f| f.0);
    let Some(url) = &pin.url else {
        if let Some(field) = set(&tls_fields).or(set(&token_fields)) {
            return Err(format!(
                "plugins.{name}.{field}: only for a backend reached by url"
            ));
        }
        return Ok(());
    };
    let https = url.starts_with("https://");
    if let Some(field) = set(&tls_fields).filter(|_| !https) {
        return Err(format!(
            "plugins.{name}.{field}: only with an https:// url (this one is {url:?})"
        ));
    }
    if pin.tls_cert.is_some() != pin.tls_key.is_some() {
        return Err(format!(
            "plugins.{name}: tls_cert and tls_key go together (this host's certificate and \
             its key)"
        ));
    }
    if pin.token_file.is_some() && pin.token_env.is_some() {
        return Err(format!(
            "plugins.{name}: token_file and token_env are two ways to give one token; \
             give one"
        ));
    }
    if https && set(&token_fields).is_none() && pin.tls_cert.is_none() {
        return Err(format!(
            "plugins.{name}.url: {url:?} needs this host to prove itself to the server: a \
             client token (token_file or token_env), or a certificate of its own (tls_cert \
             and tls_key, mutual TLS)"
        ));
    }
    if let Some(var) = &pin.token_env {
        if var.is_empty() || var.contains(['=', '\0']) {
            return Err(format!(
                "plugins.{name}.token_env: {var:?} is not an environment variable name"
            ));
        }
    }
    Ok(())
}

/// A `command` is a program and its arguments, each a plain string.
fn check_command(name: &str, command: &[String]) -> Result<(), String> {
    let Some(program) = command.first() else {
        return Err(format!(
            "plugins.{name}.command: empty; give the program and its arguments, e.g. \
             [\"python3\", \"backend.py\"]"
        ));
    };
    if program.trim().is_empty() {
        return Err(format!(
            "plugins.{name}.command: the program (its first item) is empty"
        ));
    }
    if let Some(index) = command.iter().position(|arg| arg.contains('\0')) {
        return Err(format!(
            "plugins.{name}.command[{index}]: holds a NUL character, which no program \
             argument can"
        ));
    }
    Ok(())
}

fn escape_controls(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// toml's errors span several lines (a snippet with a caret); keep the message and place.
fn one_line(text: &str, error: &toml::de::Error) -> String {
    let message = escape_controls(error.message().trim());
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("{message} (line {line}, column {column})")
        }
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
            config.backend_options("mock", &[])["chunk_delay_ms"],
            serde_json::json!(5)
        );
        assert!(config.backend_options("nosuch", &[]).is_empty());
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
    fn call_timeouts_have_a_range() {
        let error = Config::from_toml("[plugins.mock]\ncall_timeout_ms = 0").unwrap_err();
        assert!(
            error.contains("plugins.mock.call_timeout_ms: 0 is outside"),
            "{error}"
        );
        let error = Config::from_toml("[plugins.mock]\ncall_timeout_ms = -5").unwrap_err();
        assert!(error.contains("call_timeout_ms"), "{error}");
        let error = Config::from_toml("[plugins.mock]\nisolation = \"thread\"").unwrap_err();
        assert!(
            error.contains("plugins.mock.isolation") && error.contains("process"),
            "{error}"
        );
        let error = Config::from_toml("[plugins.mock]\nworkers = 2").unwrap_err();
        assert!(error.contains("need isolation = \"process\""), "{error}");
        let error =
            Config::from_toml("[plugins.mock]\nisolation = \"process\"\nworkers = 0").unwrap_err();
        assert!(
            error.contains("plugins.mock.workers: 0 is outside"),
            "{error}"
        );
        let config =
            Config::from_toml("[plugins.mock]\nisolation = \"process\"\nworkers = 2").unwrap();
        assert_eq!(config.plugins["mock"].isolation, Isolation::Process);
        let config = Config::from_toml("[plugins.mock]\ncall_timeout_ms = 250").unwrap();
        assert_eq!(
            config.plugins["mock"].call_timeout(),
            Some(std::time::Duration::from_millis(250))
        );
    }

    #[test]
    fn a_command_is_a_program_out_of_process() {
        for (toml, says) in [
            ("command = []", "plugins.py.command: empty"),
            ("command = [\"\"]", "the program (its first item) is empty"),
            (
                "command = [\"py\", \"a\\u0000b\"]",
                "plugins.py.command[1]: holds a NUL",
            ),
            (
                "command = [\"py\"]\npath = \"x.so\"",
                "plugins.py.path: not for a backend started by command",
            ),
            (
                "command = [\"py\"]\nurl = \"unix:/x\"",
                "plugins.py.url: not for a backend",
            ),
            ("command = \"py\"", "plugins.py.command"),
        ] {
            let error = Config::from_toml(&format!("[plugins.py]\n{toml}")).unwrap_err();
            assert!(error.contains(says), "{toml}: {error}");
        }
        let config = Config::from_toml(
            "[plugins.py]\ncommand = [\"python3\", \"b.py\"]\nworkers = 2\ncall_timeout_ms = 9",
        )
        .unwrap();
        assert_eq!(config.plugins["py"].runs_in(), Isolation::Process);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent-host.toml");
        std::fs::write(
            &file,
            "[plugins.a]\ncommand = [\"./venv/bin/python\", \"b.py\"]\n\
             [plugins.b]\ncommand = [\"python3\", \"./b.py\"]\n",
        )
        .unwrap();
        let config = Config::from_file(&file).unwrap();
        let program = |name: &str| config.plugins[name].command.as_ref().unwrap().clone();
        assert_eq!(
            program("a"),
            [
                std::path::absolute(dir.path().join("./venv/bin/python"))
                    .unwrap()
                    .display()
                    .to_string(),
                "b.py".into()
            ]
        );
        assert_eq!(program("b"), ["python3", "./b.py"]);
    }

    #[test]
    fn declared_path_options_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent-host.toml");
        std::fs::write(
            &file,
            "[backends.python]\nvenv = \".venv\"\npython_path = [\"agents\", \"/abs\"]\nagent = \"a:b\"\n",
        )
        .unwrap();
        let config = Config::from_file(&file).unwrap();
        let paths = ["venv".to_owned(), "python_path".to_owned()];
        let options = config.backend_options("python", &paths);
        let base = dir.path().display();
        assert_eq!(options["venv"], serde_json::json!(format!("{base}/.venv")));
        assert_eq!(
            options["python_path"],
            serde_json::json!([format!("{base}/agents"), "/abs"])
        );
        assert_eq!(
            options["agent"],
            serde_json::json!("a:b"),
            "not a path option"
        );
    }

    #[test]
    fn an_untrusted_config_that_names_plugin_dirs_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent-host.toml");
        std::fs::write(&file, "plugin_dirs = [\"plugins\"]\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let error = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(error.contains("not trusted"), "{error}");
        assert!(error.contains("chmod go-w"), "{error}");
        assert!(Config::load_trusting(Some(&file), true).is_ok());
        // Options alone choose no code to load: not checked.
        std::fs::write(&file, "backend = \"mock\"\n").unwrap();
        assert!(Config::load(Some(&file)).is_ok());
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
