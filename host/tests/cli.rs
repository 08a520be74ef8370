//! The `agent-host` binary as a user runs it.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use common::run_host as agent_host;

fn stdout(output: &Output) -> String {
    common::text(&output.stdout)
}

fn stderr(output: &Output) -> String {
    common::text(&output.stderr)
}

fn mock_dir() -> tempfile::TempDir {
    common::plugin_dir(&[(common::mock_plugin(), "libagent_plugin_mock.so")])
}

/// `chat` on the mock, answering at once.
fn chat_with_mock(message: &str, plugin_dir: &std::path::Path) -> Output {
    agent_host(
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=0",
            message,
        ],
        plugin_dir,
    )
}

#[test]
fn chat_streams_the_mock_answer() {
    let dir = mock_dir();
    let output = chat_with_mock("Hello there", dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "echo: Hello there\n");
}

#[test]
fn interactive_chat_reads_one_message_per_line() {
    let dir = mock_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(["chat", "--backend", "mock", "--option", "chunk_delay_ms=0"])
        .arg("--plugin-dir")
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"first\n\nsecond\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(stdout(&output), "echo: first\necho: second\n");
}

#[test]
fn an_unknown_backend_fails_naming_the_available_ones() {
    let dir = mock_dir();
    let output = agent_host(&["chat", "--backend", "nosuch", "hi"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.contains("nosuch") && message.contains("mock"),
        "{message}"
    );
}

#[test]
fn plugins_lists_loaded_and_refused_files() {
    let dir = mock_dir();
    common::junk_file(dir.path());
    let output = agent_host(&["plugins"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let mock = table
        .lines()
        .find(|line| line.starts_with("mock "))
        .unwrap_or_else(|| panic!("no mock row in:\n{table}"));
    assert!(mock.contains(agent_plugin_api::host::API_VERSION), "{mock}");
    assert!(mock.ends_with("loaded"), "{mock}");
    let junk = table
        .lines()
        .find(|line| line.contains("libjunk.so"))
        .unwrap();
    assert!(junk.contains("refused: not a loadable library"), "{junk}");
}

#[test]
fn a_junk_plugin_does_not_stop_chat() {
    let dir = mock_dir();
    common::junk_file(dir.path());
    let output = chat_with_mock("still works", dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "echo: still works\n");
}

#[test]
fn a_plugin_dropped_into_the_dir_is_picked_up_without_rebuilding() {
    let dir = mock_dir();
    let before = stdout(&agent_host(&["plugins"], dir.path()));
    assert!(!before.contains("shout"), "{before}");
    std::fs::copy(
        common::shout_plugin(),
        dir.path().join("libshout_plugin.so"),
    )
    .unwrap();
    let after = stdout(&agent_host(&["plugins"], dir.path()));
    assert!(
        after
            .lines()
            .any(|line| line.starts_with("shout ") && line.ends_with("loaded")),
        "{after}"
    );
    let output = agent_host(
        &["chat", "--backend", "shout", "hello out there"],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "HELLO OUT THERE\n");
}

#[test]
fn the_config_file_selects_the_backend_and_its_options() {
    let dir = mock_dir();
    std::fs::write(
        dir.path().join("agent-host.toml"),
        "backend = \"mock\"\n[backends.mock]\nchunk_delay_ms = 0\nreplies = [\"scripted\"]\n",
    )
    .unwrap();
    let output = agent_host(&["chat", "hi"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "scripted\n");
}

#[test]
fn check_builds_runtimes_from_the_config_and_its_filters_must_select_something() {
    let dir = mock_dir();
    std::fs::write(
        dir.path().join("agent-host.toml"),
        "[backends.mock]\nchunk_chars = 0\n",
    )
    .unwrap();
    let plugin = "libagent_plugin_mock.so";
    let from_config = agent_host(&["check", plugin, "--case", "chat"], dir.path());
    assert!(!from_config.status.success());
    let message = stderr(&from_config);
    assert!(
        message.contains("option `chunk_chars` of plugin mock"),
        "{message}"
    );
    // --option replaces the config's value, key by key.
    let overridden = agent_host(
        &[
            "check",
            plugin,
            "--option",
            "chunk_chars=8",
            "--case",
            "chat.cancel_without_turn",
        ],
        dir.path(),
    );
    assert!(overridden.status.success(), "{}", stderr(&overridden));
    for (filters, expected) in [
        (
            &["--exclude", "nosuch"][..],
            "--exclude \"nosuch\" matches no case",
        ),
        (
            &["--case", "chat.drop_cancels", "--exclude", "chat"][..],
            "leave no case to run",
        ),
    ] {
        let mut args = vec!["check", plugin, "--option", "chunk_chars=8"];
        args.extend_from_slice(filters);
        let output = agent_host(&args, dir.path());
        assert!(!output.status.success());
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    }
}

#[test]
fn a_bad_config_names_the_file_and_the_field() {
    let dir = mock_dir();
    let config = dir.path().join("broken.toml");
    std::fs::write(&config, "backnd = \"mock\"\n").unwrap();
    let output = agent_host(
        &["chat", "--config", config.to_str().unwrap(), "hi"],
        dir.path(),
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("broken.toml") && message.contains("backnd"),
        "{message}"
    );
}

#[test]
fn a_bad_option_names_the_option() {
    let dir = mock_dir();
    let output = agent_host(
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=soon",
            "hi",
        ],
        dir.path(),
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("chunk_delay_ms"), "{message}");
}

#[test]
fn inspect_shows_versions_and_options() {
    let dir = mock_dir();
    let by_name = stdout(&agent_host(&["inspect", "mock"], dir.path()));
    assert!(by_name.contains("name:         mock"), "{by_name}");
    assert!(by_name.contains("chunk_delay_ms"), "{by_name}");
    let path = dir.path().join("libagent_plugin_mock.so");
    let by_path = stdout(&agent_host(
        &["inspect", path.to_str().unwrap()],
        dir.path(),
    ));
    assert_eq!(by_name, by_path);
}

#[test]
fn inspect_shows_each_option_with_its_type_range_default_and_help() {
    let dir = mock_dir();
    let shown = stdout(&agent_host(&["inspect", "mock"], dir.path()));
    assert!(
        shown
            .contains("  chunk_chars = integer, 1..=1000000 (default 8)\n      The answer streams"),
        "{shown}"
    );
    assert!(
        shown.contains("  reply = \"echo\" | \"scripted\" (default \"echo\")"),
        "{shown}"
    );
    assert!(
        shown.contains("  replies = array of string (default [])"),
        "{shown}"
    );
}

#[test]
fn a_misspelt_option_is_refused_by_name_even_without_deny_unknown_fields() {
    let dir = common::plugin_dir(&[(common::fixture("misbehaving"), "libmisbehaving.so")]);
    let output = agent_host(
        &[
            "chat",
            "--backend",
            "misbehaving",
            "--option",
            "constructr=ok",
            "hi",
        ],
        dir.path(),
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("option `constructr` of plugin misbehaving: unknown option (did you mean `constructor`?)"),
        "{message}"
    );
    let output = agent_host(
        &[
            "chat",
            "--backend",
            "misbehaving",
            "--option",
            "immediate=yes",
            "hi",
        ],
        dir.path(),
    );
    let message = stderr(&output);
    assert!(
        message.contains(
            "option `immediate` of plugin misbehaving: expected a boolean, got the string \"yes\""
        ),
        "{message}"
    );
    assert!(
        !message.contains("line") && !message.contains("column"),
        "{message}"
    );
}

/// The logs (stderr) of a one-message chat with the mock under `RUST_LOG=filter`.
fn chat_logs(plugin_dir: &std::path::Path, filter: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args([
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=0",
            "hi",
        ])
        .arg("--plugin-dir")
        .arg(plugin_dir)
        .env("RUST_LOG", filter)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stderr(&output)
}

#[test]
fn log_filters_tell_a_plugins_own_events_from_its_dependencies() {
    let dir = mock_dir();
    let logs = |filter: &str| chat_logs(dir.path(), filter);
    // The mock's own event, and the kit's (another crate inside the same plugin).
    let own = "plugin::mock::agent_plugin_mock::backend";
    let kit = "plugin::mock::agent_plugin_api::kit";
    let all = logs("plugin::mock=debug");
    assert!(all.contains(own) && all.contains(kit), "{all}");
    let only_own = logs("plugin::mock=debug,plugin::mock::agent_plugin_api=off");
    assert!(
        only_own.contains(own) && !only_own.contains(kit),
        "{only_own}"
    );
    let only_kit = logs("plugin::mock::agent_plugin_api=debug");
    assert!(
        !only_kit.contains(own) && only_kit.contains(kit),
        "{only_kit}"
    );
}

#[test]
fn inspect_explains_a_refused_file() {
    let dir = mock_dir();
    let output = agent_host(
        &["inspect", common::fixture("wrong_api").to_str().unwrap()],
        dir.path(),
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("0.99.0") && message.contains("rebuild"),
        "{message}"
    );
}

#[test]
fn check_passes_on_the_mock_and_fails_on_a_broken_plugin() {
    let dir = mock_dir();
    let mock = dir.path().join("libagent_plugin_mock.so");
    let output = agent_host(&["check", mock.to_str().unwrap()], dir.path());
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains(" passed, 0 failed"),
        "{}",
        stdout(&output)
    );
    // The tool checks' panicking handler is contained: no crash report.
    assert!(stdout(&output).contains("PASS   tools.failing_tool"));
    assert!(
        !stderr(&output).contains("internal error"),
        "{}",
        stderr(&output)
    );

    let broken = common::fixture("misbehaving");
    let output = agent_host(
        &[
            "check",
            broken.to_str().unwrap(),
            "--option",
            "panic_in=[\"history\"]",
        ],
        dir.path(),
    );
    assert!(!output.status.success(), "{}", stdout(&output));
}

#[test]
fn check_reports_a_case_that_kills_the_plugin_as_crashed_and_goes_on() {
    let dir = mock_dir();
    let broken = common::fixture("misbehaving");
    let args = |crash: &str, extra: &[&'static str]| {
        let mut args = vec![
            "check".to_owned(),
            broken.to_str().unwrap().to_owned(),
            "--option".to_owned(),
            format!("crash=\"{crash}\""),
            "--failing-prompt".to_owned(),
            "crash now".to_owned(),
            "--case".to_owned(),
            "conversation".to_owned(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    };
    for (crash, how) in [
        ("segfault", "SIGSEGV"),
        ("abort", "SIGABRT"),
        ("exit", "exit status 3"),
    ] {
        let args = args(crash, &["--json"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = agent_host(&args, dir.path());
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let cases = report["cases"].as_array().unwrap();
        let crashed: Vec<&serde_json::Value> = cases
            .iter()
            .filter(|case| case["status"] == "crashed")
            .collect();
        assert_eq!(crashed.len(), 1, "{report:#}");
        assert_eq!(
            crashed[0]["name"],
            "conversation.failed_turn_changes_nothing"
        );
        let details = crashed[0]["details"].as_str().unwrap();
        assert!(
            details.contains(&format!("the plugin's process died: {how}")),
            "{details}"
        );
        // Every other case of the topic still ran and was reported.
        assert!(cases.len() > 5, "{report:#}");
        assert!(
            cases.iter().any(|case| case["status"] == "passed"),
            "{report:#}"
        );
    }
    // In-process, the crash takes the whole run with it.
    let args = args("segfault", &["--in-process"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = agent_host(&args, dir.path());
    assert_eq!(output.status.signal(), Some(11), "{}", stdout(&output));
}

#[test]
fn check_fails_a_case_that_hangs_and_reports_the_rest() {
    let dir = mock_dir();
    let broken = common::fixture("misbehaving");
    let output = agent_host(
        &[
            "check",
            broken.to_str().unwrap(),
            "--option",
            "crash=\"hang\"",
            "--failing-prompt",
            "crash now",
            "--case",
            "conversation.failed_turn_changes_nothing",
            "--timeout",
            "1s",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("FAIL   conversation.failed_turn_changes_nothing"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("timed out"), "{}", stdout(&output));
}

#[test]
fn the_staged_binary_finds_its_plugins_with_no_flags() {
    let output = Command::new(common::staged_binary())
        .arg("plugins")
        .env_remove("AGENT_HOST_PLUGIN_PATH")
        .env_remove("AGENT_HOST_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("mock ") && line.ends_with("loaded")),
        "{table}"
    );
}

/// Interactive `chat` on the mock with `input` on stdin; stdout, stderr and exit status.
fn interactive_chat(input: &[u8], plugin_dir: &std::path::Path) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(["chat", "--backend", "mock", "--option", "chunk_delay_ms=0"])
        .arg("--plugin-dir")
        .arg(plugin_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn interactive_chat_reports_a_failed_turn_and_reads_the_next_line() {
    let dir = mock_dir();
    let output = interactive_chat(b"one\nplease FAIL\nthree\n", dir.path());
    assert_eq!(stdout(&output), "echo: one\necho: three\n");
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("agent-host: stdin line 2: backend \"mock\": ")
            && message.contains("FAIL"),
        "{message}"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_line_that_is_not_utf8_is_named_and_the_session_goes_on() {
    let dir = mock_dir();
    let output = interactive_chat(b"one\n\xff\xfe\nthree\n", dir.path());
    assert_eq!(stdout(&output), "echo: one\necho: three\n");
    assert_eq!(
        stderr(&output),
        "agent-host: stdin line 2: not valid UTF-8\n"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_closed_stdout_ends_chat_quietly_with_141() {
    use std::io::Read;
    let dir = mock_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(["chat", "--backend", "mock", "--option", "chunk_delay_ms=20"])
        .args([
            "--option",
            "chunk_chars=2",
            "a message long enough to outlast head",
        ])
        .arg("--plugin-dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -c 5`
    let mut first = [0; 5];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(&first, b"echo:");
    assert_eq!(stderr(&output), "");
    assert_eq!(output.status.code(), Some(141));
}

#[test]
fn a_closed_stdout_ends_plugins_quietly_with_141() {
    let dir = mock_dir();
    // A pipe whose reader has already gone: the stdin of a `true` that has exited.
    let mut reader = Command::new("true")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let no_reader = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .arg("plugins")
        .arg("--plugin-dir")
        .arg(dir.path())
        .stdout(no_reader)
        .output()
        .unwrap();
    assert_eq!(stderr(&output), "");
    assert_eq!(output.status.code(), Some(141));
}

#[test]
fn a_failing_stdout_is_named_as_stdout_not_as_the_backend() {
    let dir = mock_dir();
    for args in [
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=0",
            "hi",
        ][..],
        &["plugins"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_agent-host"))
            .args(args)
            .arg("--plugin-dir")
            .arg(dir.path())
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(
            stderr(&output),
            "agent-host: stdout: No space left on device (os error 28)\n",
            "{args:?}"
        );
        assert_eq!(output.status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = mock_dir();
    let logs = chat_logs(dir.path(), "trace");
    assert!(!logs.is_empty(), "no logs at trace level");
    assert!(!logs.contains('\u{1b}'), "{logs:?}");
}

#[test]
fn chat_offers_the_demo_tools_and_shows_each_call() {
    let dir = mock_dir();
    let output = agent_host(
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=0",
            "--tools",
            "demo",
            "--verbose",
            "calculator: 6*7",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "calculator: 42\n");
    let log = stderr(&output);
    let call = log.find("[tool call] call-1-0 calculator {\"expression\":\"6*7\"}");
    let result = log.find("[tool result] call-1-0 calculator 42");
    assert!(call.is_some() && result > call, "{log}");

    let output = agent_host(
        &["chat", "--backend", "mock", "--tools", "nope", "hi"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no such set of tools (known: demo)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn chat_sets_extras_and_a_response_schema_from_the_shell() {
    let dir = mock_dir();
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"type": "object", "properties": {"answer": {"type": "string"}}}"#,
    )
    .unwrap();
    let output = agent_host(
        &[
            "chat",
            "--backend",
            "mock",
            "--option",
            "chunk_delay_ms=0",
            "--extra",
            "chunk_chars=1",
            "--system",
            "be brief",
            "--response-schema",
            schema.to_str().unwrap(),
            "--verbose",
            "hi",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("echo: hi"));
    let structured: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert!(structured.get("answer").is_some(), "{structured}");
    // The extra reaches the agent: out of its range, the mock refuses it by name.
    let output = agent_host(
        &[
            "chat",
            "--backend",
            "mock",
            "--extra",
            "chunk_chars=0",
            "hi",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("extras.chunk_chars"),
        "{}",
        stderr(&output)
    );

    for (flag, value, wanted) in [
        ("--extra", "nokey", "--extra"),
        (
            "--response-schema",
            "/nonexistent.json",
            "--response-schema",
        ),
    ] {
        let output = agent_host(
            &["chat", "--backend", "mock", flag, value, "hi"],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(1), "{flag}");
        assert!(stderr(&output).contains(wanted), "{}", stderr(&output));
    }
}
