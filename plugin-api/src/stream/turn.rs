//! The state one turn shares between its writer and all its readers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use super::{ChatEvent, ChatResult, TextBatch};
use crate::types::Error;

pub(crate) type Outcome = Result<ChatResult, Error>;

/// Where a host-side turn gets its events from: a stream inside a plugin.
pub(crate) trait EventSource: Send {
    /// Fetches the next batch; called only when every event so far has been read.
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<SourceBatch>;
}

/// One entry of a turn's log: an event, or a batch of text chunks that stays packed until
/// a reader reaches it (it then counts as one event per chunk).
pub(crate) enum Entry {
    Event(ChatEvent),
    Texts(TextBatch),
}

impl Entry {
    fn events(&self) -> usize {
        match self {
            Entry::Event(_) => 1,
            Entry::Texts(batch) => batch.len(),
        }
    }
}

/// What one pull from an [`EventSource`] brought.
pub(crate) struct SourceBatch {
    pub events: Vec<ChatEvent>,
    pub outcome: Option<Outcome>,
}

pub(crate) struct Turn {
    state: Mutex<TurnState>,
    /// Mirrors `TurnState::cancelled` for writers that ask per event, without the lock.
    cancelled: AtomicBool,
    /// Readers waiting for a change. Kept apart from `state` because a source may wake
    /// us from inside `poll_batch`, while `state` is locked.
    readers: Mutex<Vec<Waker>>,
}

pub(crate) struct TurnState {
    /// `events[0]` is event number `base`; only a plugin-side export drains events.
    /// Every entry before a reader's cursor is a single event (readers unpack batches
    /// they reach), so a cursor is also an index.
    events: VecDeque<Entry>,
    base: usize,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) cancelled: bool,
    /// The writer's tasks waiting for cancellation.
    cancel_waiters: Vec<Waker>,
    /// Run once when the turn is cancelled, outside the lock.
    cancel_hooks: Vec<Box<dyn FnOnce() + Send>>,
    source: Option<Box<dyn EventSource>>,
}

/// What a reader found at its cursor.
pub(crate) enum Read<T> {
    Event(T),
    End,
}

impl Turn {
    pub(crate) fn new(source: Option<Box<dyn EventSource>>) -> Arc<Turn> {
        Arc::new(Turn {
            cancelled: AtomicBool::new(false),
            state: Mutex::new(TurnState {
                // Room for a short turn's text and events: allocated by whoever starts
                // the turn, not by the backend thread that writes it.
                events: VecDeque::with_capacity(2),
                base: 0,
                outcome: None,
                cancelled: false,
                cancel_waiters: Vec::new(),
                cancel_hooks: Vec::new(),
                source,
            }),
            readers: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TurnState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take_readers(&self) -> Vec<Waker> {
        std::mem::take(&mut *self.readers.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn wake_readers(&self) {
        self.take_readers().into_iter().for_each(Waker::wake);
    }

    /// The turn has ended: its readers may be woken together with those of other turns
    /// that end on this thread soon after (see [`super::wakeups`]).
    fn wake_readers_of_end(&self) {
        super::wakeups::wake_all(self.take_readers());
    }

    fn register_reader(&self, waker: &Waker) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if !readers.iter().any(|known| known.will_wake(waker)) {
            readers.push(waker.clone());
        }
    }

    /// Appends an event unless the turn has already ended. Returns whether it was kept.
    pub(crate) fn push(&self, event: ChatEvent) -> bool {
        self.push_many(std::iter::once(event))
    }

    /// Appends events under one lock and one wake-up.
    pub(crate) fn push_many(&self, events: impl IntoIterator<Item = ChatEvent>) -> bool {
        let kept = {
            let mut state = self.lock();
            let open = state.outcome.is_none();
            if open {
                state.events.extend(events.into_iter().map(Entry::Event));
            }
            open
        };
        if kept {
            self.wake_readers();
        }
        kept
    }

    /// Appends a batch of text chunks, kept packed; `false` if the turn has ended.
    pub(crate) fn push_texts(&self, batch: TextBatch) -> bool {
        if batch.is_empty() {
            return self.lock().outcome.is_none();
        }
        let kept = {
            let mut state = self.lock();
            let open = state.outcome.is_none();
            if open {
                state.events.push_back(Entry::Texts(batch));
            }
            open
        };
        if kept {
            self.wake_readers();
        }
        kept
    }

    /// Runs `hook` when the turn is cancelled (at once if it already was); never if it
    /// ends otherwise.
    pub(crate) fn on_cancel(&self, hook: Box<dyn FnOnce() + Send>) {
        let mut state = self.lock();
        if state.cancelled {
            drop(state);
            hook();
        } else if state.outcome.is_none() {
            state.cancel_hooks.push(hook);
        }
    }

    /// Sets the outcome once; later calls are ignored and return `false`.
    pub(crate) fn finish(&self, outcome: Outcome) -> bool {
        self.finish_with(None, outcome)
    }

    /// Appends the last text and sets the outcome under one lock, with one wake-up.
    pub(crate) fn finish_with(&self, last: Option<TextBatch>, outcome: Outcome) -> bool {
        let source = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return false;
            }
            if let Some(batch) = last.filter(|batch| !batch.is_empty()) {
                state.events.push_back(Entry::Texts(batch));
            }
            state.outcome = Some(outcome);
            state.cancel_hooks.clear();
            state.source.take()
        };
        drop(source);
        self.wake_readers_of_end();
        true
    }

    /// Marks the turn cancelled: readers end with `Error::Cancelled` and the writer is told.
    pub(crate) fn cancel(&self) {
        let (source, waiters) = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return;
            }
            state.cancelled = true;
            self.cancelled.store(true, Ordering::Release);
            state.outcome = Some(Err(Error::Cancelled));
            (
                state.source.take(),
                std::mem::take(&mut state.cancel_waiters),
            )
        };
        // Dropping a plugin-side stream is what cancels the turn inside the plugin.
        drop(source);
        waiters.into_iter().for_each(Waker::wake);
        self.wake_readers();
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn poll_cancelled(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.cancelled {
            Poll::Ready(())
        } else {
            if !state
                .cancel_waiters
                .iter()
                .any(|known| known.will_wake(cx.waker()))
            {
                state.cancel_waiters.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }

    /// Reads the first event at or after `cursor` that `select` accepts, advancing `cursor`.
    pub(crate) fn poll_read<T>(
        self: &Arc<Self>,
        cursor: &mut usize,
        select: fn(&ChatEvent) -> Option<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Read<T>> {
        loop {
            let mut state = self.lock();
            *cursor = (*cursor).max(state.base);
            loop {
                let index = *cursor - state.base;
                match state.events.get(index) {
                    None => break,
                    Some(Entry::Texts(_)) => unpack_at(&mut state.events, index),
                    Some(Entry::Event(event)) => {
                        *cursor += 1;
                        if let Some(item) = select(event) {
                            return Poll::Ready(Read::Event(item));
                        }
                    }
                }
            }
            if state.outcome.is_some() {
                return Poll::Ready(Read::End);
            }
            // Register before pulling, so a batch that lands in between still wakes us.
            self.register_reader(cx.waker());
            match self.pull(state) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => self.wake_readers(),
            }
        }
    }

    /// Pulls one batch from the source, if there is one, into the log. Whoever pulls,
    /// every waiting reader is woken when the plugin has more.
    fn pull(self: &Arc<Self>, mut state: MutexGuard<'_, TurnState>) -> Poll<()> {
        let Some(source) = state.source.as_mut() else {
            return Poll::Pending;
        };
        let fan_out = Waker::from(self.clone());
        let batch = match source.poll_batch(&mut Context::from_waker(&fan_out)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(batch) => batch,
        };
        state
            .events
            .extend(batch.events.into_iter().map(Entry::Event));
        let finished_source = match batch.outcome {
            Some(outcome) => {
                state.outcome = Some(outcome);
                state.source.take()
            }
            None => None,
        };
        drop(state);
        drop(finished_source);
        Poll::Ready(())
    }

    /// Whether the turn has ended, pulling what a source already has without waiting.
    pub(crate) fn is_finished(self: &Arc<Self>) -> bool {
        loop {
            let state = self.lock();
            if state.outcome.is_some() {
                return true;
            }
            if self.pull(state).is_pending() {
                return false;
            }
        }
    }

    /// Moves out up to `max` unread entries for a plugin-side export, which is the turn's
    /// only reader; the outcome comes along once every entry has been taken. Text
    /// batches leave packed: the host unpacks them, on its own threads.
    pub(crate) fn poll_take_batch(
        &self,
        max: usize,
        cx: &mut Context<'_>,
    ) -> Poll<(Vec<Entry>, Option<Outcome>)> {
        let mut state = self.lock();
        if state.events.is_empty() && state.outcome.is_none() {
            drop(state);
            self.register_reader(cx.waker());
            state = self.lock();
            if state.events.is_empty() && state.outcome.is_none() {
                return Poll::Pending;
            }
        }
        let count = state.events.len().min(max.max(1));
        let entries: Vec<Entry> = state.events.drain(..count).collect();
        state.base += entries.iter().map(Entry::events).sum::<usize>();
        let outcome = if state.events.is_empty() {
            state.outcome.clone()
        } else {
            None
        };
        Poll::Ready((entries, outcome))
    }
}

impl Wake for Turn {
    fn wake(self: Arc<Self>) {
        self.wake_readers();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_readers();
    }
}

/// Replaces the text batch at `index` with one event per chunk, in place.
fn unpack_at(events: &mut VecDeque<Entry>, index: usize) {
    let mut tail = events.split_off(index);
    if let Some(Entry::Texts(batch)) = tail.pop_front() {
        events.extend(
            batch
                .chunks()
                .map(|chunk| Entry::Event(ChatEvent::Text(chunk.to_owned()))),
        );
    }
    events.append(&mut tail);
}
