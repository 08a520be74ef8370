//! One agent: its state, its FIFO of turns and the worker task that plays them.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures::FutureExt;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::budget;
use super::conversation::Conversation;
use super::turn::{Turn, TurnRecord};
use super::AgentBackend;
use crate::ffi::panic_message;
use crate::quota::QuotaRegistry;
use crate::saved::{ConversationFile, SavedConversation, SavedTurn};
use crate::stream::{
    channel, wake_readers_per_poll, wakeups, Cancellation, ChatEventSender, ChatResponseHandle,
    SharedText,
};
use crate::types::{AgentId, Content, ConversationMessage, Error, Tools};

/// A turn waiting in an agent's queue.
struct QueuedTurn {
    sender: ChatEventSender,
    content: Content,
    /// Set for `send`: nobody reads the answer, but dropping the handle would cancel the
    /// turn, so the turn keeps its own handle until it ends.
    unread_handle: Option<ChatResponseHandle>,
}

/// Who plays an agent's turns at the moment.
enum Worker {
    /// A caller is playing the first turn on its own thread, until the turn first waits.
    Starting,
    /// A task on the agent's runtime: a turn waited, or more were queued meanwhile.
    Task(JoinHandle<()>),
}

/// Where quota hits of this runtime go.
#[derive(Clone)]
pub(crate) struct QuotaSlot {
    pub registry: Arc<QuotaRegistry>,
    pub key: Arc<str>,
}

/// An agent and the handle on its worker.
///
/// Turns wait in the agent's queue for a single worker, which is what makes them run
/// one at a time in call order. The worker exists only while there are turns, so an
/// idle agent holds no task and no channel (an idle agent's memory is mostly what it
/// owns, not machinery). A turn that finds no worker starts on the caller's thread,
/// inside the agent's runtime, and moves to a task there at its first wait (see
/// [`Agent::start_turn`]): a turn that never waits costs no thread hand-off at all.
/// Small state sits behind a `std` mutex (never held across an await); waiters (`wait_for_idle`, `wait_for_wakeup`) recheck it when told of a
/// change, and changes tell only when someone waits.
pub(crate) struct Agent<B: AgentBackend> {
    id: AgentId,
    backend: Arc<B>,
    own: B::Agent,
    quota: QuotaSlot,
    /// The application's tools this agent may call.
    tools: Tools,
    /// The id its conversation is saved under (or was given), for `conversation_id`.
    conversation_id: Option<Arc<str>>,
    state: Mutex<AgentState>,
    /// The runtime the agent was made on, where its worker runs whoever queues a turn.
    runtime: Handle,
    /// Told of every change a waiter may wait for (idle, a wakeup, shutdown)...
    changed: Notify,
    /// ...when there are waiters: a turn then costs no notification.
    waiters: AtomicUsize,
}

struct AgentState {
    conversation: Conversation,
    /// Where completed turns are saved (`save_dir`), until the agent shuts down.
    saved: Option<ConversationFile>,
    /// Turns started so far; a turn's number (1-based) is this count once it starts.
    turns_started: u64,
    /// Turns queued or running, oldest first: the front is the running turn, or the one
    /// about to run, so `cancel` right after `chat` reliably hits that turn. Cancelling
    /// one is cancelling its stream, as its handle would.
    pending: VecDeque<Cancellation>,
    /// The turns the worker has not taken yet, in call order.
    queue: VecDeque<QueuedTurn>,
    /// The worker, while there is one: it clears this when it finds the queue empty.
    worker: Option<Worker>,
    /// Set by `signal_idle`, cleared when the next turn starts.
    signalled_idle: bool,
    /// A message was sent and no `wait_for_wakeup` has reported it yet.
    wakeup: bool,
    shut_down: bool,
}

impl AgentState {
    fn is_idle(&self) -> bool {
        self.shut_down || self.signalled_idle || self.pending.is_empty()
    }
}

impl<B: AgentBackend> Agent<B> {
    /// Creates the agent on the current tokio runtime (its worker will run there),
    /// resuming a saved conversation if it has one.
    pub fn start(
        id: AgentId,
        backend: Arc<B>,
        own: B::Agent,
        quota: QuotaSlot,
        tools: Tools,
        saved: Saved,
    ) -> Arc<Self> {
        let (conversation_id, saved, conversation) = match saved {
            Saved::Nowhere(id) => (id, None, Conversation::default()),
            Saved::In(file, saved) => (
                Some(Arc::from(file.id())),
                Some(file),
                Conversation::resumed(saved),
            ),
        };
        Arc::new(Agent {
            id,
            backend,
            own,
            quota,
            tools,
            conversation_id,
            state: Mutex::new(AgentState {
                conversation,
                saved,
                turns_started: 0,
                pending: VecDeque::new(),
                queue: VecDeque::new(),
                worker: None,
                signalled_idle: false,
                wakeup: false,
                shut_down: false,
            }),
            runtime: Handle::current(),
            changed: Notify::new(),
            waiters: AtomicUsize::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, AgentState> {
        lock(&self.state)
    }

    fn not_started(&self) -> Error {
        Error::AgentNotStarted(self.id)
    }

    /// Queues a turn whose answer the caller reads through the returned handle.
    pub fn chat(self: &Arc<Self>, content: Content) -> Result<ChatResponseHandle, Error> {
        let (sender, handle) = channel();
        self.enqueue(QueuedTurn {
            sender,
            content,
            unread_handle: None,
        })?;
        Ok(handle)
    }

    /// Queues a turn nobody reads, and wakes `wait_for_wakeup`.
    pub fn send(self: &Arc<Self>, content: Content) -> Result<(), Error> {
        let (sender, handle) = channel();
        self.enqueue(QueuedTurn {
            sender,
            content,
            unread_handle: Some(handle),
        })?;
        self.state().wakeup = true;
        self.tell_waiters();
        Ok(())
    }

    fn enqueue(self: &Arc<Self>, turn: QueuedTurn) -> Result<(), Error> {
        let mut state = self.state();
        // Checked under the lock that shutdown takes, so no turn slips in after the
        // worker has drained the queue.
        if state.shut_down {
            return Err(self.not_started());
        }
        state.pending.push_back(turn.sender.cancellation());
        self.refresh_idle(&state);
        if state.worker.is_some() {
            state.queue.push_back(turn);
            return Ok(());
        }
        state.worker = Some(Worker::Starting);
        drop(state);
        self.start_turn(turn);
        Ok(())
    }

    /// Plays `turn` on the caller's thread until it first waits, then hands the rest of
    /// it, and any turns queued meanwhile, to a worker task.
    ///
    /// Why: handing every turn to the runtime's threads costs two thread hand-offs (a
    /// wake-up of a parked worker, and one of the reader), each dearer than a short
    /// turn's work on a virtual machine. Polled here first, a turn that needs no wait
    /// (the mock's, a cache hit) is over when `chat` returns, and one that waits (on the
    /// network) has started its request already. The poll runs inside the agent's
    /// runtime, as the task would, with a waker that does nothing: the task polls the
    /// turn again as soon as it starts, which registers its own.
    fn start_turn(self: &Arc<Self>, turn: QueuedTurn) {
        let _context = self.runtime.enter();
        let agent = self.clone();
        let mut first = Box::pin(async move { agent.play(turn).await });
        let finished = budget::poll_start(first.as_mut()).is_ready();
        let mut state = self.state();
        // Spawned under the lock, as in `work`: the task cannot clear `worker` before
        // it is set.
        state.worker = if finished && state.queue.is_empty() {
            None
        } else {
            let agent = self.clone();
            Some(Worker::Task(self.runtime.spawn(async move {
                if !finished {
                    first.await;
                }
                agent.work().await;
            })))
        };
        // `shut_down` may be waiting for the start to end.
        self.tell_waiters();
    }

    /// Stops the running turn (or the one about to run); the turns behind it still run.
    pub fn cancel_running_turn(&self) {
        if let Some(front) = self.state().pending.front() {
            front.cancel();
        }
    }

    pub fn is_idle(&self) -> bool {
        self.state().is_idle()
    }

    pub fn signal_idle(&self) {
        let mut state = self.state();
        state.signalled_idle = true;
        self.refresh_idle(&state);
    }

    /// Returns once the agent is idle; `AgentNotStarted` if it is shut down first.
    pub async fn wait_for_idle(&self) -> Result<(), Error> {
        self.wait_until(|state| {
            if state.shut_down {
                Some(Err(self.not_started()))
            } else {
                state.is_idle().then_some(Ok(()))
            }
        })
        .await
    }

    /// `true` once a sent message is (or already was) waiting to be reported; the
    /// report consumes it.
    pub async fn wait_for_wakeup(&self, timeout: Duration) -> Result<bool, Error> {
        let woken = self.wait_until(|state| {
            if state.shut_down {
                Some(Err(self.not_started()))
            } else {
                std::mem::take(&mut state.wakeup).then_some(Ok(true))
            }
        });
        // `timeout` polls `woken` before looking at the clock, so a pending wakeup (or a
        // shutdown) is reported even with a zero timeout.
        tokio::time::timeout(timeout, woken)
            .await
            .unwrap_or(Ok(false))
    }

    /// Waits until `check` answers, asking it again after every change it may be
    /// waiting for.
    async fn wait_until<T>(&self, mut check: impl FnMut(&mut AgentState) -> Option<T>) -> T {
        // Counted before the first check: a change made after it sees a waiter and tells.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _counted = Uncount(&self.waiters);
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if let Some(answer) = check(&mut self.state()) {
                return answer;
            }
            changed.await;
        }
    }

    /// Tells the waiters, if there are any, that the state changed.
    fn tell_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.changed.notify_waiters();
        }
    }

    /// Reads the conversation state.
    pub fn with_conversation<T>(&self, read: impl FnOnce(&Conversation) -> T) -> T {
        read(&self.state().conversation)
    }

    pub fn conversation_id(&self) -> Option<String> {
        self.conversation_id.as_deref().map(str::to_owned)
    }

    /// Forgets the conversation, on disk first (a clear that fails there changes
    /// nothing).
    pub fn clear_history(&self) -> Result<(), Error> {
        let mut state = self.state();
        let AgentState {
            conversation,
            saved,
            ..
        } = &mut *state;
        if let Some(file) = saved {
            file.clear()?;
        }
        conversation.clear();
        Ok(())
    }

    /// Shuts the agent down, then removes what it saved.
    pub async fn delete(&self) -> Result<(), Error> {
        // Taken first: a turn that completes meanwhile is not saved.
        let saved = self.state().saved.take();
        self.shut_down().await;
        saved.map_or(Ok(()), ConversationFile::delete)
    }

    /// Stops the agent without waiting: every turn, running or queued, ends with
    /// `Error::Cancelled` and the worker exits. Safe to call more than once.
    pub fn begin_shutdown(&self) {
        let mut state = self.state();
        if state.shut_down {
            return;
        }
        state.shut_down = true;
        state.pending.iter().for_each(Cancellation::cancel);
        // No turn completes now: the file (and its lock) can go at once.
        let saved = state.saved.take();
        self.refresh_idle(&state);
        drop(state);
        drop(saved);
    }

    /// Stops the agent and waits until its worker has ended every turn.
    pub async fn shut_down(&self) {
        self.begin_shutdown();
        // A turn starting on a caller's thread ends (it is cancelled) or moves to a task.
        let worker = self
            .wait_until(|state| match state.worker.take() {
                Some(Worker::Starting) => {
                    state.worker = Some(Worker::Starting);
                    None
                }
                Some(Worker::Task(task)) => Some(Some(task)),
                None => Some(None),
            })
            .await;
        if let Some(worker) = worker {
            // A worker that panicked has ended its turns too (their senders dropped).
            let _ = worker.await;
        }
    }

    /// Tells waiters the idle state may have changed; called with the lock held, after
    /// every change to it (so a waiter's check and the change are ordered by the lock).
    fn refresh_idle(&self, _changed: &AgentState) {
        self.tell_waiters();
    }

    /// The worker: plays queued turns one at a time until the queue is empty. After a
    /// shutdown every queued turn is already cancelled, so each ends at once.
    async fn work(self: Arc<Self>) {
        loop {
            let next = {
                let mut state = self.state();
                let next = state.queue.pop_front();
                if next.is_none() {
                    state.worker = None;
                }
                next
            };
            let Some(turn) = next else { return };
            self.play(turn).await;
        }
    }

    /// `run` contains the backend's panics; one of the kit's own must not leave the
    /// queue without a worker.
    async fn play(self: &Arc<Self>, turn: QueuedTurn) {
        if AssertUnwindSafe(self.run(turn))
            .catch_unwind()
            .await
            .is_err()
        {
            self.end_turn();
        }
    }

    async fn run(self: &Arc<Self>, queued: QueuedTurn) {
        let QueuedTurn {
            sender,
            content,
            unread_handle,
        } = queued;
        let Some((number, completed_turns)) = self.begin_turn(&sender) else {
            let _ = sender.finish(Err(Error::Cancelled));
            self.end_turn();
            return;
        };
        let cancellation = sender.cancellation();
        let weak = Arc::downgrade(self);
        let mut turn = Turn::new(
            sender,
            number,
            completed_turns,
            self.quota.registry.clone(),
            self.quota.key.clone(),
            Arc::new(move || history_of(&weak)),
            self.tools.clone(),
        );
        // The backend's future is dropped when the turn is stopped: that is the cancel.
        // A panic fails this turn only; the agent goes on with the next.
        // Its writes between two awaits reach readers together (see `wake_readers_per_poll`).
        let play = wake_readers_per_poll(
            &cancellation,
            AssertUnwindSafe(self.backend.chat(&self.own, &content, &mut turn)).catch_unwind(),
        );
        let outcome = tokio::select! {
            biased;
            () = cancellation.cancelled() => Err(Error::Cancelled),
            played = play => played.unwrap_or_else(|payload| {
                Err(Error::BackendError(format!(
                    "{} panicked during the turn: {}",
                    B::NAME,
                    panic_message(payload.as_ref())
                )))
            }),
        };
        let stopped = turn.sender().is_cancelled();
        let TurnRecord {
            sender,
            usage,
            structured_output,
            compact,
            tool_messages,
        } = turn.into_record();
        // The readers learn of the end once the agent's lock is free: woken under it,
        // one would block on it at once, starting its next turn.
        wakeups::after(|| {
            let mut state = self.state();
            match outcome {
                // Recorded and completed under the lock, so whoever sees the handle end or
                // the agent go idle also sees the new history.
                Ok(()) if !stopped => {
                    // Recorded only if the handle took the result: a cancel that lands just
                    // now wins, and then the turn changes nothing. A saved conversation
                    // saves it before the handle ends (a turn that cannot be saved fails).
                    // The answer in the history is the turn's own text, shared, not a copy.
                    let AgentState {
                        conversation,
                        saved,
                        ..
                    } = &mut *state;
                    let mut save = |answer: &SharedText| match saved {
                        Some(file) => file.append(SavedTurn {
                            user: &content,
                            tool_messages: &tool_messages,
                            answer: &answer.to_text(),
                            usage,
                            compact,
                        }),
                        None => Ok(()),
                    };
                    if let Some(answer) =
                        sender.complete_sharing_text(usage, structured_output, &mut save)
                    {
                        conversation.record_turn(content, tool_messages, answer, usage, compact);
                    }
                }
                Ok(()) => {
                    sender.finish(Err(Error::Cancelled));
                }
                Err(error) => {
                    sender.finish(Err(error));
                }
            }
            state.pending.pop_front();
            self.refresh_idle(&state);
            drop(state);
        });
        drop(unread_handle);
    }

    /// Starts a turn unless it was stopped while queued; returns its number and the
    /// turns completed before it.
    fn begin_turn(&self, sender: &ChatEventSender) -> Option<(u64, u32)> {
        let mut state = self.state();
        if sender.is_cancelled() {
            return None;
        }
        state.turns_started += 1;
        state.signalled_idle = false;
        self.refresh_idle(&state);
        Some((state.turns_started, state.conversation.turn_count))
    }

    /// A turn that never started leaves the queue.
    fn end_turn(&self) {
        let mut state = self.state();
        state.pending.pop_front();
        self.refresh_idle(&state);
    }
}

/// Where an agent's conversation is saved.
#[allow(clippy::large_enum_variant)] // made once per agent, and taken apart at once
pub(crate) enum Saved {
    /// Nowhere (no `save_dir`); the id the config gave, if any.
    Nowhere(Option<Arc<str>>),
    /// In this file, which held this.
    In(ConversationFile, SavedConversation),
}

fn history_of<B: AgentBackend>(agent: &Weak<Agent<B>>) -> Vec<ConversationMessage> {
    agent
        .upgrade()
        .map(|agent| agent.with_conversation(|conversation| conversation.history()))
        .unwrap_or_default()
}

/// Takes a waiter off the count when its wait ends or is dropped.
struct Uncount<'a>(&'a AtomicUsize);

impl Drop for Uncount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Locks a mutex, ignoring poisoning: the state stays consistent at every unlock.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
