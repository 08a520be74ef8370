//! What the benches drive: the same mock backend in-process, through the real staged
//! `.so`, in a child process over a pipe (the design a process-based plugin system
//! would pick), and served over gRPC (process isolation, loopback TCP), behind one small
//! interface.

use std::path::PathBuf;
use std::sync::Arc;

use agent_pipe_peer::{Framing, PipePeer};
use agent_plugin_api::host::PluginLibrary;
use agent_plugin_api::types::{AgentConfig, AgentId, Content, Tools};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use futures::StreamExt;

use crate::served::{self, TcpServer};

/// How many chunks a reader takes at once: what the host takes per crossing.
pub const READ_BATCH: usize = 1024;

/// Options that make the mock as fast as it goes: no pauses, no thoughts.
pub fn fast_options(chunk_chars: usize) -> serde_json::Value {
    serde_json::json!({ "chunk_delay_ms": 0, "chunk_chars": chunk_chars, "thoughts": false })
}

pub fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn dist() -> PathBuf {
    std::env::var_os("AGENT_HOST_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dist"))
}

pub fn staged(relative: &str) -> PathBuf {
    let path = dist().join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask bench`",
        path.display()
    );
    path
}

pub enum Subject {
    /// The mock compiled into the bench. Its agents live on a runtime of their own with
    /// as many threads as the plugin's, so both sides get the same threads.
    InProcess {
        runtime: Arc<dyn Runtime>,
        backend: tokio::runtime::Runtime,
    },
    ThroughAbi(Arc<dyn Runtime>),
    Pipe(Framing, PipePeer),
    /// The staged mock in a child `agent-host serve`, reached over gRPC.
    Isolated(Arc<dyn Runtime>),
    /// The server is held only to be killed when the subject is dropped.
    LoopbackTcp(Arc<dyn Runtime>, #[allow(dead_code)] TcpServer),
}

impl Subject {
    pub fn in_process(chunk_chars: usize) -> Subject {
        let options: MockOptions = serde_json::from_value(fast_options(chunk_chars)).unwrap();
        Subject::InProcess {
            runtime: Arc::new(MockRuntime::with_options(options).unwrap()),
            backend: tokio(),
        }
    }

    pub fn through_abi(chunk_chars: usize) -> Subject {
        let library = PluginLibrary::open(staged("plugins/libagent_plugin_mock.so"))
            .expect("the staged mock loads");
        let runtime = library.new_runtime(&fast_options(chunk_chars)).unwrap();
        Subject::ThroughAbi(Arc::new(runtime))
    }

    /// Needs a tokio runtime context (the client's tasks).
    pub fn pipe(framing: Framing, chunk_chars: usize) -> Subject {
        let peer = PipePeer::spawn(
            &staged("bench/agent-pipe-peer"),
            framing,
            &fast_options(chunk_chars),
        )
        .expect("the pipe peer starts");
        Subject::Pipe(framing, peer)
    }

    /// The mock with `isolation = "process"` (a child on a private Unix socket).
    pub async fn isolated(chunk_chars: usize) -> Subject {
        Subject::Isolated(served::isolated_mock(chunk_chars).await)
    }

    /// The mock served by `agent-host serve` on loopback TCP.
    pub async fn loopback_tcp(chunk_chars: usize) -> Subject {
        let (runtime, server) = served::over_tcp(chunk_chars).await;
        Subject::LoopbackTcp(runtime, server)
    }

    /// The in-process mock and the one through the ABI.
    pub fn both(chunk_chars: usize) -> Vec<Subject> {
        vec![
            Subject::in_process(chunk_chars),
            Subject::through_abi(chunk_chars),
        ]
    }

    pub fn name(&self) -> &'static str {
        match self {
            Subject::InProcess { .. } => "in_process",
            Subject::ThroughAbi(_) => "through_abi",
            Subject::Pipe(Framing::PerChunk, _) => "pipe_per_chunk",
            Subject::Pipe(Framing::Batched, _) => "pipe_batched",
            Subject::Isolated(_) => "isolated",
            Subject::LoopbackTcp(..) => "loopback_tcp",
        }
    }

    /// The `Runtime`, for the subjects that have one.
    pub fn runtime(&self) -> Option<&Arc<dyn Runtime>> {
        match self {
            Subject::InProcess { runtime, .. }
            | Subject::ThroughAbi(runtime)
            | Subject::Isolated(runtime)
            | Subject::LoopbackTcp(runtime, _) => Some(runtime),
            Subject::Pipe(..) => None,
        }
    }

    pub async fn create_agent(&self) -> AgentId {
        self.create_agent_with_tools(AgentConfig::builder("bench").build(), Tools::new())
            .await
    }

    pub async fn create_agent_with_tools(&self, config: AgentConfig, tools: Tools) -> AgentId {
        match self {
            Subject::InProcess { runtime, backend } => {
                let runtime = runtime.clone();
                backend
                    .spawn(async move { runtime.create_agent_with_tools(config, tools).await })
                    .await
                    .unwrap()
                    .unwrap()
            }
            Subject::Pipe(_, peer) => peer.create_agent().await.unwrap(),
            _ => self
                .runtime()
                .expect("every other subject has a runtime")
                .create_agent_with_tools(config, tools)
                .await
                .unwrap(),
        }
    }

    pub async fn turn_count(&self, agent: AgentId) -> u64 {
        match self.runtime() {
            Some(runtime) => runtime.turn_count(agent).await.unwrap() as u64,
            None => self.peer().turn_count(agent).await.unwrap() as u64,
        }
    }

    /// One turn's whole answer.
    pub async fn answer(&self, agent: AgentId, message: &Content, text: &str) -> String {
        match self.runtime() {
            Some(runtime) => {
                let handle = runtime.chat(agent, message).await.unwrap();
                handle.text().await.unwrap().text
            }
            None => self
                .peer()
                .chat(agent, text)
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        }
    }

    /// Reads one turn's text chunks, batched, the fastest way each offers (a runtime
    /// shares its chunks, the pipe parses each into a string); their count.
    pub async fn stream(&self, agent: AgentId, message: &Content, text: &str) -> usize {
        match self.runtime() {
            Some(runtime) => {
                let handle = runtime.chat(agent, message).await.unwrap();
                count_batched(handle.chunks()).await
            }
            None => count_batched(self.peer().chat(agent, text).await.unwrap()).await,
        }
    }

    pub async fn clear_history(&self, agent: AgentId) {
        match self.runtime() {
            Some(runtime) => runtime.clear_history(agent).await.unwrap(),
            None => self.peer().clear_history(agent).await.unwrap(),
        }
    }

    fn peer(&self) -> &PipePeer {
        match self {
            Subject::Pipe(_, peer) => peer,
            _ => unreachable!("only the pipe subject has no runtime"),
        }
    }
}

pub async fn count_batched<T>(stream: impl futures::Stream<Item = T>) -> usize {
    stream
        .ready_chunks(READ_BATCH)
        .map(|batch| batch.len())
        .fold(0, |total, batch| async move { total + batch })
        .await
}
