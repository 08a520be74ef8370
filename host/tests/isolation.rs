//! `isolation = "process"` and `agent-host serve`, with the staged binary and real plugin
//! files: a plugin that segfaults, aborts, exits or hangs costs its own agents, is named
//! with the cause, and the next agent is served by a fresh child.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use agent_host::{Config, Host};
use agent_plugin_api::types::{AgentConfig, Error};
use agent_plugin_api::Runtime;
use agent_remote::{HandshakeLine, RemoteRuntime};

/// A host whose only plugin is the misbehaving fixture, isolated, with `options`.
fn isolated_misbehaving(options: &str, pin: &str) -> (Host, tempfile::TempDir) {
    let dir = common::plugin_dir(&[(common::fixture("misbehaving"), "libfixture_misbehaving.so")]);
    let host = isolated_host(
        &format!(
            "[plugins.misbehaving]\nisolation = \"process\"\n{pin}\n[backends.misbehaving]\n{options}\n"
        ),
        dir.path(),
    );
    (host, dir)
}

/// A host with `config`, its plugins only those in `dir`, serving isolated ones with the
/// staged binary.
fn isolated_host(config: &str, dir: &std::path::Path) -> Host {
    Host::builder()
        .config(Config::from_toml(config).unwrap())
        .plugin_dir(dir)
        .without_env()
        .without_exe_dir()
        .serve_executable(common::staged_binary())
        .build()
}

fn agent_config() -> AgentConfig {
    AgentConfig::builder("any").build()
}

/// Chats once, to its end (within 20 s, or the test fails).
async fn turn(runtime: &dyn Runtime, agent: u64, message: &str) -> Result<String, Error> {
    let turn = async {
        runtime
            .chat(agent, &message.into())
            .await?
            .text()
            .await
            .map(|result| result.text)
    };
    tokio::time::timeout(Duration::from_secs(20), turn)
        .await
        .expect("the turn ended within 20 s")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_ends_its_turn_with_the_cause_and_the_next_agent_gets_a_fresh_child() {
    for (crash, cause) in [
        ("segfault", "SIGSEGV"),
        ("abort", "SIGABRT"),
        ("exit", "exit status 3"),
    ] {
        let (host, _dir) = isolated_misbehaving(&format!("crash = {crash:?}"), "");
        let runtime = host
            .start_runtime("misbehaving", Default::default())
            .await
            .unwrap();
        let agent = runtime.create_agent(agent_config()).await.unwrap();
        assert_eq!(
            turn(&*runtime, agent, "hello").await.unwrap(),
            "hello world"
        );

        let crashed = turn(&*runtime, agent, "please crash").await.unwrap_err();
        let said = crashed.to_string();
        assert!(
            said.contains("plugin \"misbehaving\" died") && said.contains(cause),
            "{crash}: {said}"
        );
        assert!(crashed.is_retryable(), "{crash}: {crashed:?}");
        let lost = runtime.turn_count(agent).await.unwrap_err().to_string();
        assert!(
            lost.contains(cause) && lost.contains("lost with it"),
            "{lost}"
        );

        let fresh = runtime.create_agent(agent_config()).await.unwrap();
        assert_ne!(fresh, agent, "ids stay unique across children");
        assert_eq!(
            turn(&*runtime, fresh, "hello again").await.unwrap(),
            "hello world"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_call_times_out_and_the_wedged_child_is_replaced() {
    let (host, _dir) = isolated_misbehaving("crash = \"hang\"", "call_timeout_ms = 500");
    let runtime = host
        .start_runtime("misbehaving", Default::default())
        .await
        .unwrap();
    let agent = runtime.create_agent(agent_config()).await.unwrap();
    let started = Instant::now();
    let hung = runtime.chat(agent, &"crash now".into()).await.unwrap_err();
    assert!(matches!(hung, Error::Timeout { .. }), "{hung:?}");
    assert!(hung.to_string().contains("killed"), "{hung}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let fresh = runtime.create_agent(agent_config()).await.unwrap();
    assert_eq!(
        turn(&*runtime, fresh, "hello").await.unwrap(),
        "hello world"
    );
}

#[test]
fn an_isolated_plugin_is_not_loaded_into_the_host() {
    let (host, _dir) = isolated_misbehaving("", "");
    let refused = host.runtime("misbehaving").unwrap_err().to_string();
    assert!(refused.contains("isolation = \"process\""), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_cannot_start_says_why_at_once() {
    let (host, _dir) = isolated_misbehaving("constructor = \"error\"", "");
    let Err(refused) = host.start_runtime("misbehaving", Default::default()).await else {
        panic!("a constructor that refuses gave a runtime");
    };
    let refused = refused.to_string();
    assert!(
        refused.contains("did not start") && refused.contains("the constructor refuses"),
        "{refused}"
    );
}

#[test]
fn chat_on_a_crashing_isolated_plugin_fails_in_one_line_naming_plugin_and_signal() {
    let (_host, dir) = isolated_misbehaving("crash = \"segfault\"", "");
    std::fs::write(
        dir.path().join("agent-host.toml"),
        "[plugins.misbehaving]\nisolation = \"process\"\n[backends.misbehaving]\ncrash = \"segfault\"\n",
    )
    .unwrap();
    let output = common::run_binary(
        &common::staged_binary(),
        &["chat", "--backend", "misbehaving", "please crash"],
        dir.path(),
    );
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("plugin \"misbehaving\" died: SIGSEGV"),
        "{stderr}"
    );
}

/// The staged `agent-host serve` of the staged mock (found beside it) with `option`,
/// listening on `listen`, and its handshake line.
fn serve_mock(
    option: &str,
    listen: &str,
    dir: &std::path::Path,
) -> (std::process::Child, HandshakeLine) {
    common::serve(&["--option", option, "--listen", listen], dir)
}

/// `agent-host serve` as a parent starts it: the handshake line first, then SIGTERM ends
/// the running turn `Cancelled`, exits 0, and removes its socket.
#[tokio::test(flavor = "multi_thread")]
async fn serve_prints_a_handshake_and_stops_cleanly_on_sigterm() {
    // The staged binary finds the staged mock beside it.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("mock.sock");
    let (mut serve, handshake) = serve_mock(
        "chunk_delay_ms=200",
        &format!("unix:{}", socket.display()),
        dir.path(),
    );
    assert_eq!(
        handshake.address.to_string(),
        format!("unix:{}", socket.display())
    );

    let runtime = RemoteRuntime::connect(&handshake.address).await.unwrap();
    assert_eq!(runtime.server().backend, "mock");
    let agent = runtime.create_agent(agent_config()).await.unwrap();
    let handle = runtime
        .chat(agent, &"a long answer that takes a while to stream".into())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(serve.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), handle.text())
        .await
        .expect("the turn ended");
    assert!(matches!(ended, Err(Error::Cancelled)), "{ended:?}");
    let status = serve.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!socket.exists(), "the socket file is removed");
}

#[test]
fn serve_refuses_addresses_off_this_machine_and_bad_addresses() {
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    for (listen, said) in [
        ("tcp:0.0.0.0:0", "not a loopback address"),
        ("tcp:localhost:80", "HOST:PORT"),
        ("/tmp/x.sock", "unix:PATH"),
    ] {
        let output = common::run_binary(
            &common::staged_binary(),
            &["serve", "--backend", "mock", "--listen", listen],
            dir.path(),
        );
        let stderr = common::text(&output.stderr);
        assert!(!output.status.success(), "{listen}");
        assert!(stderr.contains(said), "{listen}: {stderr}");
    }
}

/// `workers = 2`: agents spread over two children; one that crashes takes only its own
/// agents, the other child's agent goes on.
#[tokio::test(flavor = "multi_thread")]
async fn with_two_workers_a_crash_costs_only_its_own_agents() {
    let (host, _dir) = isolated_misbehaving("crash = \"abort\"", "workers = 2");
    let runtime = host
        .start_runtime("misbehaving", Default::default())
        .await
        .unwrap();
    let first = runtime.create_agent(agent_config()).await.unwrap();
    let second = runtime.create_agent(agent_config()).await.unwrap();
    assert_eq!(
        turn(&*runtime, first, "hello").await.unwrap(),
        "hello world"
    );
    assert_eq!(
        turn(&*runtime, second, "hello").await.unwrap(),
        "hello world"
    );
    let crashed = turn(&*runtime, first, "crash")
        .await
        .unwrap_err()
        .to_string();
    assert!(crashed.contains("SIGABRT"), "{crashed}");
    assert_eq!(
        turn(&*runtime, second, "still here").await.unwrap(),
        "hello world",
        "the other worker's agent is untouched"
    );
    let fresh = runtime.create_agent(agent_config()).await.unwrap();
    assert_eq!(
        turn(&*runtime, fresh, "hello").await.unwrap(),
        "hello world"
    );
}

/// `[plugins.<name>] url`: a second host chats with a backend `agent-host serve` serves
/// on loopback TCP; options and TLS urls are refused with the reason.
#[test]
fn a_second_host_chats_with_a_served_backend_by_url() {
    let served = tempfile::tempdir().unwrap();
    let (mut serve, handshake) = serve_mock("chunk_delay_ms=0", "tcp:127.0.0.1:0", served.path());
    let address = handshake.address.to_string();
    let port = address.rsplit(':').next().unwrap();

    let client = tempfile::tempdir().unwrap();
    let chat = |config: &str, args: &[&str]| {
        std::fs::write(client.path().join("agent-host.toml"), config).unwrap();
        Command::new(common::staged_binary())
            .arg("chat")
            .args(args)
            .env_remove("AGENT_HOST_CONFIG")
            .env_remove("AGENT_HOST_PLUGIN_PATH")
            .current_dir(client.path())
            .output()
            .unwrap()
    };
    let by_url =
        format!("backend = \"remote\"\n[plugins.remote]\nurl = \"http://127.0.0.1:{port}\"\n");
    let output = chat(&by_url, &["hello over tcp"]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert_eq!(common::text(&output.stdout), "echo: hello over tcp\n");

    let output = chat(&by_url, &["--option", "chunk_chars=3", "hi"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        common::text(&output.stderr).contains("none are sent from here"),
        "{}",
        common::text(&output.stderr)
    );
    let output = chat(
        "backend = \"remote\"\n[plugins.remote]\nurl = \"https://agents.example.com:443\"\n",
        &["hi"],
    );
    assert!(!output.status.success());
    let stderr = common::text(&output.stderr);
    assert!(
        stderr.contains("plugins.remote.url") && stderr.contains("TLS"),
        "{stderr}"
    );
    let _ = serve.kill();
    let _ = serve.wait();
}

/// `[plugins.<name>] command`: the host starts the program with `$AGENT_HOST_LISTEN` and
/// `$AGENT_HOST_OPTIONS` and meets it through its handshake line. `agent-host serve`
/// reads both, so the staged binary serving the staged mock stands in for a backend in
/// another language (examples/grpc-python is the real one).
#[test]
fn a_command_backend_is_started_told_its_options_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let binary = common::staged_binary();
    let write_config = |plugin: &str| {
        let path = dir.path().join("agent-host.toml");
        std::fs::write(
            &path,
            format!("backend = \"cmd\"\n[plugins.cmd]\n{plugin}\n"),
        )
        .unwrap();
    };
    let run = |args: &[&str]| {
        Command::new(&binary)
            .args(args)
            .env_remove("AGENT_HOST_CONFIG")
            .env_remove("AGENT_HOST_PLUGIN_PATH")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let serve = format!(
        "command = [{:?}, \"serve\", \"--backend\", \"mock\", \"--stop-on-stdin-eof\"]\nworkers = 2",
        binary.display().to_string()
    );
    write_config(&serve);
    let output = run(&["chat", "hello by command"]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert_eq!(common::text(&output.stdout), "echo: hello by command\n");

    // The options reach the program: the mock refuses one it does not know, by name.
    let output = run(&["chat", "--option", "no_such_option=1", "hi"]);
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no_such_option"), "{stderr}");

    let output = run(&["check", "--backend", "cmd", "--case", "chat"]);
    let stdout = common::text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        common::text(&output.stderr)
    );
    assert!(stdout.contains("7 passed, 0 failed"), "{stdout}");

    // A program that is not there, and one that does not speak the protocol.
    write_config("command = [\"./no-such-backend\"]");
    let output = run(&["chat", "hi"]);
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("plugin \"cmd\": cannot start command [")
            && stderr.contains("No such file"),
        "{stderr}"
    );
    // It is given a moment to say why and end by itself (here after its wrong line)...
    write_config(
        "command = [\"/bin/sh\", \"-c\", \"echo hello; sleep 0.2; echo gone >&2; exit 4\"]",
    );
    let output = run(&["chat", "hi"]);
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not start: expected `agent-host-serve|")
            && stderr.contains("got `hello` (exit status 4): gone"),
        "{stderr}"
    );
    // ... and one that lives on after it is killed.
    write_config("command = [\"/bin/sh\", \"-c\", \"echo hello; exec sleep 60\"]");
    let started = Instant::now();
    let output = run(&["chat", "hi"]);
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("got `hello` (SIGKILL)"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
}

/// `call_timeout_ms` bounds an isolated turn as it bounds one in-process: the turn ends
/// `Timeout`, the child cancels it and lives on, and the agent takes the next one.
#[tokio::test(flavor = "multi_thread")]
async fn an_isolated_turn_that_outlasts_the_call_timeout_ends_timeout() {
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let host = isolated_host(
        "[plugins.mock]\nisolation = \"process\"\ncall_timeout_ms = 1000\n\
         [backends.mock]\nchunk_delay_ms = 400\n",
        dir.path(),
    );
    let runtime = host
        .start_runtime("mock", Default::default())
        .await
        .unwrap();
    let agent = runtime.create_agent(agent_config()).await.unwrap();
    let started = Instant::now();
    let handle = runtime
        .chat(agent, &"a message that takes seconds".into())
        .await
        .unwrap();
    let error = handle.text().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(&error, Error::Timeout { operation, .. } if operation.contains("chat turn")),
        "{error}"
    );
    assert!(
        elapsed >= Duration::from_millis(1000) && elapsed < Duration::from_millis(3000),
        "fired after {elapsed:?}"
    );
    runtime.wait_for_idle(agent).await.unwrap();
    let answer = runtime.chat(agent, &"k".into()).await.unwrap();
    assert_eq!(answer.text().await.unwrap().text, "echo: k");
}
