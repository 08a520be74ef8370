//! `agent-host new-plugin` as a third party uses it: the crate is written outside the
//! repository, its own `cargo test` passes as generated (the conformance kit in-process
//! and on the plugin file the test builds), and the unmodified staged host lists,
//! inspects, chats with and checks that file.
//!
//! It compiles a crate of its own (minutes on two cores, once; later runs reuse
//! `target/outside`), so the ordinary run skips it and `cargo xtask test` runs it
//! after the suite (`--run-ignored only`).

mod common;

use std::process::Command;

use common::{outside_target, repository, succeeded};

#[test]
#[ignore = "builds a crate of its own: cargo xtask test runs it after the suite"]
fn a_generated_plugin_builds_passes_the_kit_and_runs_in_the_staged_host() {
    let work = tempfile::tempdir().unwrap();
    let crate_dir = work.path().join("acme-echo");
    let host = common::staged_binary();
    succeeded(
        "new-plugin",
        Command::new(&host)
            .args(["new-plugin", "acme-echo", "--path"])
            .arg(&crate_dir)
            .arg("--api-path")
            .arg(repository())
            .output()
            .unwrap(),
    );
    let again = Command::new(&host)
        .args(["new-plugin", "acme-echo", "--path"])
        .arg(&crate_dir)
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "a second run must not overwrite the crate"
    );
    // With no flags, a host built from a checkout takes the crates from it by path.
    let by_default = work.path().join("by-default");
    succeeded(
        "new-plugin with no flags",
        Command::new(&host)
            .args(["new-plugin", "by-default", "--path"])
            .arg(&by_default)
            .output()
            .unwrap(),
    );
    let manifest = std::fs::read_to_string(by_default.join("Cargo.toml")).unwrap();
    let api = std::fs::canonicalize(repository().join("plugin-api"))
        .unwrap()
        .display()
        .to_string();
    assert!(
        manifest.contains(&format!("agent-plugin-api = {{ path = {api:?} }}")),
        "{manifest}"
    );

    let tests = succeeded(
        "the generated crate's cargo test",
        common::cargo()
            .arg("test")
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", outside_target())
            .env_remove("RUST_LOG")
            .output()
            .unwrap(),
    );
    for test in [
        "in_process::chat__cancel_ends_turn ... ok",
        "plugin_file::chat__cancel_ends_turn ... ok",
        "plugin_file::tools__call_and_result ... ok",
        "plugin_file::conversation__failed_turn_changes_nothing ... ok",
    ] {
        assert!(tests.contains(test), "{test:?} not in\n{tests}");
    }

    let file = outside_target().join("plugin-under-test/debug/libacme_echo.so");
    let plugins = common::plugin_dir(&[(file, "libacme_echo.so")]);
    let listed = succeeded(
        "plugins",
        common::run_binary(&host, &["plugins"], plugins.path()),
    );
    assert!(listed.contains("acme-echo"), "{listed}");
    let inspected = succeeded(
        "inspect",
        common::run_binary(&host, &["inspect", "acme-echo"], plugins.path()),
    );
    assert!(
        inspected.contains("  word_delay_ms = integer, 0..=10000 (default 20)"),
        "{inspected}"
    );
    let answer = succeeded(
        "chat",
        common::run_binary(
            &host,
            &[
                "chat",
                "--backend",
                "acme-echo",
                "--option",
                "word_delay_ms=0",
                "hello world",
            ],
            plugins.path(),
        ),
    );
    assert_eq!(answer.trim(), "echo: hello world");
    let misspelt = common::run_binary(
        &host,
        &[
            "chat",
            "--backend",
            "acme-echo",
            "--option",
            "word_dely_ms=0",
            "hi",
        ],
        plugins.path(),
    );
    let message = common::text(&misspelt.stderr);
    assert!(
        message.contains("option `word_dely_ms` of plugin acme-echo: unknown option (did you mean `word_delay_ms`?)"),
        "{message}"
    );
    let checked = succeeded(
        "check",
        common::run_binary(
            &host,
            &[
                "check",
                "libacme_echo.so",
                "--timeout",
                "60s",
                "--failing-prompt",
                "FAIL",
                "--exclude",
                "quota",
            ],
            plugins.path(),
        ),
    );
    assert!(checked.contains(" 0 failed"), "{checked}");
    assert!(!checked.contains("quota."), "excluded: {checked}");
}
