//! The OpenAI backend through its staged plugin file, against the local stub server:
//! streaming, usage, quota (429 with a retry hint), retries, server messages, cut
//! streams, tools called through the host, structured output, reasoning, cancel.
//! `cargo xtask test` stages the plugin and sets `AGENT_HOST_DIST`.

mod stub;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use agent_plugin_api::host::{PluginLibrary, PluginRuntime};
use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatEvent, ChatResult, Content, Error, Media, Role, ToolDefinition, Tools,
};
use agent_plugin_api::Runtime;
use futures::StreamExt;
use serde_json::{json, Value};
use stub::{Reply, Stub};

fn plugin_file() -> PathBuf {
    let dist = std::env::var_os("AGENT_HOST_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/dist"))
        });
    let file = dist.join("plugins/libagent_plugin_openai.so");
    assert!(
        file.is_file(),
        "{} is missing: run `cargo xtask stage`",
        file.display()
    );
    file
}

/// Runs the staged `agent-host` (beside the plugin's directory) in a process of its own,
/// with the staged plugins and no config from the environment.
async fn run_staged_host(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let plugins = plugin_file().parent().unwrap().to_owned();
        std::process::Command::new(plugins.parent().unwrap().join("agent-host"))
            .arg("--plugin-dir")
            .arg(&plugins)
            .args(args)
            .env_remove("AGENT_HOST_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|&arg| arg.to_owned()).collect()
}

fn runtime(stub: &Stub, extra_options: Value) -> PluginRuntime {
    let library = PluginLibrary::open(plugin_file()).expect("the staged plugin loads");
    let mut options = json!({"base_url": stub.url(), "api_key": "sk-test"});
    options
        .as_object_mut()
        .unwrap()
        .extend(extra_options.as_object().cloned().unwrap_or_default());
    library.new_runtime(&options).expect("options accepted")
}

/// An agent with a plain config.
async fn plain_agent(runtime: &PluginRuntime) -> AgentId {
    runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap()
}

/// One whole turn: its result, or how it failed.
async fn ask(runtime: &PluginRuntime, agent: AgentId, message: &str) -> Result<ChatResult, Error> {
    runtime
        .chat(agent, &Content::text(message))
        .await
        .unwrap()
        .text()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_streams_with_its_usage_and_the_request_carries_the_config() {
    let stub = Stub::start(vec![Reply::stream(vec![
        stub::text("Hel"),
        stub::text("lo"),
        stub::usage(12, 3),
    ])])
    .await;
    let runtime = runtime(&stub, json!({}));
    let config = AgentConfig::builder("gpt-test")
        .system_instructions("be brief")
        .extra("temperature", json!(0.1))
        .build();
    let agent = runtime.create_agent(config).await.unwrap();
    let handle = runtime.chat(agent, &Content::text("hi")).await.unwrap();
    let chunks: Vec<String> = handle.text_stream().collect().await;
    let result = handle.text().await.unwrap();
    assert_eq!(result.text, "Hello");
    assert_eq!(chunks, ["Hel", "lo"]);
    assert_eq!(result.usage.prompt_token_count, Some(12));
    assert_eq!(result.usage.candidates_token_count, Some(3));
    let request = &stub.requests()[0];
    assert_eq!(request["model"], "gpt-test");
    assert_eq!(request["stream"], true);
    assert_eq!(request["temperature"], 0.1);
    assert_eq!(
        request["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        request["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_a_quota_hit_whose_retry_hint_is_waited_out() {
    let quota = || Reply::Status {
        code: 429,
        headers: vec![("retry-after-ms", "300".to_owned())],
        body: r#"{"error": {"message": "slow down"}}"#.to_owned(),
    };
    let stub = Stub::start(vec![
        quota(),
        Reply::stream(vec![stub::text("ok")]),
        quota(),
    ])
    .await;
    let runtime = runtime(&stub, json!({}));
    let patient = AgentConfig::builder("m").max_quota_retries(1).build();
    let agent = runtime.create_agent(patient).await.unwrap();
    let started = Instant::now();
    let answer = ask(&runtime, agent, "hi").await;
    assert_eq!(answer.unwrap().text, "ok");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stub.requests().len(), 2);

    // No retries allowed: the turn ends with the quota error, and the hit stays recorded.
    let impatient = plain_agent(&runtime).await;
    let outcome = ask(&runtime, impatient, "hi").await;
    let Err(Error::QuotaExceeded {
        retry_after,
        message,
    }) = outcome
    else {
        panic!("expected QuotaExceeded, got {outcome:?}");
    };
    assert_eq!(retry_after, Some(Duration::from_millis(300)));
    assert!(message.contains("slow down"), "{message}");
    let waited = Instant::now();
    runtime.wait_for_quota().await;
    assert!(
        waited.elapsed() >= Duration::from_millis(200),
        "{:?}",
        waited.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_and_a_4xx_carries_the_servers_message() {
    let stub = Stub::start(vec![
        Reply::status(500, "boom"),
        Reply::status(503, r#"{"error": {"message": "busy"}}"#),
        Reply::stream(vec![stub::text("third time")]),
        Reply::status(404, r#"{"error": {"message": "model `nosuch` not found"}}"#),
    ])
    .await;
    let runtime = runtime(&stub, json!({"max_attempts": 3}));
    let agent = plain_agent(&runtime).await;
    let answer = ask(&runtime, agent, "a").await;
    assert_eq!(answer.unwrap().text, "third time");
    let outcome = ask(&runtime, agent, "b").await;
    let Err(Error::BackendError(message)) = outcome else {
        panic!("expected a backend error, got {outcome:?}");
    };
    assert!(
        message.contains("404") && message.contains("model `nosuch` not found"),
        "{message}"
    );
    assert_eq!(stub.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_before_done_is_connection_closed_and_changes_nothing() {
    let stub = Stub::start(vec![Reply::Stream {
        events: vec![stub::text("half an ans")],
        delay: Duration::ZERO,
        cut: true,
    }])
    .await;
    let runtime = runtime(&stub, json!({}));
    let agent = plain_agent(&runtime).await;
    let outcome = ask(&runtime, agent, "hi").await;
    assert!(
        matches!(outcome, Err(Error::ConnectionClosed)),
        "{outcome:?}"
    );
    runtime.wait_for_idle(agent).await.unwrap();
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_in_fragments_run_through_the_host_and_their_results_go_back() {
    let call_fragments = vec![
        json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_7", "type": "function",
            "function": {"name": "calculator", "arguments": "{\"expr"}}]}}]}),
        json!({"choices": [{"delta": {"tool_calls": [{"index": 0,
            "function": {"arguments": "ession\": \"6*7\"}"}}]}, "finish_reason": "tool_calls"}]}),
    ];
    let stub = Stub::start(vec![
        Reply::stream(call_fragments),
        Reply::stream(vec![stub::text("It is 42.")]),
    ])
    .await;
    let runtime = runtime(&stub, json!({}));
    let mut config = AgentConfig::builder("m").build();
    config.tools.push(ToolDefinition {
        name: "calculator".into(),
        description: "evaluates arithmetic".into(),
        parameter_schema: json!({"type": "object", "properties": {"expression": {"type": "string"}}}),
    });
    let tools = Tools::new().with("calculator", |args: Value| async move {
        assert_eq!(args, json!({"expression": "6*7"}));
        Ok(json!("42"))
    });
    let agent = runtime
        .create_agent_with_tools(config, tools)
        .await
        .unwrap();
    let handle = runtime
        .chat(agent, &Content::text("what is 6*7?"))
        .await
        .unwrap();
    let calls: Vec<_> = handle.tool_calls().collect().await;
    let answer = handle.text().await.unwrap();
    assert_eq!(answer.text, "It is 42.");
    assert_eq!(calls.len(), 1);
    let requests = stub.requests();
    assert_eq!(requests[0]["tools"][0]["function"]["name"], "calculator");
    let second = requests[1]["messages"].as_array().unwrap();
    let assistant = &second[second.len() - 2];
    assert_eq!(assistant["tool_calls"][0]["id"], "call_7");
    assert_eq!(
        second[second.len() - 1],
        json!({"role": "tool", "tool_call_id": "call_7", "content": "42"})
    );
    runtime.wait_for_idle(agent).await.unwrap();
    let history = runtime.history(agent).await.unwrap();
    assert!(
        history.iter().any(|message| message.role == Role::Tool),
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn structured_output_is_asked_for_and_parsed_and_reasoning_is_a_thought() {
    let stub = Stub::start(vec![Reply::stream(vec![
        json!({"choices": [{"delta": {"reasoning_content": "thinking it over"}}]}),
        stub::text("{\"city\": "),
        stub::text("\"Paris\"}"),
    ])])
    .await;
    let runtime = runtime(&stub, json!({}));
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let config = AgentConfig::builder("m")
        .response_schema(schema.clone())
        .build();
    let agent = runtime.create_agent(config).await.unwrap();
    let handle = runtime
        .chat(agent, &Content::text("capital of France?"))
        .await
        .unwrap();
    let events: Vec<ChatEvent> = handle.events().collect().await;
    let result = handle.text().await.unwrap();
    assert_eq!(result.structured_output, Some(json!({"city": "Paris"})));
    assert!(
        events
            .iter()
            .any(|event| matches!(event, ChatEvent::Thought(text) if text == "thinking it over")),
        "{events:?}"
    );
    let request = &stub.requests()[0];
    assert_eq!(request["response_format"]["type"], "json_schema");
    assert_eq!(request["response_format"]["json_schema"]["schema"], schema);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_turn_ends_it_at_once_mid_stream() {
    let stub = Stub::start(vec![Reply::Stream {
        events: (0..100).map(|n| stub::text(&format!("{n} "))).collect(),
        delay: Duration::from_millis(100),
        cut: false,
    }])
    .await;
    let runtime = runtime(&stub, json!({}));
    let agent = plain_agent(&runtime).await;
    let handle = runtime.chat(agent, &Content::text("count")).await.unwrap();
    let mut text = handle.text_stream();
    text.next().await.expect("a first chunk");
    let started = Instant::now();
    runtime.cancel(agent).await.unwrap();
    let outcome = handle.text().await;
    assert!(matches!(outcome, Err(Error::Cancelled)), "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_options_and_extras_are_refused_by_name() {
    let stub = Stub::start(vec![]).await;
    let library = PluginLibrary::open(plugin_file()).unwrap();
    let error = library
        .new_runtime(&json!({"base_url": "ftp://x", "api_key": "k"}))
        .unwrap_err();
    assert!(error.to_string().contains("option `base_url`"), "{error}");
    let error = library
        .new_runtime(&json!({"base_ulr": stub.url()}))
        .unwrap_err();
    assert!(
        error.to_string().contains("did you mean `base_url`"),
        "{error}"
    );
    let runtime = runtime(&stub, json!({}));
    let config = AgentConfig::builder("m")
        .extra("messages", json!([]))
        .build();
    let error = runtime.create_agent(config).await.unwrap_err();
    assert!(error.to_string().contains("extras.messages"), "{error}");
}

/// `agent-host check`, the unmodified staged host in a process of its own, passes on the
/// plugin with the stub's echo model behind it.
#[tokio::test(flavor = "multi_thread")]
async fn agent_host_check_passes_against_the_stub() {
    let stub = Stub::echo_model(Duration::from_millis(10)).await;
    let file = plugin_file();
    let base_url = format!("base_url={}", stub.url());
    let output = run_staged_host(strings(&[
        "check",
        file.to_str().unwrap(),
        "--option",
        &base_url,
        "--option",
        "api_key=sk-test",
        "--failing-prompt",
        "please FAIL",
        "--json",
    ]))
    .await;
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let not_passed: Vec<&Value> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|case| case["status"] != "passed")
        .collect();
    assert!(
        output.status.success() && not_passed.is_empty(),
        "{not_passed:#?}\n{}",
        report["tally"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_server_and_a_stalled_stream_time_out_by_their_options() {
    let stub = Stub::start(vec![
        Reply::Silence(Duration::from_secs(5)),
        Reply::Stream {
            events: vec![stub::text("a"), stub::text("b")],
            delay: Duration::from_millis(800),
            cut: false,
        },
    ])
    .await;
    let runtime = runtime(
        &stub,
        json!({"first_byte_timeout_ms": 200, "chunk_timeout_ms": 300, "max_attempts": 1}),
    );
    let agent = plain_agent(&runtime).await;
    let started = Instant::now();
    let outcome = ask(&runtime, agent, "anyone there?").await;
    let Err(Error::Timeout {
        duration,
        operation,
    }) = outcome
    else {
        panic!("expected a timeout, got {outcome:?}");
    };
    assert_eq!(duration, Duration::from_millis(200));
    assert!(operation.contains("first byte"), "{operation}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let outcome = ask(&runtime, agent, "and now?").await;
    let Err(Error::Timeout { operation, .. }) = outcome else {
        panic!("expected a timeout, got {outcome:?}");
    };
    assert!(operation.contains("next streamed chunk"), "{operation}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_organization_and_extra_headers_are_sent() {
    let stub = Stub::start(vec![Reply::stream(vec![stub::text("ok")])]).await;
    let runtime = runtime(
        &stub,
        json!({"organization": "org-7", "headers": {"X-Team": "agents"}}),
    );
    let agent = plain_agent(&runtime).await;
    assert_eq!(ask(&runtime, agent, "hi").await.unwrap().text, "ok");
    let head = &stub.heads()[0];
    for line in [
        "post /v1/chat/completions http/1.1",
        "authorization: bearer sk-test",
        "openai-organization: org-7",
        "x-team: agents",
    ] {
        assert!(head.contains(line), "{line:?} not in\n{head}");
    }
}

/// With a `save_dir`, a conversation outlives its runtime: an agent on the same
/// `conversation_id` in a new runtime sends the earlier turns to the model again.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_conversation_is_sent_to_the_model_again() {
    let stub = Stub::start(vec![
        Reply::stream(vec![stub::text("Paris"), stub::usage(5, 1)]),
        Reply::stream(vec![stub::text("About 2 million"), stub::usage(9, 3)]),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = AgentConfig::builder("m")
        .save_dir(dir.path())
        .conversation_id("geography")
        .build();
    let first = runtime(&stub, json!({}));
    let agent = first.create_agent(config.clone()).await.unwrap();
    assert_eq!(
        ask(&first, agent, "Capital of France?").await.unwrap().text,
        "Paris"
    );
    first.shutdown_agent(agent).await.unwrap();
    drop(first);

    let second = runtime(&stub, json!({}));
    let agent = second.create_agent(config).await.unwrap();
    assert_eq!(second.turn_count(agent).await.unwrap(), 1);
    assert_eq!(
        second.conversation_id(agent).await.unwrap().as_deref(),
        Some("geography")
    );
    ask(&second, agent, "How many live there?").await.unwrap();
    let messages = &stub.requests()[1]["messages"];
    assert_eq!(
        messages,
        &json!([
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris"},
            {"role": "user", "content": "How many live there?"},
        ])
    );
    let total = second.total_usage(agent).await.unwrap();
    assert_eq!(total.prompt_token_count, Some(14));
}

/// `agent-host chat`, the staged host in a process of its own, waits out a 429 (twice by
/// default, as the CLI's `--max-quota-retries` says) and answers; with no retries it
/// fails in one line that names the quota and the wait asked for.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_waits_out_a_429_unless_told_not_to() {
    let quota = || Reply::Status {
        code: 429,
        headers: vec![("retry-after", "1".to_owned())],
        body: r#"{"error": {"message": "slow down"}}"#.to_owned(),
    };
    let stub = Stub::start(vec![
        quota(),
        quota(),
        Reply::stream(vec![stub::text("at last")]),
        quota(),
    ])
    .await;
    let base_url = format!("base_url={}", stub.url());
    let chat = |extra: &[&str]| {
        let mut args = strings(&["chat", "--backend", "openai", "--option", &base_url]);
        args.extend(strings(&["--option", "api_key=sk-test"]));
        args.extend(strings(extra));
        args.push("hi".to_owned());
        run_staged_host(args)
    };
    let started = Instant::now();
    let output = chat(&[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "at last\n");
    assert!(started.elapsed() >= Duration::from_secs(2), "{stderr}");

    let output = chat(&["--max-quota-retries", "0"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("quota exceeded (retry after 1s)") && stderr.contains("slow down"),
        "{stderr}"
    );
    assert_eq!(stub.requests().len(), 4);
}

/// Media crosses the ABI and goes out as the API takes it: an image as a data URL, a
/// document as a file part named by its description, audio as `input_audio`, and a
/// video (which the API cannot read) as a note to the model.
#[tokio::test(flavor = "multi_thread")]
async fn media_goes_out_as_data_urls_and_file_parts() {
    let stub = Stub::start(vec![Reply::stream(vec![stub::text("seen")])]).await;
    let runtime = runtime(&stub, json!({}));
    let agent = plain_agent(&runtime).await;
    let mut document = Media::new(b"%PDF".to_vec(), "application/pdf");
    document.description = Some("report.pdf".to_owned());
    let content = Content::Multi(vec![
        Content::text("what is in these?"),
        Content::Image(Media::new(vec![1, 2, 3], "image/png")),
        Content::Document(document),
        Content::Audio(Media::new(vec![0, 1], "audio/wav")),
        Content::Video(Media::new(vec![9], "video/mp4")),
    ]);
    let answer = runtime.chat(agent, &content).await.unwrap().text().await;
    assert_eq!(answer.unwrap().text, "seen");
    let parts = stub.requests()[0]["messages"][0]["content"].clone();
    assert_eq!(
        parts[0],
        json!({"type": "text", "text": "what is in these?"})
    );
    assert_eq!(
        parts[1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AQID"}})
    );
    assert_eq!(
        parts[2],
        json!({"type": "file", "file": {"filename": "report.pdf",
                                        "file_data": "data:application/pdf;base64,JVBERg=="}})
    );
    assert_eq!(
        parts[3],
        json!({"type": "input_audio", "input_audio": {"data": "AAE=", "format": "wav"}})
    );
    assert!(
        parts[4]["text"].as_str().unwrap().contains("video/mp4"),
        "{parts}"
    );
}

/// A connection the server drops without an answer is tried again (with backoff, within
/// `max_attempts`); a server that is not there fails the turn with the cause.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_connection_is_retried_and_a_refused_one_says_why() {
    let stub = Stub::start(vec![
        Reply::Silence(Duration::ZERO),
        Reply::stream(vec![stub::text("second try")]),
    ])
    .await;
    let runtime = runtime(&stub, json!({"max_attempts": 2}));
    let agent = plain_agent(&runtime).await;
    let answer = ask(&runtime, agent, "hi").await;
    assert_eq!(answer.unwrap().text, "second try");
    assert_eq!(stub.requests().len(), 2);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let library = PluginLibrary::open(plugin_file()).unwrap();
    let nowhere = library
        .new_runtime(&json!({"base_url": url, "api_key": "k", "max_attempts": 2}))
        .unwrap();
    let agent = plain_agent(&nowhere).await;
    let outcome = ask(&nowhere, agent, "hi").await;
    let Err(Error::ConnectionError(why)) = outcome else {
        panic!("expected a connection error, got {outcome:?}");
    };
    assert!(why.contains("refused"), "{why}");
}
