//! What the backend warns about, through the real plugin file: an agent that blocks the
//! one event loop is named with where it is (once per stall), the others carry on once
//! the loop is free, and a turn dropped while the loop was blocked ends cleanly; an
//! out-of-range `retry_after` is clamped with a warning.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{AgentConfig, Content, Error};
use agent_plugin_api::Runtime;
use serde_json::json;

use common::{agents_dir, staged_plugin};

/// Every warning logged in this process (the plugin's come through `log`).
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// One test at a time: they share the process's one event loop when the test runner
/// runs them as threads of one process (`cargo test`), and a blocked loop is everyone's.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds [`SERIAL`]; its warnings are those logged since it was made.
struct Serial {
    _guard: tokio::sync::MutexGuard<'static, ()>,
    from: usize,
}

async fn serial() -> Serial {
    let guard = SERIAL.lock().await;
    Serial {
        _guard: guard,
        from: WARNINGS.lock().unwrap().len(),
    }
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{}: {}", record.target(), record.args());
            WARNINGS.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

/// The runtime, with warnings captured (before the plugin is opened: it takes the
/// host's log level then).
fn runtime(agent: &str) -> PluginRuntime {
    static CAPTURE: Capture = Capture;
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    staged_plugin()
        .new_runtime(&json!({"agent": agent, "python_path": [agents_dir()]}))
        .unwrap()
}

impl Serial {
    fn warnings_with(&self, part: &str) -> Vec<String> {
        WARNINGS.lock().unwrap()[self.from..]
            .iter()
            .filter(|line| line.contains(part))
            .cloned()
            .collect()
    }

    /// Waits (up to 5 s) for a warning containing `part`.
    async fn warning(&self, part: &str) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(5);
        while self.warnings_with(part).is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.warnings_with(part)
    }
}

async fn agent(runtime: &PluginRuntime) -> u64 {
    runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_agent_is_named_with_its_stack_once_per_stall() {
    let serial = serial().await;
    let runtime = runtime("blocking:Sleeps");
    let sleeper = agent(&runtime).await;
    let answer = runtime
        .chat(sleeper, &Content::text("2.2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer.text, "thinking done");
    let stalls = serial.warnings_with("has been blocked for");
    assert_eq!(stalls.len(), 1, "one warning per stall: {stalls:#?}");
    let stall = &stalls[0];
    for part in [
        "plugin::python::agent_plugin_python::watchdog: ",
        &format!("agent {sleeper}'s chat turn"),
        "agent = \"blocking:Sleeps\"",
        "blocking.py\", line ",
        "time.sleep(float(content_text(content)))",
    ] {
        assert!(stall.contains(part), "{part:?} not in {stall}");
    }
    let ended = serial.warning("runs again after being blocked").await;
    assert_eq!(ended.len(), 1, "{ended:#?}");

    // A CPU-bound loop that never awaits is found the same way (it lets the GIL go at
    // its switch interval).
    let runtime = runtime_for_spins();
    let spinner = agent(&runtime).await;
    let handle = runtime.chat(spinner, &Content::text("1.6")).await.unwrap();
    assert_eq!(handle.text().await.unwrap().text, "thinking done");
    let spins = serial.warnings_with("agent = \"blocking:Spins\"");
    assert_eq!(spins.len(), 1, "{spins:#?}");
    assert!(
        spins[0].contains("while time.monotonic() < until"),
        "{}",
        spins[0]
    );
}

fn runtime_for_spins() -> PluginRuntime {
    runtime("blocking:Spins")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_others_carry_on_once_the_loop_is_free_and_a_dropped_turn_ends_cleanly() {
    let _serial = serial().await;
    let runtime = runtime("blocking:Sleeps");
    let blocker = agent(&runtime).await;
    let other = agent(&runtime).await;
    let started = Instant::now();
    let blocked = runtime.chat(blocker, &Content::text("1.5")).await.unwrap();
    let mut first = blocked.text_stream();
    assert_eq!(
        futures::StreamExt::next(&mut first).await.as_deref(),
        Some("thinking ")
    );
    // The loop is blocked now: this turn waits for it.
    let waiting = runtime.chat(other, &Content::text("0")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    // As a host-side call timeout does: the blocked turn's handle goes away mid-block.
    drop(first);
    drop(blocked);
    let answer = waiting.text().await.unwrap();
    let freed = started.elapsed();
    assert_eq!(answer.text, "thinking done");
    assert!(
        freed >= Duration::from_millis(1500) && freed < Duration::from_millis(2500),
        "the other agent's turn ended {freed:?} after the block began"
    );
    // The dropped turn ended without counting, and both agents work on.
    runtime.wait_for_idle(blocker).await.unwrap();
    assert_eq!(runtime.turn_count(blocker).await.unwrap(), 0);
    assert_eq!(runtime.turn_count(other).await.unwrap(), 1);
    for agent in [blocker, other] {
        let answer = runtime
            .chat(agent, &Content::text("0"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(answer.text, "thinking done");
    }
    assert_eq!(runtime.turn_count(blocker).await.unwrap(), 1);
    assert_eq!(
        runtime.turn_count(999).await.unwrap_err(),
        Error::AgentNotStarted(999)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_range_retry_after_is_logged() {
    let serial = serial().await;
    let runtime = runtime("failing:QuotaAsked");
    let asker = agent(&runtime).await;
    let handle = runtime.chat(asker, &Content::text("1e30")).await.unwrap();
    let error = handle.text().await.unwrap_err();
    assert!(error.is_quota_error(), "{error:?}");
    let clamped = serial
        .warning("QuotaExceeded(retry_after=1000000000000000000000000000000)")
        .await;
    assert_eq!(clamped.len(), 1, "{clamped:#?}");
    assert!(clamped[0].contains("clamped to 86400 s"), "{}", clamped[0]);
}
