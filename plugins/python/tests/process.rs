//! The Python backend and the process around it: the embedded interpreter changes no
//! signal disposition, Ctrl-C still ends a CLI running a Python turn, and the
//! interpreter starts the same whatever `PATH` says. Through the real staged plugin and
//! CLI (`cargo xtask stage`).
//!
//! Signals are the process's, so the disposition test runs in a child of its own that
//! starts with SIGINT at its default (`env --default-signal=INT`): a shell's background
//! job inherits SIGINT ignored, and CPython leaves an ignored SIGINT alone anyway.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_plugin_api::types::{AgentConfig, Content};
use agent_plugin_api::Runtime;
use serde_json::json;

use common::{agents_dir, staged_cli, staged_plugin};

/// Set in the child that runs the disposition test proper.
const CHILD: &str = "AGENT_PYTHON_SIGNALS_CHILD";

/// The `SigIgn` and `SigCgt` masks of this process.
fn dispositions() -> (String, String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    (field("SigIgn:"), field("SigCgt:"))
}

/// Whether `signal` is set in a `/proc/self/status` mask.
fn in_mask(mask: &str, signal: u32) -> bool {
    u64::from_str_radix(mask, 16).unwrap() & (1 << (signal - 1)) != 0
}

#[test]
fn starting_python_and_running_a_turn_changes_no_signal_disposition() {
    if std::env::var_os(CHILD).is_none() {
        let output = Command::new("env")
            .arg("--default-signal=INT")
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "starting_python_and_running_a_turn_changes_no_signal_disposition",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "the child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    let before = dispositions();
    assert!(!in_mask(&before.0, 2), "SIGINT must start at its default");
    assert!(!in_mask(&before.1, 2), "SIGINT must start at its default");
    let runtime = staged_plugin()
        .new_runtime(
            &json!({"agent": "native_modules:UsesNativeModules", "python_path": [agents_dir()]}),
        )
        .unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
        let handle = runtime.chat(agent, &Content::text("go")).await.unwrap();
        handle.text().await.unwrap();
    });
    let after = dispositions();
    assert_eq!(
        before, after,
        "(SigIgn, SigCgt) before and after Python ran a turn"
    );
}

/// Reads a child's stdout on a thread, so the test can wait for a prefix with a limit.
fn read_until(mut stdout: impl Read + Send + 'static, wanted: &'static str) -> bool {
    let (found, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut buffer = [0u8; 256];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0 {
                break;
            }
            text.extend_from_slice(&buffer[..read]);
            if String::from_utf8_lossy(&text).contains(wanted) {
                let _ = found.send(());
            }
        }
    });
    seen.recv_timeout(Duration::from_secs(30)).is_ok()
}

#[test]
fn ctrl_c_during_a_python_turn_ends_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    for agent in ["failing:Hangs", "blocking:Sleeps"] {
        let mut child = Command::new("env")
            .arg("--default-signal=INT")
            .arg(staged_cli())
            .args(["chat", "--backend", "python", "--option"])
            .arg(format!("agent={agent}"))
            .arg("--option")
            .arg(format!("python_path=[{:?}]", agents_dir()))
            .arg("60")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        assert!(
            read_until(stdout, "thinking "),
            "{agent}: the turn did not start"
        );
        let interrupted = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(interrupted.success());
        let sent = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if sent.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let status = status.unwrap_or_else(|| panic!("{agent}: SIGINT did not end the CLI"));
        assert!(!status.success(), "{agent}: {status}");
    }
}

#[test]
fn python_starts_without_a_useful_path() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(staged_cli())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .args(["chat", "--backend", "python", "--option"])
        .arg("agent=native_modules:UsesNativeModules")
        .arg("--option")
        .arg(format!("python_path=[{:?}]", agents_dir()))
        .arg("go")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"sum\": \"0.3\", \"sqrt2\": 1.414}\n"
    );
}

/// `site` runs once the first runtime's `venv` is known: with no venv, or one that
/// includes the system site-packages, the user's site-packages and their `.pth` files
/// are read as a plain `python` reads them; a venv that excludes them never runs them.
#[test]
fn site_packages_outside_an_isolated_venv_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let user_site = dir
        .path()
        .join("userbase/lib")
        .join(format!("python{}", env!("AGENT_PYTHON_VERSION")))
        .join("site-packages");
    std::fs::create_dir_all(&user_site).unwrap();
    std::fs::write(
        user_site.join("marker.pth"),
        "import os; os.environ['AGENT_HOST_USER_PTH'] = 'ran'\n",
    )
    .unwrap();
    let agents = dir.path().join("agents");
    std::fs::create_dir(&agents).unwrap();
    std::fs::write(
        agents.join("pth_probe.py"),
        "import os\n\n\nclass Agent:\n    def __init__(self, config):\n        pass\n\n    async def chat(self, content):\n        yield os.environ.get('AGENT_HOST_USER_PTH', 'not run')\n",
    )
    .unwrap();
    let venv = |name: &str, system_site_packages: bool| {
        let venv = dir.path().join(name);
        common::make_venv(&venv, system_site_packages);
        venv
    };
    let chat = |venv: Option<&std::path::Path>| {
        let mut command = Command::new(staged_cli());
        command
            .env("PYTHONUSERBASE", dir.path().join("userbase"))
            .args(["chat", "--backend", "python", "--option"])
            .arg("agent=pth_probe:Agent")
            .arg("--option")
            .arg(format!("python_path=[{:?}]", agents.display().to_string()));
        if let Some(venv) = venv {
            command
                .arg("--option")
                .arg(format!("venv={:?}", venv.display().to_string()));
        }
        let output = command.arg("hi").current_dir(dir.path()).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(chat(None), "ran");
    assert_eq!(chat(Some(&venv("including", true))), "ran");
    assert_eq!(chat(Some(&venv("isolated", false))), "not run");
}

#[test]
fn inspect_names_the_embedded_python() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(staged_cli())
        .args(["inspect", "python"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let version = env!("AGENT_PYTHON_FULL_VERSION");
    let home = env!("AGENT_PYTHON_HOME");
    assert!(
        version.starts_with(env!("AGENT_PYTHON_VERSION")),
        "{version}"
    );
    assert!(
        text.contains(&format!("CPython {version} (home {home})")),
        "{text}"
    );
}

#[test]
fn the_plugin_outlives_the_threads_that_used_it_first() {
    // The plugin's allocator once took the first thread that allocated in it for the
    // process's main thread: once that thread had exited, the next new thread to
    // allocate in the plugin crashed the process (SIGSEGV in mimalloc's thread set-up).
    for round in 0..3 {
        let answer = std::thread::spawn(move || {
            let runtime = staged_plugin().new_runtime(&json!({})).unwrap();
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let agent = runtime
                    .create_agent(AgentConfig::builder("m").build())
                    .await
                    .unwrap();
                let handle = runtime
                    .chat(agent, &Content::text(format!("round {round}")))
                    .await
                    .unwrap();
                handle.text().await.unwrap().text
            })
        })
        .join()
        .unwrap();
        assert_eq!(answer, format!("echo: round {round}"));
    }
}
