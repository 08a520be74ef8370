//! The host's side of the pipe: requests go out through one writer task, answers come
//! back through one reader task that routes each line to its caller by id.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

use crate::wire::{Framing, Kind, Op, Request, Response};

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the peer answered: {0}")]
    Answered(String),
    #[error("the peer has gone")]
    Gone,
}

/// Who waits for the lines of a request.
enum Waiter {
    Once(oneshot::Sender<Response>),
    Stream(mpsc::UnboundedSender<Response>),
}

type Waiters = Arc<Mutex<HashMap<u64, Waiter>>>;

/// A child process serving the mock; dropping this ends it.
pub struct PipePeer {
    requests: mpsc::UnboundedSender<Vec<u8>>,
    waiters: Waiters,
    next_id: AtomicU64,
    pid: u32,
    _child: Child,
}

impl PipePeer {
    /// Starts `program` (the `agent-pipe-peer` binary); needs a tokio runtime context.
    pub fn spawn(
        program: &Path,
        framing: Framing,
        options: &serde_json::Value,
    ) -> std::io::Result<PipePeer> {
        let mut child = Command::new(program)
            .args([
                "--framing",
                framing.flag(),
                "--options",
                &options.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or_default();
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (requests, queued) = mpsc::unbounded_channel();
        let waiters = Waiters::default();
        tokio::spawn(write_requests(stdin, queued));
        tokio::spawn(route_responses(stdout, waiters.clone()));
        Ok(PipePeer {
            requests,
            waiters,
            next_id: AtomicU64::new(1),
            pid,
            _child: child,
        })
    }

    pub fn child_pid(&self) -> u32 {
        self.pid
    }

    pub async fn create_agent(&self) -> Result<u64, PeerError> {
        let answer = self.call(Op::CreateAgent, None, None).await?;
        answer.value.ok_or(PeerError::Gone)
    }

    pub async fn turn_count(&self, agent: u64) -> Result<u32, PeerError> {
        let answer = self.call(Op::TurnCount, Some(agent), None).await?;
        Ok(answer.value.unwrap_or_default() as u32)
    }

    pub async fn clear_history(&self, agent: u64) -> Result<(), PeerError> {
        self.call(Op::ClearHistory, Some(agent), None)
            .await
            .map(drop)
    }

    pub async fn delete(&self, agent: u64) -> Result<(), PeerError> {
        self.call(Op::Delete, Some(agent), None).await.map(drop)
    }

    /// Starts a turn; its chunks arrive on the returned stream.
    pub async fn chat(&self, agent: u64, text: &str) -> Result<PipeTurn, PeerError> {
        let (lines, received) = mpsc::unbounded_channel();
        self.send(
            Waiter::Stream(lines),
            Op::Chat,
            Some(agent),
            Some(text.to_owned()),
        )?;
        Ok(PipeTurn {
            received,
            ready: VecDeque::new(),
            outcome: None,
        })
    }

    async fn call(
        &self,
        op: Op,
        agent: Option<u64>,
        text: Option<String>,
    ) -> Result<Response, PeerError> {
        let (answer, answered) = oneshot::channel();
        self.send(Waiter::Once(answer), op, agent, text)?;
        let response = answered.await.map_err(|_| PeerError::Gone)?;
        match response.kind {
            Kind::Error => Err(PeerError::Answered(response.message.unwrap_or_default())),
            _ => Ok(response),
        }
    }

    fn send(
        &self,
        waiter: Waiter,
        op: Op,
        agent: Option<u64>,
        text: Option<String>,
    ) -> Result<(), PeerError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.waiters.lock().unwrap().insert(id, waiter);
        let line = Request {
            id,
            op,
            agent,
            text,
        }
        .to_line();
        self.requests.send(line).map_err(|_| PeerError::Gone)
    }
}

/// The one writer of the child's stdin; flushes when nothing more is queued.
async fn write_requests(stdin: ChildStdin, mut queued: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut stdin = BufWriter::with_capacity(64 * 1024, stdin);
    while let Some(line) = queued.recv().await {
        if stdin.write_all(&line).await.is_err() {
            return;
        }
        while let Ok(line) = queued.try_recv() {
            if stdin.write_all(&line).await.is_err() {
                return;
            }
        }
        if stdin.flush().await.is_err() {
            return;
        }
    }
}

/// Reads the child's answers and hands each to whoever waits for its id. When the child
/// goes, every waiter is dropped, so its caller learns of it.
async fn route_responses(stdout: ChildStdout, waiters: Waiters) {
    let mut lines = BufReader::with_capacity(64 * 1024, stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(response) = serde_json::from_str::<Response>(&line) else {
            continue;
        };
        let last = response.kind != Kind::Chunks;
        let waiter = {
            let mut waiting = waiters.lock().unwrap();
            if last {
                waiting.remove(&response.id)
            } else {
                match waiting.get(&response.id) {
                    Some(Waiter::Stream(lines)) => Some(Waiter::Stream(lines.clone())),
                    _ => None,
                }
            }
        };
        match waiter {
            Some(Waiter::Once(answer)) => {
                let _ = answer.send(response);
            }
            Some(Waiter::Stream(lines)) => {
                let _ = lines.send(response);
            }
            None => {}
        }
    }
    waiters.lock().unwrap().clear();
}

/// One turn's text chunks, as they arrive; [`PipeTurn::text`] waits for the answer.
pub struct PipeTurn {
    received: mpsc::UnboundedReceiver<Response>,
    ready: VecDeque<String>,
    outcome: Option<Result<(), PeerError>>,
}

impl PipeTurn {
    /// The whole answer, or the error the turn ended with.
    pub async fn text(mut self) -> Result<String, PeerError> {
        use futures::StreamExt;
        let mut text = String::new();
        while let Some(chunk) = self.next().await {
            text.push_str(&chunk);
        }
        self.outcome.unwrap_or(Err(PeerError::Gone)).map(|()| text)
    }
}

impl Stream for PipeTurn {
    type Item = String;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.ready.pop_front() {
                return Poll::Ready(Some(chunk));
            }
            if this.outcome.is_some() {
                return Poll::Ready(None);
            }
            match this.received.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.outcome = Some(Err(PeerError::Gone)),
                Poll::Ready(Some(response)) => match response.kind {
                    Kind::Chunks => this.ready.extend(response.chunks),
                    Kind::Done | Kind::Value => this.outcome = Some(Ok(())),
                    Kind::Error => {
                        let message = response.message.unwrap_or_default();
                        this.outcome = Some(Err(PeerError::Answered(message)));
                    }
                },
            }
        }
    }
}
