//! The host's side of the pipe: requests go out through one writer task, answers come
//! back through one reader task that routes each line to its caller by id.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

use crate::wire::{Framing, Kind, Op, RequestOut, Response};

/// Why a call to the peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The child answered with an error (the mock's message, or a bad request).
    #[error("the pipe peer answered: {0}")]
    Failed(String),
    /// The child has exited or closed its pipes.
    #[error("the pipe peer has gone")]
    Gone,
    /// The child answered with something this client does not expect.
    #[error("the pipe peer broke the protocol: {0}")]
    Protocol(String),
}

/// Who waits for the lines of a request.
enum Waiter {
    /// A single answer.
    Once(oneshot::Sender<Response>),
    /// A chat's chunk lines, then its last line.
    Stream(mpsc::UnboundedSender<Response>),
}

/// The callers waiting for answers, by request id. `closed` once the child's stdout has
/// ended, so a request made after that fails at once instead of waiting forever.
#[derive(Default)]
struct Table {
    waiting: HashMap<u64, Waiter>,
    closed: bool,
}

#[derive(Default)]
struct Waiters(Mutex<Table>);

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the table consistent: use it anyway.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A child process serving the mock over its stdin and stdout. Safe to share among many
/// concurrent callers (`&self` methods); dropping it kills the child.
pub struct PipePeer {
    requests: mpsc::UnboundedSender<Vec<u8>>,
    waiters: Arc<Waiters>,
    next_id: AtomicU64,
    pid: u32,
    child: Child,
}

impl std::fmt::Debug for PipePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipePeer").field("pid", &self.pid).finish()
    }
}

impl PipePeer {
    /// Starts `program` (the `agent-pipe-peer` binary) with the mock's `options` (a JSON
    /// object) and the `framing` of its text chunks. Call it inside a tokio runtime: the
    /// peer's reader and writer are tasks on it. The child's stderr is inherited.
    pub fn spawn(
        program: &Path,
        framing: Framing,
        options: &serde_json::Value,
    ) -> std::io::Result<PipePeer> {
        let mut child = Command::new(program)
            .arg("--framing")
            .arg(framing.flag())
            .arg("--options")
            .arg(options.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or_default();
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the child's pipes are missing"));
        };
        let (requests, queued) = mpsc::unbounded_channel();
        let waiters = Arc::new(Waiters::default());
        tokio::spawn(write_requests(stdin, queued));
        tokio::spawn(route_responses(stdout, waiters.clone()));
        Ok(PipePeer {
            requests,
            waiters,
            next_id: AtomicU64::new(1),
            pid,
            child,
        })
    }

    /// The child's process id (to read its memory from `/proc/<pid>/statm`).
    pub fn child_pid(&self) -> u32 {
        self.pid
    }

    /// A new agent; its id.
    pub async fn create_agent(&self) -> Result<u64, PeerError> {
        let answer = self.call(Op::CreateAgent, None).await?;
        answer
            .value
            .ok_or_else(|| PeerError::Protocol("create_agent answered no id".into()))
    }

    /// How many turns the agent has started.
    pub async fn turn_count(&self, agent: u64) -> Result<u32, PeerError> {
        let answer = self.call(Op::TurnCount, Some(agent)).await?;
        let count = answer
            .value
            .ok_or_else(|| PeerError::Protocol("turn_count answered no count".into()))?;
        u32::try_from(count).map_err(|_| PeerError::Protocol(format!("turn count {count}")))
    }

    pub async fn clear_history(&self, agent: u64) -> Result<(), PeerError> {
        self.call(Op::ClearHistory, Some(agent)).await.map(drop)
    }

    pub async fn delete(&self, agent: u64) -> Result<(), PeerError> {
        self.call(Op::Delete, Some(agent)).await.map(drop)
    }

    /// Starts a turn. Its text chunks arrive on the returned stream, which ends with the
    /// turn; [`PipeTurn::text`] gives the whole answer or the turn's error.
    pub async fn chat(&self, agent: u64, text: &str) -> Result<PipeTurn, PeerError> {
        let (lines, received) = mpsc::unbounded_channel();
        self.send(Waiter::Stream(lines), Op::Chat, Some(agent), Some(text))?;
        Ok(PipeTurn {
            received,
            ready: Vec::new().into_iter(),
            outcome: None,
        })
    }

    /// Closes the child's stdin after the requests already queued and waits for it to
    /// exit (it does once the answers in flight are written).
    pub async fn close(self) -> std::io::Result<ExitStatus> {
        let PipePeer {
            requests,
            mut child,
            ..
        } = self;
        drop(requests);
        child.wait().await
    }

    async fn call(&self, op: Op, agent: Option<u64>) -> Result<Response, PeerError> {
        let (answer, answered) = oneshot::channel();
        self.send(Waiter::Once(answer), op, agent, None)?;
        let response = answered.await.map_err(|_| PeerError::Gone)?;
        match response.kind {
            Kind::Value => Ok(response),
            Kind::Error => Err(PeerError::Failed(response.message.unwrap_or_default())),
            kind => Err(PeerError::Protocol(format!(
                "{op:?} answered a {kind:?} line"
            ))),
        }
    }

    /// Registers the waiter, then queues the request: its answer can never come first.
    fn send(
        &self,
        waiter: Waiter,
        op: Op,
        agent: Option<u64>,
        text: Option<&str>,
    ) -> Result<(), PeerError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let line = RequestOut {
            id,
            op,
            agent,
            text,
        }
        .to_line();
        {
            let mut table = self.waiters.lock();
            if table.closed {
                return Err(PeerError::Gone);
            }
            table.waiting.insert(id, waiter);
        }
        if self.requests.send(line).is_err() {
            self.waiters.lock().waiting.remove(&id);
            return Err(PeerError::Gone);
        }
        Ok(())
    }
}

/// The one writer of the child's stdin. It flushes only when nothing more is queued, so
/// a burst of requests leaves in one write. Its end closes the child's stdin.
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
    let _ = stdin.shutdown().await;
}

/// Reads the child's answers and hands each to whoever waits for its id. When the child
/// goes, every waiter is dropped, so each caller learns of it.
async fn route_responses(stdout: ChildStdout, waiters: Arc<Waiters>) {
    let mut stdout = BufReader::with_capacity(64 * 1024, stdout);
    // One buffer for every line.
    let mut line = Vec::with_capacity(64 * 1024);
    loop {
        line.clear();
        match stdout.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // A line that does not parse has no caller to tell; skip it.
        let Ok(response) = serde_json::from_slice::<Response>(&line) else {
            continue;
        };
        let id = response.id;
        let mut table = waiters.lock();
        if response.kind == Kind::Chunks {
            // Sending on an unbounded channel never waits, so it can be done under the
            // lock; a reader that has gone is forgotten.
            if let Some(Waiter::Stream(chunks)) = table.waiting.get(&id) {
                if chunks.send(response).is_err() {
                    table.waiting.remove(&id);
                }
            }
            continue;
        }
        let waiter = table.waiting.remove(&id);
        drop(table);
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
    let mut table = waiters.lock();
    table.closed = true;
    table.waiting.clear();
}

/// One turn's text chunks, as they arrive: a `Stream` that ends with the turn.
/// [`PipeTurn::text`] collects them and reports how the turn ended.
#[must_use = "a PipeTurn does nothing unless read"]
pub struct PipeTurn {
    received: mpsc::UnboundedReceiver<Response>,
    /// The chunks of the last line, not yet handed out.
    ready: std::vec::IntoIter<String>,
    outcome: Option<Result<(), PeerError>>,
}

impl std::fmt::Debug for PipeTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeTurn")
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl PipeTurn {
    /// The whole answer, or the error the turn ended with.
    pub async fn text(mut self) -> Result<String, PeerError> {
        let mut text = String::new();
        while let Some(chunk) = futures::StreamExt::next(&mut self).await {
            text.push_str(&chunk);
        }
        self.outcome().map(|()| text)
    }

    /// How many chunks the turn streamed, or the error it ended with. Counts a line at
    /// a time rather than handing the chunks out one by one.
    pub async fn count_chunks(mut self) -> Result<usize, PeerError> {
        let mut count = self.ready.len();
        self.ready = Vec::new().into_iter();
        while self.outcome.is_none() {
            let response = self.received.recv().await;
            if let Some(chunks) = self.take(response) {
                count += chunks.len();
            }
        }
        self.outcome().map(|()| count)
    }

    /// How the turn ended; called once the stream has.
    fn outcome(self) -> Result<(), PeerError> {
        self.outcome.unwrap_or(Err(PeerError::Gone))
    }

    /// Records the end of the turn, or gives the chunks of a line.
    fn take(&mut self, response: Option<Response>) -> Option<Vec<String>> {
        let outcome = match response {
            None => Err(PeerError::Gone),
            Some(response) => match response.kind {
                Kind::Chunks => return Some(response.chunks),
                Kind::Done => Ok(()),
                Kind::Error => Err(PeerError::Failed(response.message.unwrap_or_default())),
                Kind::Value => Err(PeerError::Protocol("a chat answered a value".into())),
            },
        };
        self.outcome = Some(outcome);
        None
    }
}

impl Stream for PipeTurn {
    type Item = String;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.ready.next() {
                return Poll::Ready(Some(chunk));
            }
            if this.outcome.is_some() {
                return Poll::Ready(None);
            }
            let response = std::task::ready!(this.received.poll_recv(cx));
            if let Some(chunks) = this.take(response) {
                this.ready = chunks.into_iter();
            }
        }
    }
}
