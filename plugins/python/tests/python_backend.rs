//! The Python backend through its real plugin file: user agents, every failure the
//! backend must report clearly, C extensions, venvs, and many agents on one loop.
//! `cargo xtask test` stages the plugin first.

mod common;

use std::path::Path;
use std::time::Duration;

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{AgentConfig, Content, Error};
use agent_plugin_api::Runtime;
use serde_json::json;

use common::{agents_dir, staged_plugin as plugin};

fn runtime_for(agent: &str) -> Result<PluginRuntime, Error> {
    plugin().new_runtime(&json!({"agent": agent, "python_path": [agents_dir()]}))
}

async fn ask(runtime: &PluginRuntime, text: &str) -> Result<String, Error> {
    let agent = runtime
        .create_agent(AgentConfig::builder("test-model").build())
        .await?;
    let handle = runtime.chat(agent, &Content::text(text)).await?;
    Ok(handle.text().await?.text)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_agent_answers_by_default() {
    let runtime = plugin().new_runtime(&json!({})).unwrap();
    assert_eq!(
        ask(&runtime, "hello there").await.unwrap(),
        "echo: hello there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_agent_loads_from_a_directory_on_python_path() {
    let runtime = runtime_for("shouting:Shouting").unwrap();
    assert_eq!(
        ask(&runtime, "make it loud").await.unwrap(),
        "MAKE IT LOUD "
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_exception_carries_its_type_message_and_traceback() {
    let runtime = runtime_for("failing:Raises").unwrap();
    let error = ask(&runtime, "go").await.unwrap_err();
    let Error::BackendError(message) = &error else {
        panic!("expected a backend error, got {error:?}")
    };
    assert!(message.contains("ValueError"), "{message}");
    assert!(message.contains("the agent broke on purpose"), "{message}");
    assert!(message.contains("Traceback"), "{message}");
    assert!(message.contains("failing.py"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_exceeded_becomes_a_quota_error_and_backs_off() {
    let runtime = runtime_for("failing:OverQuota").unwrap();
    let error = ask(&runtime, "go").await.unwrap_err();
    assert_eq!(
        error,
        Error::QuotaExceeded {
            retry_after: Some(Duration::from_millis(2500)),
            message: "slow down".into(),
        }
    );
    let backoff = runtime.quota_registry().remaining("python").unwrap();
    assert!(backoff >= Duration::from_secs(2), "{backoff:?}");
}

/// The text a turn delivered, and how it ended.
async fn play(runtime: &PluginRuntime, text: &str) -> (String, Result<String, Error>) {
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let handle = runtime.chat(agent, &Content::text(text)).await.unwrap();
    let chunks = handle.text_stream();
    let result = handle.text().await.map(|result| result.text);
    let chunks: Vec<String> = futures::StreamExt::collect(chunks).await;
    (chunks.concat(), result)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lone_surrogate_fails_the_turn_after_the_text_before_it() {
    let source = std::fs::read_to_string(Path::new(&agents_dir()).join("failing.py")).unwrap();
    let line = 1 + source
        .lines()
        .position(|line| line.contains(r#"yield "ok \ud800"#))
        .unwrap();
    let runtime = runtime_for("failing:LoneSurrogate").unwrap();
    let (delivered, result) = play(&runtime, "go").await;
    assert_eq!(delivered, "fine ok ");
    let Err(Error::BackendError(message)) = &result else {
        panic!("expected a backend error, got {result:?}")
    };
    for part in [
        "LoneSurrogate.chat yielded a str",
        &format!("failing.py, line {line})"),
        r"a lone surrogate '\ud800' at index 3",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    // The agent is still usable.
    let (delivered, _) = play(&runtime, "again").await;
    assert_eq!(delivered, "fine ok ");

    let runtime = runtime_for("failing:LoneSurrogateAnswer").unwrap();
    let (delivered, result) = play(&runtime, "go").await;
    assert_eq!(delivered, "ok ");
    assert!(
        matches!(&result, Err(Error::BackendError(message)) if message.contains(r"'\udfff' at index 3")),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_range_retry_after_is_clamped_not_a_panic() {
    let day = Duration::from_secs(24 * 60 * 60);
    let cases = [
        ("1e30", Some(day)),
        ("inf", Some(day)),
        ("1e300", Some(day)),
        ("-5", Some(Duration::ZERO)),
        ("-inf", Some(Duration::ZERO)),
        ("nan", None),
        ("0.25", Some(Duration::from_millis(250))),
    ];
    for (asked, expected) in cases {
        let runtime = runtime_for("failing:QuotaAsked").unwrap();
        let error = ask(&runtime, asked).await.unwrap_err();
        let Error::QuotaExceeded { retry_after, .. } = &error else {
            panic!("{asked}: expected a quota error, got {error:?}")
        };
        assert_eq!(*retry_after, expected, "{asked}");
        // The runtime is still there and backs off no longer than the cap.
        let backoff = runtime.quota_registry().remaining("python");
        assert!(
            backoff.is_none_or(|backoff| backoff <= day * 2),
            "{asked}: {backoff:?}"
        );
        assert!(runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .is_ok());
    }
}

#[test]
fn a_missing_module_is_an_invalid_agent_option() {
    let error = runtime_for("no_such_module:Agent").unwrap_err();
    let Error::InvalidConfig(message) = &error else {
        panic!("expected InvalidConfig, got {error:?}")
    };
    assert!(message.contains("option `agent`"), "{message}");
    assert!(message.contains("no_such_module"), "{message}");
}

#[test]
fn a_syntax_error_shows_the_file_and_line() {
    let error = runtime_for("broken_syntax:Broken").unwrap_err();
    let Error::InvalidConfig(message) = &error else {
        panic!("expected InvalidConfig, got {error:?}")
    };
    assert!(message.contains("SyntaxError"), "{message}");
    assert!(message.contains("broken_syntax.py"), "{message}");
}

#[test]
fn a_missing_attribute_is_named() {
    let error = runtime_for("failing:NoSuchAgent").unwrap_err();
    assert!(
        matches!(&error, Error::InvalidConfig(message) if message.contains("NoSuchAgent")),
        "{error:?}"
    );
    let error = runtime_for("failing:not_a_class").unwrap_err();
    assert!(matches!(error, Error::InvalidConfig(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_refusing_its_config_is_invalid_config() {
    let runtime = runtime_for("failing:RefusesConfig").unwrap();
    let error = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidConfig(message) if message.contains("extras.secret")),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosts_call_timeout_ends_hanging_and_loop_blocking_turns() {
    // `Hangs` awaits for an hour; `Sleeps` stops the whole event loop for 3 s, so no
    // limit kept on the loop could fire: the host's, kept outside it, does.
    for (agent, text) in [("failing:Hangs", "go"), ("blocking:Sleeps", "3")] {
        let runtime = runtime_for(agent)
            .unwrap()
            .with_call_timeout(Some(Duration::from_millis(300)));
        let started = std::time::Instant::now();
        let error = ask(&runtime, text).await.unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{agent}: {error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{agent}: timed out only after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_whose_creation_timed_out_is_shut_down_once_built() {
    // The caller gives up while the loop is still building the agent (its `__init__`
    // blocks the loop for a second): the id never reaches anyone, so the backend shuts
    // the agent down itself once it exists.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("shut-down");
    let runtime = runtime_for("blocking:SlowStart")
        .unwrap()
        .with_call_timeout(Some(Duration::from_millis(200)));
    let config = AgentConfig::builder("m")
        .extra("start_seconds", json!(1.0))
        .extra("marker", json!(marker))
        .build();
    let error = runtime.create_agent(config).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !marker.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent built after its caller gave up was never shut down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "shut down");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_turn_can_be_cancelled_and_the_agent_goes_on() {
    let runtime = runtime_for("failing:Hangs").unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let handle = runtime.chat(agent, &"go".into()).await.unwrap();
    let mut chunks = handle.text_stream();
    assert_eq!(
        futures::StreamExt::next(&mut chunks).await.as_deref(),
        Some("thinking ")
    );
    runtime.cancel(agent).await.unwrap();
    assert_eq!(handle.text().await.unwrap_err(), Error::Cancelled);
    // The loop is free again: the agent still answers its other calls.
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
    assert!(runtime.is_idle(agent).await.unwrap());
}

#[test]
fn the_old_call_timeout_option_points_to_the_hosts() {
    let Err(Error::InvalidConfig(message)) = plugin().new_runtime(&json!({"call_timeout_ms": 200}))
    else {
        panic!("call_timeout_ms should be refused");
    };
    assert!(message.contains("[plugins.python]"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn c_extension_modules_import_inside_the_plugin() {
    let runtime = runtime_for("native_modules:UsesNativeModules").unwrap();
    let answer = ask(&runtime, "compute").await.unwrap();
    assert_eq!(answer, r#"{"sum": "0.3", "sqrt2": 1.414}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_venv_site_packages_join_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let site = common::make_venv(&venv, false);
    std::fs::write(
        site.join("venv_only_agent.py"),
        "class Agent:\n    def __init__(self, config):\n        pass\n\n    async def chat(self, content):\n        yield 'from the venv'\n",
    )
    .unwrap();
    let runtime = plugin()
        .new_runtime(&json!({"agent": "venv_only_agent:Agent", "venv": venv}))
        .unwrap();
    assert_eq!(ask(&runtime, "hi").await.unwrap(), "from the venv");

    let error = plugin()
        .new_runtime(&json!({"venv": dir.path().join("not-a-venv")}))
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidConfig(message) if message.contains("option `venv`")),
        "{error:?}"
    );
}

/// Makes a venv with the Python the plugin embeds, with an agent module in its
/// site-packages that reports what it can see.
fn venv_with_probe(dir: &Path, name: &str, system_site_packages: bool) -> std::path::PathBuf {
    let venv = dir.join(name);
    let site = common::make_venv(&venv, system_site_packages);
    std::fs::write(
        site.join(format!("{name}_probe.py")),
        "import importlib.util, json, sys\n\n\nclass Agent:\n    def __init__(self, config):\n        pass\n\n    async def chat(self, content):\n        yield json.dumps({'pip': importlib.util.find_spec('pip') is not None, 'path': sys.path})\n",
    )
    .unwrap();
    venv
}

/// Whether the agent sees the base interpreter's pip, and whether a base site-packages
/// directory is on its `sys.path`.
async fn probe(venv: &Path, name: &str) -> (bool, bool) {
    let runtime = plugin()
        .new_runtime(&json!({"agent": format!("{name}_probe:Agent"), "venv": venv}))
        .unwrap();
    let answer: serde_json::Value =
        serde_json::from_str(&ask(&runtime, "hi").await.unwrap()).unwrap();
    let base = Path::new(env!("AGENT_PYTHON_HOME")).join("lib");
    let base_site_on_path = answer["path"].as_array().unwrap().iter().any(|entry| {
        let entry = entry.as_str().unwrap();
        entry.starts_with(base.to_str().unwrap()) && entry.ends_with("site-packages")
    });
    (answer["pip"].as_bool().unwrap(), base_site_on_path)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_venv_include_system_site_packages_setting_is_honoured() {
    let base_site = Path::new(env!("AGENT_PYTHON_HOME"))
        .join("lib")
        .join(format!("python{}", env!("AGENT_PYTHON_VERSION")))
        .join("site-packages/pip");
    assert!(
        base_site.is_dir(),
        "this test needs pip in the base Python: {}",
        base_site.display()
    );
    let dir = tempfile::tempdir().unwrap();
    // `true` first: the sys.path of the one interpreter is the process's, and a venv
    // that excludes the base packages takes them away for good.
    let including = venv_with_probe(dir.path(), "including", true);
    assert_eq!(probe(&including, "including").await, (true, true));
    let isolated = venv_with_probe(dir.path(), "isolated", false);
    assert_eq!(probe(&isolated, "isolated").await, (false, false));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_agents_chat_at_once_on_one_loop() {
    let runtime = plugin().new_runtime(&json!({})).unwrap();
    let config = AgentConfig::builder("m")
        .extra("chunk_delay_ms", json!(0))
        .build();
    let mut agents = Vec::new();
    for _ in 0..1000 {
        agents.push(runtime.create_agent(config.clone()).await.unwrap());
    }
    let turns = agents.iter().map(|&agent| {
        let runtime = &runtime;
        async move {
            let handle = runtime
                .chat(agent, &Content::text(format!("agent {agent}")))
                .await
                .unwrap();
            (agent, handle.text().await.unwrap().text)
        }
    });
    for (agent, answer) in futures::future::join_all(turns).await {
        assert_eq!(answer, format!("echo: agent {agent}"));
    }
    for &agent in &agents {
        assert_eq!(runtime.turn_count(agent).await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_options_and_agents_are_refused_clearly() {
    let error = plugin().new_runtime(&json!({"agnet": "x:y"})).unwrap_err();
    assert!(error.to_string().contains("agnet"), "{error}");
    let runtime = plugin().new_runtime(&json!({})).unwrap();
    assert_eq!(
        runtime.turn_count(77).await.unwrap_err(),
        Error::AgentNotStarted(77)
    );
}

/// A `send` turn is a chat turn nobody reads: it calls the host's tools the same way,
/// and its calls and results land in the history when it completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_sent_turn_calls_the_hosts_tools_and_records_them() {
    use agent_plugin_api::types::{Role, ToolDefinition, ToolError, Tools};

    let runtime = plugin().new_runtime(&json!({})).unwrap();
    let calculator = ToolDefinition::new(
        "calculator",
        "Multiplies two integers, like 6*7.",
        json!({"type": "object", "properties": {"expression": {"type": "string"}}}),
    );
    let tools = Tools::new().with("calculator", |args| async move {
        match args["expression"].as_str() {
            Some("6*7") => Ok(json!(42)),
            other => Err(ToolError::new(format!("cannot evaluate {other:?}"))),
        }
    });
    let config = AgentConfig::builder("m").tool(calculator).build();
    let agent = runtime
        .create_agent_with_tools(config, tools)
        .await
        .unwrap();

    runtime
        .send(agent, &Content::text("calculator: 6*7"))
        .await
        .unwrap();
    assert!(runtime
        .wait_for_wakeup(agent, Duration::from_secs(5))
        .await
        .unwrap());
    tokio::time::timeout(Duration::from_secs(30), runtime.wait_for_idle(agent))
        .await
        .expect("the sent turn never ended")
        .unwrap();

    let history = runtime.history(agent).await.unwrap();
    let roles: Vec<&Role> = history.iter().map(|message| &message.role).collect();
    assert_eq!(
        roles,
        [&Role::User, &Role::Model, &Role::Tool, &Role::Model],
        "{history:?}"
    );
    let call = &history[1].tool_calls[0];
    assert_eq!(call.name, "calculator");
    assert_eq!(call.args, json!({"expression": "6*7"}));
    let result = history[2].tool_result.as_ref().unwrap();
    assert_eq!(result.id, call.id);
    assert_eq!(result.output, Ok(json!(42)));
    assert_eq!(history[3].content, Content::text("calculator: 42"));
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 1);
    assert!(runtime.is_idle(agent).await.unwrap());
}

/// A saved turn keeps its calls to the host's tools: the live history has them, and so
/// does the conversation resumed from disk by another runtime.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_turn_with_tool_calls_resumes_with_them() {
    use agent_plugin_api::types::{Role, ToolDefinition, Tools};

    let dir = tempfile::tempdir().unwrap();
    let calculator = ToolDefinition::new(
        "calculator",
        "Multiplies two integers, like 6*7.",
        json!({"type": "object", "properties": {"expression": {"type": "string"}}}),
    );
    let config = AgentConfig::builder("m")
        .tool(calculator)
        .save_dir(dir.path())
        .conversation_id("with-tools")
        .build();
    let tools = || Tools::new().with("calculator", |_| async move { Ok(json!(42)) });

    let runtime = plugin().new_runtime(&json!({})).unwrap();
    let agent = runtime
        .create_agent_with_tools(config.clone(), tools())
        .await
        .unwrap();
    let answer = runtime
        .chat(agent, &Content::text("calculator: 6*7"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer.text, "calculator: 42");
    let live = runtime.history(agent).await.unwrap();
    let roles: Vec<&Role> = live.iter().map(|message| &message.role).collect();
    assert_eq!(
        roles,
        [&Role::User, &Role::Model, &Role::Tool, &Role::Model]
    );
    runtime.shutdown_agent(agent).await.unwrap();

    let restarted = plugin().new_runtime(&json!({})).unwrap();
    let resumed = restarted
        .create_agent_with_tools(config, tools())
        .await
        .unwrap();
    assert_eq!(restarted.history(resumed).await.unwrap(), live);
    assert_eq!(restarted.turn_count(resumed).await.unwrap(), 1);
    assert_eq!(
        restarted.last_response(resumed).await.unwrap().as_deref(),
        Some("calculator: 42")
    );
}
