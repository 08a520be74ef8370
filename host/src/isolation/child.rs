//! One child `agent-host serve` process: started with exactly the plugin file the host
//! checked, met through its handshake line, used through a `RemoteRuntime` on a private
//! Unix socket, and watched so that its death is told in words.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use agent_plugin_api::types::Error;
use agent_remote::{Address, HandshakeLine, OnLost, RemoteRuntime, Transport};
use futures::FutureExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::watch;

use crate::exit_status;

/// How long a child may take from its start to its handshake line (an interpreter and
/// its imports may take a while).
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(30);

/// How long a lost session waits for the child's exit status before calling it hung.
const DEATH_NOTICE_WITHIN: Duration = Duration::from_secs(2);

/// How long a child that failed its handshake may take to end by itself before it is
/// killed: one that cannot start usually says why on stderr and exits, and its own words
/// and exit status tell more than the host's SIGKILL.
const FAREWELL_WITHIN: Duration = Duration::from_secs(1);

/// How to start a child for one plugin.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The plugin's name, as errors and logs say it.
    pub plugin: String,
    /// What the child runs.
    pub program: Program,
    /// The backend's options, as the host merged them.
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// What a plugin's child process runs.
#[derive(Debug, Clone)]
pub enum Program {
    /// `agent-host serve` on the plugin file the host found and checked.
    Serve {
        /// The `agent-host` executable that serves it.
        executable: PathBuf,
        /// The plugin file; the child loads exactly this one.
        file: PathBuf,
        /// The digest the config pins, checked again by the child on its own open file.
        sha256: Option<String>,
        allow_insecure: bool,
    },
    /// A backend of its own (`[plugins.<name>] command`, any language): told where to
    /// listen and its options through the environment ([`LISTEN_ENV`], [`OPTIONS_ENV`],
    /// [`PLUGIN_ENV`]), met through the same handshake line.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
        /// Its working directory (the config file's), else the host's.
        dir: Option<PathBuf>,
    },
}

/// The address a `command` backend listens on: `unix:PATH`, a path in a fresh `0700`
/// directory that does not exist yet.
pub const LISTEN_ENV: &str = "AGENT_HOST_LISTEN";
/// The backend's options as a JSON object.
pub const OPTIONS_ENV: &str = "AGENT_HOST_OPTIONS";
/// The plugin's name in the config.
pub const PLUGIN_ENV: &str = "AGENT_HOST_PLUGIN";

pub(crate) struct Child {
    pub(crate) runtime: RemoteRuntime,
    plugin: String,
    pid: Option<u32>,
    started: Instant,
    /// How long it ran, once it has ended (the death may be noticed much later).
    lifetime: Arc<OnceLock<Duration>>,
    /// Set once the process has ended: how, in words.
    died: watch::Receiver<Option<String>>,
    /// Why the host stopped it, if it did (a call that timed out).
    stopped_because: Arc<Mutex<Option<String>>>,
    /// Closing it tells the child to stop (it also sees it close if the host dies).
    _stdin: Option<ChildStdin>,
    _socket_dir: tempfile::TempDir,
}

impl Launch {
    pub(crate) async fn start(&self) -> Result<Child, Error> {
        let plugin = &self.plugin;
        let failed = |what: String| Error::ConnectionError(format!("plugin {plugin:?}: {what}"));
        // Only this user may reach the socket inside, whatever the umask.
        let socket_dir = tempfile::Builder::new()
            .prefix("agent-host-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(|error| failed(format!("cannot make a private socket directory: {error}")))?;
        let socket = socket_dir.path().join("plugin.sock");
        let listen = format!("unix:{}", socket.display());
        let mut command = self.command(&listen);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C at the terminal is the host's to handle
            // (cancel the turn), not a stop for the child.
            .process_group(0);
        let started = Instant::now();
        let mut process = command
            .spawn()
            .map_err(|error| failed(format!("cannot start {}: {error}", self.program)))?;
        let pid = process.id();
        let last_words = forward_stderr(process.stderr.take());
        let stdin = process.stdin.take();
        let stdout = process.stdout.take();
        let (announce_death, died) = watch::channel(None);
        let lifetime = Arc::new(OnceLock::new());
        let ended = lifetime.clone();
        tokio::spawn(async move {
            let how = match process.wait().await {
                Ok(status) => exit_status::describe(status),
                Err(error) => format!("could not be waited for: {error}"),
            };
            let _ = ended.set(started.elapsed());
            let _ = announce_death.send(Some(how));
        });
        let stopped_because = Arc::new(Mutex::new(None));
        let handshake = match read_handshake(stdout, plugin).await {
            Ok(handshake) => handshake,
            Err(why) => {
                if wait_for_death(&died, FAREWELL_WITHIN).await.is_none() {
                    kill(pid, &died);
                }
                let how = wait_for_death(&died, DEATH_NOTICE_WITHIN).await;
                let how = how.map(|how| format!(" ({how})")).unwrap_or_default();
                // Its stderr is read to its end once it is dead: its last line says why.
                let said = match last_words.await {
                    Ok(Some(line)) => format!(": {line}"),
                    _ => String::new(),
                };
                return Err(failed(format!("did not start: {why}{how}{said}")));
            }
        };
        let on_lost = lost_hook(plugin.clone(), pid, died.clone(), stopped_because.clone());
        let connected = match (&handshake.address, handshake.transport) {
            (Address::Unix(path), Transport::Framed) => {
                RemoteRuntime::connect_framed(path, on_lost).await
            }
            (address, _) => RemoteRuntime::connect_with(address, on_lost).await,
        };
        let runtime = match connected {
            Ok(runtime) => runtime,
            Err(error) => {
                kill(pid, &died);
                return Err(failed(format!("cannot open its session: {error}")));
            }
        };
        tracing::debug!(plugin = %plugin, pid, "plugin child started");
        Ok(Child {
            runtime,
            plugin: plugin.clone(),
            pid,
            started,
            lifetime,
            died,
            stopped_because,
            _stdin: stdin,
            _socket_dir: socket_dir,
        })
    }
}

impl Launch {
    /// The child's command line, with `listen` as its address.
    fn command(&self, listen: &str) -> tokio::process::Command {
        match &self.program {
            Program::Serve {
                executable,
                file,
                sha256,
                allow_insecure,
            } => {
                let mut command = tokio::process::Command::new(executable);
                if *allow_insecure {
                    command.arg("--allow-insecure-plugins");
                }
                command
                    .args([
                        "serve",
                        "--backend",
                        self.plugin.as_str(),
                        "--listen",
                        listen,
                    ])
                    .arg("--plugin-file")
                    .arg(file)
                    .arg("--options-json")
                    .arg(serde_json::Value::Object(self.options.clone()).to_string())
                    .args(["--stop-on-stdin-eof", "--framed"]);
                if let Some(digest) = sha256 {
                    command.arg("--sha256").arg(digest);
                }
                command
            }
            Program::Command { argv, dir } => {
                let mut command = tokio::process::Command::new(&argv[0]);
                command
                    .args(&argv[1..])
                    .env(LISTEN_ENV, listen)
                    .env(
                        OPTIONS_ENV,
                        serde_json::Value::Object(self.options.clone()).to_string(),
                    )
                    .env(PLUGIN_ENV, &self.plugin);
                if let Some(dir) = dir {
                    command.current_dir(dir);
                }
                command
            }
        }
    }
}

impl std::fmt::Display for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Program::Serve { executable, .. } => write!(f, "{} serve", executable.display()),
            Program::Command { argv, .. } => write!(f, "command {argv:?}"),
        }
    }
}

impl Child {
    /// How it died, as every call on its agents is told; `None` while it runs.
    pub(crate) fn death(&self) -> Option<String> {
        let how = self.died.borrow().clone();
        let stopped = self
            .stopped_because
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some();
        // A child the host stopped is gone from that moment, reaped or not.
        let how = how.or_else(|| stopped.then(|| "SIGKILL".to_owned()))?;
        Some(death_text(&self.plugin, &how, &self.stopped_because))
    }

    /// How long it ran: until its end, if it has ended.
    pub(crate) fn lived(&self) -> Duration {
        self.lifetime
            .get()
            .copied()
            .unwrap_or_else(|| self.started.elapsed())
    }

    /// Kills it (a wedged child): its turns end, and the next call starts another.
    pub(crate) fn stop(&self, because: String) {
        tracing::warn!(plugin = %self.plugin, "stopping the plugin's process: {because}");
        *self
            .stopped_because
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(because);
        kill(self.pid, &self.died);
    }
}

fn death_text(plugin: &str, how: &str, stopped_because: &Mutex<Option<String>>) -> String {
    let because = stopped_because
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    match because {
        Some(because) => format!("plugin {plugin:?} was stopped ({how}): {because}"),
        None => format!("plugin {plugin:?} died: {how}"),
    }
}

/// The first line of the child's stdout, read within [`HANDSHAKE_WITHIN`]; the rest of
/// its stdout (a plugin that prints) goes to the host's stderr, so the pipe never fills.
async fn read_handshake(
    stdout: Option<ChildStdout>,
    plugin: &str,
) -> Result<HandshakeLine, String> {
    let stdout = stdout.ok_or("its stdout is not a pipe")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(HANDSHAKE_WITHIN, lines.next_line())
        .await
        .map_err(|_| format!("no handshake line within {HANDSHAKE_WITHIN:?}"))?
        .map_err(|error| format!("cannot read its stdout: {error}"))?
        .ok_or("it ended before its handshake line")?;
    let handshake: HandshakeLine = first.parse()?;
    let plugin = plugin.to_owned();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[plugin {plugin} stdout] {line}");
        }
    });
    Ok(handshake)
}

/// Copies the child's stderr to the host's, line by line as it comes; the task ends
/// with the last line it saw (what a child that could not start said last).
fn forward_stderr(
    stderr: Option<tokio::process::ChildStderr>,
) -> tokio::task::JoinHandle<Option<String>> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr?).lines();
        let mut last = None;
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{line}");
            if !line.trim().is_empty() {
                last = Some(line);
            }
        }
        last
    })
}

fn kill(pid: Option<u32>, died: &watch::Receiver<Option<String>>) {
    // Only while it has not been reaped: its pid cannot have been reused yet.
    if died.borrow().is_some() {
        return;
    }
    let pid = pid
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

async fn wait_for_death(
    died: &watch::Receiver<Option<String>>,
    within: Duration,
) -> Option<String> {
    let mut died = died.clone();
    let seen = tokio::time::timeout(within, died.wait_for(Option::is_some)).await;
    seen.ok()
        .and_then(|how| how.ok().and_then(|how| how.clone()))
}

/// When the session is lost: the child's death in words, or (a child that closed its
/// connection but lives on) that it is killed.
fn lost_hook(
    plugin: String,
    pid: Option<u32>,
    died: watch::Receiver<Option<String>>,
    stopped_because: Arc<Mutex<Option<String>>>,
) -> OnLost {
    Arc::new(move |why| {
        let (plugin, died, stopped_because) =
            (plugin.clone(), died.clone(), stopped_because.clone());
        async move {
            let text = match wait_for_death(&died, DEATH_NOTICE_WITHIN).await {
                Some(how) => death_text(&plugin, &how, &stopped_because),
                None => {
                    kill(pid, &died);
                    format!("plugin {plugin:?} ended its session ({why}); its process was killed")
                }
            };
            tracing::warn!("{text}");
            Error::ConnectionError(text)
        }
        .boxed()
    })
}
