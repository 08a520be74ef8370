//! Where a turn runs: on the caller's thread until it first waits, then on a task of
//! the agent's runtime; and what that means for order and shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use super::{AgentBackend, AgentRuntime, NoOptions, Turn};
use crate::plugin::async_trait;
use crate::types::{AgentConfig, Content, Error};
use crate::Runtime;

/// Records the threads a turn ran on, before and after its one wait. A message
/// starting with "block" holds the caller's thread first, as a careless backend would.
#[derive(Default)]
struct Probe {
    threads: Mutex<Vec<(ThreadId, ThreadId)>>,
    blocked: AtomicBool,
}

struct Probing(Arc<Probe>);

#[async_trait]
impl AgentBackend for Probing {
    const NAME: &'static str = "probing";
    const VERSION: &'static str = "0.0.0";
    type Options = NoOptions;
    type Agent = ();

    fn new(_: NoOptions) -> Result<Self, Error> {
        Ok(Probing(Arc::default()))
    }

    fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
        Ok(())
    }

    async fn chat(&self, _: &(), content: &Content, turn: &mut Turn) -> Result<(), Error> {
        let text = content.to_text();
        if let Some(count) = text.strip_prefix("chunks ") {
            // A long answer with no real wait, as the mock streams an echo.
            let caller = std::thread::current().id();
            for _ in 0..count.parse::<usize>().unwrap() {
                super::consume_budget().await;
                turn.text("x")?;
            }
            self.0
                .threads
                .lock()
                .unwrap()
                .push((caller, std::thread::current().id()));
            return Ok(());
        }
        if text.starts_with("block") {
            std::thread::sleep(Duration::from_millis(200));
            self.0.blocked.store(true, Ordering::SeqCst);
        }
        let before = std::thread::current().id();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let after = std::thread::current().id();
        self.0.threads.lock().unwrap().push((before, after));
        turn.text(text)?;
        Ok(())
    }
}

fn probing() -> (Arc<AgentRuntime<Probing>>, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let runtime = Arc::new(AgentRuntime::new(Probing(probe.clone())));
    (runtime, probe)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_starts_on_the_callers_thread_and_moves_to_the_runtime_at_its_first_wait() {
    let (runtime, probe) = probing();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let caller = std::thread::current().id();
    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    assert!(
        !handle.is_finished(),
        "the turn waits, so it is not over yet"
    );
    assert_eq!(handle.text().await.unwrap().text, "hi");
    let (before, after) = probe.threads.lock().unwrap()[0];
    assert_eq!(
        before, caller,
        "the turn's first poll runs on the caller's thread"
    );
    assert_ne!(
        after, caller,
        "after its wait the turn runs on the runtime's threads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_queued_while_another_starts_runs_after_it() {
    let (runtime, _probe) = probing();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let first = {
        let runtime = runtime.clone();
        tokio::task::spawn_blocking(move || {
            let handle = tokio::runtime::Handle::current();
            handle.block_on(runtime.chat(agent, &"block first".into()))
        })
    };
    // Queued while the first turn holds its caller's thread before its wait.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = runtime.chat(agent, &"second".into()).await.unwrap();
    assert_eq!(second.text().await.unwrap().text, "second");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.text().await.unwrap().text, "block first");
    let history = runtime.history(agent).await.unwrap();
    let order: Vec<String> = history.iter().map(|m| m.content.to_text()).collect();
    assert_eq!(order, ["block first", "block first", "second", "second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_a_turn_still_starting_on_its_callers_thread() {
    let (runtime, probe) = probing();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let starting = {
        let runtime = runtime.clone();
        tokio::task::spawn_blocking(move || {
            let handle = tokio::runtime::Handle::current();
            handle.block_on(runtime.chat(agent, &"block".into()))
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    runtime.shutdown_agent(agent).await.unwrap();
    assert!(
        probe.blocked.load(Ordering::SeqCst),
        "shutdown_agent returned while the turn was still starting"
    );
    let handle = starting.await.unwrap().unwrap();
    assert_eq!(handle.text().await, Err(Error::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_answer_with_no_wait_leaves_the_callers_thread_after_the_starts_budget() {
    let (runtime, probe) = probing();
    let agent = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    // From a thread that is no tokio task, so only the kit's budget can end the start.
    let caller = {
        let runtime = runtime.clone();
        std::thread::spawn(move || {
            futures::executor::block_on(runtime.chat(agent, &"chunks 10000".into()))
        })
    };
    let handle = caller.join().unwrap().unwrap();
    // (Whether the turn is still running when `chat` returns races the plugin's threads,
    // which go on with it at once; where its end was written is what is certain.)
    assert_eq!(handle.text().await.unwrap().text, "x".repeat(10_000));
    let (started, ended) = probe.threads.lock().unwrap()[0];
    assert_ne!(
        started, ended,
        "the rest of the answer is written on the runtime's threads"
    );
    // A short one is over before chat returns (on an agent with no worker left over).
    let fresh = runtime
        .create_agent(AgentConfig::builder("m").build())
        .await
        .unwrap();
    let short = runtime.chat(fresh, &"chunks 10".into()).await.unwrap();
    assert!(short.is_finished());
}
