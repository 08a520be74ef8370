//! `examples/third-party-plugin`, a crate outside the workspace as a third party's is:
//! built with its own `cargo build`, then listed, inspected, chatted with and checked by
//! the unmodified staged host. Ignored in the ordinary run (it compiles a crate);
//! `cargo xtask test` runs it after the suite.

mod common;

use common::{outside_target, repository, succeeded};

#[test]
#[ignore = "builds a crate of its own: cargo xtask test runs it after the suite"]
fn the_third_party_example_builds_on_its_own_and_runs_in_the_staged_host() {
    let manifest = repository().join("examples/third-party-plugin/Cargo.toml");
    succeeded(
        "cargo build of the third-party example",
        common::cargo()
            .args(["build", "--lib", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(outside_target())
            .output()
            .unwrap(),
    );
    let file = outside_target().join("debug/libecho_plus.so");
    let plugins = common::plugin_dir(&[(file, "libecho_plus.so")]);
    let host = common::staged_binary();
    let run = |args: &[&str]| common::run_binary(&host, args, plugins.path());

    let listed = succeeded("plugins", run(&["plugins"]));
    assert!(listed.contains("echo-plus"), "{listed}");
    let inspected = succeeded("inspect", run(&["inspect", "echo-plus"]));
    assert!(
        inspected.contains("  greeting = string (default \"echo:\")"),
        "{inspected}"
    );
    let answer = succeeded(
        "chat",
        run(&[
            "chat",
            "--backend",
            "echo-plus",
            "--extra",
            "word_delay_ms=0",
            "--verbose",
            "three little words",
        ]),
    );
    assert!(answer.contains("echo: three little words"), "{answer}");
    let bad_extra = run(&[
        "chat",
        "--backend",
        "echo-plus",
        "--extra",
        "word_delay_ms=soon",
        "hi",
    ]);
    assert!(!bad_extra.status.success());
    let message = common::text(&bad_extra.stderr);
    assert!(message.contains("extras.word_delay_ms"), "{message}");
    let checked = succeeded(
        "check",
        run(&[
            "check",
            "libecho_plus.so",
            "--failing-prompt",
            "FAIL",
            "--timeout",
            "60s",
        ]),
    );
    assert!(
        checked.contains(" 0 failed, 0 skipped, 0 crashed"),
        "{checked}"
    );
}
