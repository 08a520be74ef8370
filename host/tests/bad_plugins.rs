//! Each way a plugin file can be bad gives its clear error, and the host and the other
//! plugins keep working.

mod common;

use agent_host::{CandidateStatus, Config, Host, HostError};
use agent_plugin_api::types::{AgentConfig, Content, Error};
use agent_plugin_api::Runtime;
use serde_json::json;

fn host_for(dir: &std::path::Path) -> Host {
    configured_host(dir, Config::default())
}

fn configured_host(dir: &std::path::Path, config: Config) -> Host {
    Host::builder()
        .config(config)
        .plugin_dir(dir)
        .without_env()
        .without_exe_dir()
        .build()
}

fn refusal(host: &Host, file_name: &str) -> String {
    let candidate = host
        .candidates()
        .iter()
        .find(|candidate| candidate.path.file_name().unwrap() == file_name)
        .unwrap_or_else(|| panic!("{file_name} was not discovered"));
    match &candidate.status {
        CandidateStatus::Refused(reason) => reason.clone(),
        // Usable without running it: refused when it is loaded.
        CandidateStatus::Usable => candidate
            .library()
            .map(|_| panic!("{file_name} was not refused"))
            .unwrap_err()
            .to_owned(),
        other => panic!("{file_name} was not refused: {other:?}"),
    }
}

fn options(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().unwrap().clone()
}

/// Every bad file in one directory, next to the good mock plugin.
fn crowded_dir() -> tempfile::TempDir {
    let dir = common::plugin_dir(&[
        (common::mock_plugin(), "libagent_plugin_mock.so"),
        (common::fixture("no_root"), "libno_root.so"),
        (common::fixture("wrong_api"), "libwrong_api.so"),
        (common::fixture("misbehaving"), "libmisbehaving.so"),
    ]);
    common::junk_file(dir.path());
    dir
}

async fn mock_still_answers(host: &Host) {
    let runtime = host
        .runtime_with_options("mock", options(json!({"chunk_delay_ms": 0})))
        .unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let answer = runtime
        .chat(agent, &Content::text("still here"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer.text, "echo: still here");
}

#[tokio::test]
async fn every_bad_file_is_refused_with_its_reason_and_the_rest_load() {
    let dir = crowded_dir();
    let host = host_for(dir.path());

    let junk = refusal(&host, "libjunk.so");
    assert!(junk.contains("not a loadable library"), "{junk}");

    let no_root = refusal(&host, "libno_root.so");
    assert!(no_root.contains("no root module"), "{no_root}");

    // Refused from its metadata record: never loaded.
    let wrong_api = refusal(&host, "libwrong_api.so");
    assert!(wrong_api.contains("0.99.0"), "{wrong_api}");
    assert!(
        wrong_api.contains(agent_plugin_api::host::API_VERSION),
        "{wrong_api}"
    );
    // 0.99 is newer than this host: the advice says to update the host.
    assert!(wrong_api.contains("update agent-host"), "{wrong_api}");

    assert_eq!(host.available(), vec!["misbehaving", "mock", "no-root"]);
    mock_still_answers(&host).await;
}

#[tokio::test]
async fn partial_and_odd_files_never_stop_the_others() {
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let whole = std::fs::read(common::mock_plugin()).unwrap();
    std::fs::write(dir.path().join("libcut.so"), &whole[..8192]).unwrap();
    std::fs::write(dir.path().join("libempty.so"), b"").unwrap();
    std::fs::create_dir(dir.path().join("libdir.so")).unwrap();
    let fifo = dir.path().join("libfifo.so");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("libzero.so")).unwrap();
    let host = host_for(dir.path());
    assert_eq!(
        refusal(&host, "libcut.so"),
        format!(
            "not a loadable library: truncated: 8192 of {} bytes",
            whole.len()
        )
    );
    assert!(refusal(&host, "libempty.so").ends_with("empty file"));
    assert!(refusal(&host, "libdir.so").ends_with("a directory"));
    assert!(refusal(&host, "libfifo.so").ends_with("a FIFO"));
    assert!(refusal(&host, "libzero.so").ends_with("a device"));
    mock_still_answers(&host).await;
}

#[tokio::test]
async fn a_constructor_error_is_reported_and_the_host_goes_on() {
    let dir = crowded_dir();
    let host = host_for(dir.path());
    let error = host
        .runtime_with_options("misbehaving", options(json!({"constructor": "error"})))
        .unwrap_err();
    assert!(
        matches!(&error, HostError::Runtime { error: Error::InvalidConfig(message), .. } if message.contains("refuses")),
        "{error}"
    );
    let error = host
        .runtime_with_options("misbehaving", options(json!({"constructor": "panic"})))
        .unwrap_err();
    assert!(
        error.to_string().contains("plugin misbehaving panicked"),
        "{error}"
    );
    mock_still_answers(&host).await;
}

#[tokio::test]
async fn bad_options_name_the_option() {
    let dir = crowded_dir();
    let host = host_for(dir.path());
    let error = host
        .runtime_with_options("misbehaving", options(json!({"constructor": "sometimes"})))
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("option `constructor`"), "{text}");
    let error = host
        .runtime_with_options("mock", options(json!({"chunk_delay_ms": "slow"})))
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("chunk_delay_ms"), "{text}");
    let error = host
        .runtime_with_options("mock", options(json!({"chunk_dleay_ms": 5})))
        .unwrap_err();
    assert!(error.to_string().contains("chunk_dleay_ms"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn panicking_methods_become_errors_and_the_runtime_keeps_working() {
    let dir = crowded_dir();
    let host = host_for(dir.path());
    let panicky = options(json!({
        "panic_in": ["chat", "history", "quota_registry", "record_quota_hit", "try_shutdown_agent"]
    }));
    let runtime = host.runtime_with_options("misbehaving", panicky).unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();

    let error = runtime.chat(agent, &"hi".into()).await.unwrap_err();
    assert!(
        matches!(&error, Error::BackendError(message) if message.contains("plugin misbehaving panicked: misbehaving: chat panics")),
        "{error}"
    );
    let error = runtime.history(agent).await.unwrap_err();
    assert!(error.to_string().contains("panicked"), "{error}");
    // Synchronous calls: contained, answered with a neutral value.
    assert_eq!(runtime.quota_registry().remaining("k"), None);
    runtime
        .record_quota_hit(std::time::Duration::from_millis(1))
        .await;
    runtime.try_shutdown_agent(agent);

    // The same runtime still serves the calls that do not panic.
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
    let other = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    assert_ne!(other, agent);
    mock_still_answers(&host).await;
}

/// The same, for a plugin that answers the immediate calls: they cross as plain calls,
/// whose panics must be contained just as well (one escaping would end the process).
#[tokio::test(flavor = "multi_thread")]
async fn panicking_immediate_calls_become_errors_and_the_runtime_keeps_working() {
    let dir = crowded_dir();
    let host = host_for(dir.path());
    let panicky = options(json!({ "panic_in": ["chat", "history"], "immediate": true }));
    let runtime = host.runtime_with_options("misbehaving", panicky).unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let error = runtime.chat(agent, &"hi".into()).await.unwrap_err();
    assert!(
        matches!(&error, Error::BackendError(message) if message.contains("plugin misbehaving panicked: misbehaving: chat panics")),
        "{error}"
    );
    let error = runtime.history(agent).await.unwrap_err();
    assert!(error.to_string().contains("panicked"), "{error}");
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
    assert!(runtime.is_idle(agent).await.unwrap());
    assert_eq!(
        runtime.turn_count(agent + 100).await,
        Err(Error::AgentNotStarted(agent + 100))
    );
    mock_still_answers(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_create_agent_is_contained() {
    let dir = crowded_dir();
    let host = host_for(dir.path());
    let runtime = host
        .runtime_with_options(
            "misbehaving",
            options(json!({"panic_in": ["create_agent"]})),
        )
        .unwrap();
    let error = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("create_agent panics"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_mid_stream_ends_the_turn_with_an_error() {
    let dir = crowded_dir();
    let host = host_for(dir.path());
    let runtime = host
        .runtime_with_options("misbehaving", options(json!({"panic_in": ["mid_stream"]})))
        .unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    let chunks: Vec<String> = futures::StreamExt::collect(handle.text_stream()).await;
    assert_eq!(chunks, vec!["hello ".to_string()]);
    let error = handle.text().await.unwrap_err();
    assert!(error.to_string().contains("panicked"), "{error}");
    // The next turn on the same runtime still starts.
    let handle = runtime.chat(agent, &"again".into()).await.unwrap();
    assert!(handle.text().await.is_err(), "mid_stream panics every turn");
    mock_still_answers(&host).await;
}

#[test]
fn two_plugins_with_one_name_need_a_pin() {
    let first = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let second = common::plugin_dir(&[(common::mock_plugin(), "libmock_copy.so")]);
    let host = Host::builder()
        .plugin_dir(first.path())
        .plugin_dir(second.path())
        .without_env()
        .without_exe_dir()
        .build();
    let error = host.plugin("mock").unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("libagent_plugin_mock.so") && text.contains("libmock_copy.so"),
        "{text}"
    );

    let pinned = second.path().join("libmock_copy.so");
    let config = Config::from_toml(&format!(
        "[plugins.mock]\npath = {:?}\n",
        pinned.display().to_string()
    ))
    .unwrap();
    let host = Host::builder()
        .config(config)
        .plugin_dir(first.path())
        .plugin_dir(second.path())
        .without_env()
        .without_exe_dir()
        .build();
    assert_eq!(host.plugin("mock").unwrap().path(), pinned);
}

#[test]
fn a_digest_mismatch_is_refused_before_loading() {
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let path = dir.path().join("libagent_plugin_mock.so");
    let config = Config::from_toml(&format!(
        "[plugins.mock]\npath = {:?}\nsha256 = \"{}\"\n",
        path.display().to_string(),
        "0".repeat(64)
    ))
    .unwrap();
    let host = configured_host(dir.path(), config);
    let reason = refusal(&host, "libagent_plugin_mock.so");
    assert!(reason.contains("sha256 mismatch"), "{reason}");
    let error = host.plugin("mock").unwrap_err().to_string();
    assert!(
        error.starts_with("plugin \"mock\" refused: sha256 mismatch: [plugins.mock] expects 0000"),
        "{error}"
    );
    assert!(error.contains(&path.display().to_string()), "{error}");
}

#[test]
fn a_digest_pin_without_a_path_is_checked_before_loading() {
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let config = Config::from_toml(&format!(
        "[plugins.mock]\nsha256 = \"{}\"\n",
        "0".repeat(64)
    ))
    .unwrap();
    let host = configured_host(dir.path(), config);
    let candidate = &host.candidates()[0];
    assert!(
        candidate.loaded().is_none(),
        "loaded before the digest was compared"
    );
    let error = host.plugin("mock").unwrap_err().to_string();
    assert!(error.contains("sha256 mismatch"), "{error}");
    assert!(candidate.loaded().is_none());

    // The right digest lets it load.
    let digest = sha256_of(&dir.path().join("libagent_plugin_mock.so"));
    let config = Config::from_toml(&format!("[plugins.mock]\nsha256 = \"{digest}\"\n")).unwrap();
    let host = configured_host(dir.path(), config);
    assert!(host.plugin("mock").is_ok());
}

fn sha256_of(path: &std::path::Path) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

#[test]
fn nothing_is_loaded_until_it_is_asked_for() {
    let dir = crowded_dir();
    let host = host_for(dir.path());
    assert!(host
        .candidates()
        .iter()
        .all(|candidate| candidate.loaded().is_none()));
    host.plugin("mock").unwrap();
    let loaded: Vec<_> = host
        .candidates()
        .iter()
        .filter(|candidate| candidate.loaded().is_some())
        .map(|candidate| candidate.name().unwrap())
        .collect();
    assert_eq!(loaded, ["mock"]);
}

#[test]
fn a_file_that_crashes_when_loaded_is_only_ever_loaded_in_a_child() {
    let dir = common::plugin_dir(&[
        (common::mock_plugin(), "libagent_plugin_mock.so"),
        (common::fixture("crash_on_load"), "libcrash.so"),
    ]);
    let host = host_for(dir.path());
    // Selecting another plugin runs none of its code (this process would abort).
    assert!(host.plugin("mock").is_ok());
    let crash = host
        .candidates()
        .iter()
        .find(|candidate| candidate.name() == Some("crash-on-load"))
        .unwrap();
    let verdict = host.verify(crash, &common::staged_binary());
    assert_eq!(verdict, &agent_host::Verdict::Crashed("SIGABRT".to_owned()));
    assert_eq!(
        crash.status_text(),
        "refused: crashed while loading (SIGABRT)"
    );
    let mock = host.candidate("mock").unwrap();
    assert!(host.verify(mock, &common::staged_binary()).is_loadable());
}

#[test]
fn files_others_could_have_written_are_refused_unless_allowed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")]);
    let file = dir.path().join("libagent_plugin_mock.so");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let host = host_for(dir.path());
    let reason = refusal(&host, "libagent_plugin_mock.so");
    assert!(reason.contains("writable by group and others"), "{reason}");
    assert!(reason.contains("chmod go-w"), "{reason}");
    // The refusal names the plugin (its record is parsed, never run), so asking for it
    // says why rather than "unknown backend".
    let error = host.plugin("mock").unwrap_err().to_string();
    assert!(
        error.contains("mock") && error.contains("writable"),
        "{error}"
    );
    let host = Host::builder()
        .plugin_dir(dir.path())
        .without_env()
        .without_exe_dir()
        .allow_insecure_plugins(true)
        .build();
    assert!(host.plugin("mock").is_ok());
}

#[test]
fn a_scanner_stuck_in_a_hanging_plugin_dies_with_the_host() {
    let dir = common::plugin_dir(&[(common::fixture("crash_on_load"), "libhang.so")]);
    let mut host = std::process::Command::new(common::staged_binary())
        .args(["--plugin-dir", dir.path().to_str().unwrap(), "plugins"])
        .env("AGENT_FIXTURE_ON_LOAD", "hang")
        .env_remove("AGENT_HOST_PLUGIN_PATH")
        .env_remove("AGENT_HOST_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let scanners = || {
        let output = std::process::Command::new("pgrep")
            .args(["-f", &format!("__scan-plugin {}", dir.path().display())])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scanners().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no scanner started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &host.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    host.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !scanners().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the scanner outlived the host: {}",
            scanners()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
