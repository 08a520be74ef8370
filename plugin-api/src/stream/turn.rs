//! The state one turn shares between its writer and all its readers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use smallvec::SmallVec;

use super::text_batch::{Packed, SharedText, TextAt};
use super::{ChatEvent, ChatResult, TextBatch};
use crate::types::Error;

/// How a turn ended well: its result, whose text may be left to the log.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    pub result: ChatResult,
    /// The text is every text chunk written (the log's text batches), concatenated; it
    /// is built only when asked for, so the answer is held once.
    pub text_from_chunks: bool,
}

impl Ended {
    pub(crate) fn given(result: ChatResult) -> Self {
        Ended {
            result,
            text_from_chunks: false,
        }
    }
}

pub(crate) type Outcome = Result<Ended, Error>;

/// What must hold before a turn that ends well is seen to end (see
/// [`Turn::finish_sharing_text`]).
pub(crate) type Commit<'a> = &'a mut dyn FnMut(&SharedText) -> Result<(), Error>;

/// Where a host-side turn gets its events from: a stream inside a plugin.
pub(crate) trait EventSource: Send {
    /// Fetches the next batch; called only when every event so far has been read.
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<SourceBatch>;
}

/// One entry of a turn's log: an event, or text chunks kept packed (each chunk counts as
/// one event for readers, who read it in place).
pub(crate) enum Entry {
    Event(ChatEvent),
    Texts(TextBatch),
}

/// What one pull from an [`EventSource`] brought.
pub(crate) struct SourceBatch {
    pub entries: Vec<Entry>,
    pub outcome: Option<Outcome>,
}

/// Where a reader is in the log: an entry, and inside a text batch, a chunk and the byte
/// it starts at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cursor {
    entry: usize,
    text: TextAt,
    /// The text batch at `entry`, shared, once it no longer grows: its chunks are read
    /// without the turn's lock, which the writer would otherwise meet at every chunk.
    batch: Option<TextBatch>,
}

impl Cursor {
    fn at(entry: usize) -> Self {
        Cursor {
            entry,
            ..Cursor::default()
        }
    }

    /// The next item from the cursor's shared batch, if a chunk is left, advancing past
    /// what it took.
    fn next_shared<T>(&mut self, read: ReadText<T>) -> Option<T> {
        let batch = self.batch.as_ref()?;
        if self.text.chunk >= batch.len() {
            return None;
        }
        Some(read(batch, &mut self.text))
    }
}

/// Makes a reader's item from the text of a batch at `at`, moving `at` past what it took:
/// one chunk, or for a reader of packed text, the rest of the batch.
pub(crate) type ReadText<T> = fn(&TextBatch, &mut TextAt) -> T;

/// What a reader takes from the log: items made from events, and from text chunks
/// (`None`: the reader skips text, a batch at a time).
pub(crate) struct Select<T> {
    pub event: fn(&ChatEvent) -> Option<T>,
    pub text: Option<ReadText<T>>,
}

/// Wakers to wake together. A turn nearly always has one reader and one writer, so one
/// is kept inline: registering it allocates nothing.
pub(crate) type Wakers = SmallVec<[Waker; 1]>;

pub(crate) struct Turn {
    state: Mutex<TurnState>,
    /// Mirrors `TurnState::cancelled` for writers that ask per event, without the lock.
    cancelled: AtomicBool,
    /// Readers waiting for a change. Kept apart from `state` because a source may wake
    /// us from inside `poll_batch`, while `state` is locked.
    readers: Mutex<Wakers>,
}

pub(crate) struct TurnState {
    /// `events[0]` is entry number `base`; only a plugin-side export drains entries.
    events: VecDeque<Entry>,
    base: usize,
    /// The text batches an export has taken, oldest first, shared with the other side:
    /// with the log's own, the turn's whole text.
    drained: Vec<Arc<Packed>>,
    /// The export waits for the growing text batch to fill (see `poll_take_batch`):
    /// writes then wake it only once the batch is big enough.
    coalescing: bool,
    /// The writer's future is being polled: writes leave waking readers to the end of
    /// the poll (see [`super::held_wakes`]), and `held_wake` says one is owed.
    holding: bool,
    held_wake: bool,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) cancelled: bool,
    /// The writer's tasks waiting for cancellation.
    cancel_waiters: Wakers,
    /// Run once when the turn is cancelled, outside the lock.
    cancel_hooks: Vec<Box<dyn FnOnce() + Send>>,
    source: Option<Box<dyn EventSource>>,
}

impl TurnState {
    /// Whether a write wakes readers now; while wakes are held, it is owed instead.
    fn wake_now(&mut self) -> bool {
        if self.holding {
            self.held_wake = true;
            false
        } else {
            true
        }
    }

    /// Appends text chunks to the last batch while it can grow (else to a new one); whether
    /// readers are to be woken now.
    fn append_text<'a>(&mut self, chunks: impl IntoIterator<Item = &'a str>) -> bool {
        let growing = matches!(
            self.events.back(),
            Some(Entry::Texts(batch)) if batch.is_owned()
        );
        if !growing {
            self.events.push_back(Entry::Texts(TextBatch::new()));
        }
        let mut full = false;
        if let Some(Entry::Texts(batch)) = self.events.back_mut() {
            chunks.into_iter().for_each(|chunk| batch.push(chunk));
            full = batch.as_str().len() >= COALESCE_BYTES;
        }
        // A new entry behind one the export waits on is news too.
        if full || !growing {
            self.coalescing = false;
        }
        !self.coalescing && self.wake_now()
    }

    /// Every text chunk written, in order, as shared parts (freezing the log's batches).
    fn share_text(&mut self) -> SharedText {
        let mut parts = self.drained.clone();
        for entry in &mut self.events {
            if let Entry::Texts(batch) = entry {
                parts.push(batch.freeze());
            }
        }
        SharedText::new(parts)
    }

    /// Every text chunk written, concatenated into a string of its own.
    pub(crate) fn text(&self) -> String {
        let batches = || {
            self.events.iter().filter_map(|entry| match entry {
                Entry::Texts(batch) => Some(batch.as_str()),
                Entry::Event(_) => None,
            })
        };
        let drained = self.drained.iter().map(|part| part.buffer.as_str());
        let size =
            drained.clone().map(str::len).sum::<usize>() + batches().map(str::len).sum::<usize>();
        let mut text = String::with_capacity(size);
        drained
            .chain(batches())
            .for_each(|part| text.push_str(part));
        text
    }

    /// The result an outcome stands for, with its text built if it was left to the log.
    pub(crate) fn result(&self) -> Option<Result<ChatResult, Error>> {
        Some(match self.outcome.as_ref()? {
            Ok(ended) => {
                let mut result = ended.result.clone();
                if ended.text_from_chunks {
                    result.text = self.text();
                }
                Ok(result)
            }
            Err(error) => Err(error.clone()),
        })
    }
}

/// How many bytes of text a plugin-side export waits for before it takes a growing text
/// batch on its own (it never waits longer than its flush window, see `chat_stream`).
/// Fewer, bigger crossings: each costs a few hundred bytes of bookkeeping on both sides,
/// which for tiny chunks read as fast as they come was several times the text itself.
pub(crate) const COALESCE_BYTES: usize = 4096;

/// What a reader found at its cursor.
pub(crate) enum Read<T> {
    Event(T),
    End,
}

impl Turn {
    pub(crate) fn new(source: Option<Box<dyn EventSource>>) -> Arc<Turn> {
        // A backend writes here: room for a short turn's text and events (steps, text,
        // usage), made by whoever starts the turn and not grown by the backend thread
        // that writes it (growing memory another thread allocated takes that thread's
        // allocator lock, which it is likely holding at that moment). A source's log
        // takes its first batch whole.
        let events = if source.is_some() {
            VecDeque::new()
        } else {
            VecDeque::with_capacity(4)
        };
        Turn::with_log(events, None, source)
    }

    /// A turn that has ended already, with its whole log: one a plugin played to its end
    /// while `chat` ran, so its readers find everything at once and nothing to pull.
    pub(crate) fn ended(entries: Vec<Entry>, outcome: Outcome) -> Arc<Turn> {
        Turn::with_log(VecDeque::from(entries), Some(outcome), None)
    }

    fn with_log(
        events: VecDeque<Entry>,
        outcome: Option<Outcome>,
        source: Option<Box<dyn EventSource>>,
    ) -> Arc<Turn> {
        Arc::new(Turn {
            cancelled: AtomicBool::new(false),
            state: Mutex::new(TurnState {
                events,
                base: 0,
                drained: Vec::new(),
                coalescing: false,
                holding: false,
                held_wake: false,
                outcome,
                cancelled: false,
                cancel_waiters: Wakers::new(),
                cancel_hooks: Vec::new(),
                source,
            }),
            readers: Mutex::new(Wakers::new()),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TurnState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take_readers(&self) -> Wakers {
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
        let wake = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return false;
            }
            state.events.extend(events.into_iter().map(Entry::Event));
            state.wake_now()
        };
        if wake {
            self.wake_readers();
        }
        true
    }

    /// Appends a batch of text chunks, kept packed; `false` if the turn has ended. The
    /// batch is written whole, so it is shared from now on: readers take its chunks
    /// without a copy each, and without the turn's lock.
    pub(crate) fn push_texts(&self, mut batch: TextBatch) -> bool {
        if batch.is_empty() {
            return self.lock().outcome.is_none();
        }
        if batch.is_owned() {
            batch.freeze();
        }
        let wake = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return false;
            }
            state.events.push_back(Entry::Texts(batch));
            state.wake_now()
        };
        if wake {
            self.wake_readers();
        }
        true
    }

    /// Appends text chunks to the log's last batch while it can grow (else to a new one):
    /// no allocation per chunk, and one entry however many chunks come before a reader.
    pub(crate) fn push_text<'a>(&self, chunks: impl IntoIterator<Item = &'a str>) -> bool {
        let wake = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return false;
            }
            state.append_text(chunks)
        };
        if wake {
            self.wake_readers();
        }
        true
    }

    /// From now on writes owe readers their wake-up instead of waking them.
    pub(crate) fn hold_wakes(&self) {
        self.lock().holding = true;
    }

    /// Appends the text a poll held back (unless the turn has ended), then lets writes
    /// wake readers again; the wake-up owed, if any, happens now. One lock for both.
    pub(crate) fn release_wakes(&self, held: &TextBatch) {
        let owed = {
            let mut state = self.lock();
            if !held.is_empty() && state.outcome.is_none() {
                state.append_text(held.chunks());
            }
            state.holding = false;
            std::mem::take(&mut state.held_wake)
        };
        if owed {
            self.wake_readers();
        }
    }

    /// Every text chunk written so far, in a string of its own.
    pub(crate) fn text(&self) -> String {
        self.lock().text()
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
        self.end(last, outcome, None).is_some()
    }

    /// Ends the turn well after `last`, its text left to the log, and hands back that
    /// text shared (for a history); `None` if the turn had already ended.
    ///
    /// `commit` runs first, with the text, once the turn is sure to end well and before
    /// any reader can see it end (a cancel waits for it): a turn saved to disk is on disk
    /// before its result is out. If it fails, the turn ends with its error instead.
    pub(crate) fn finish_sharing_text(
        &self,
        last: Option<TextBatch>,
        outcome: Outcome,
        commit: Commit<'_>,
    ) -> Option<SharedText> {
        self.end(last, outcome, Some(commit))
    }

    fn end(
        &self,
        last: Option<TextBatch>,
        outcome: Outcome,
        commit: Option<Commit<'_>>,
    ) -> Option<SharedText> {
        let (source, shared) = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return None;
            }
            if let Some(batch) = last.filter(|batch| !batch.is_empty()) {
                state.events.push_back(Entry::Texts(batch));
            }
            let (outcome, shared) = match commit {
                None => (outcome, Some(SharedText::default())),
                Some(commit) => {
                    let shared = state.share_text();
                    match commit(&shared) {
                        Ok(()) => (outcome, Some(shared)),
                        Err(error) => (Err(error), None),
                    }
                }
            };
            state.outcome = Some(outcome);
            state.cancel_hooks.clear();
            (state.source.take(), shared)
        };
        drop(source);
        self.wake_readers_of_end();
        shared
    }

    /// Whether the turn has its outcome (finished, failed or cancelled).
    pub(crate) fn has_ended(&self) -> bool {
        self.lock().outcome.is_some()
    }

    /// Marks the turn cancelled: readers end with `Error::Cancelled` and the writer is told.
    pub(crate) fn cancel(&self) {
        let (source, waiters, hooks) = {
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
                std::mem::take(&mut state.cancel_hooks),
            )
        };
        // Dropping a plugin-side stream is what cancels the turn inside the plugin.
        drop(source);
        // The writer learns of it at once (a Python task is cancelled on its loop), not
        // only at its next write.
        hooks.into_iter().for_each(|hook| hook());
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

    /// Reads the first item at or after `cursor` that `select` accepts, advancing `cursor`.
    pub(crate) fn poll_read<T>(
        self: &Arc<Self>,
        cursor: &mut Cursor,
        select: &Select<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Read<T>> {
        if cursor.batch.is_some() {
            if let Some(item) = select.text.and_then(|read| cursor.next_shared(read)) {
                return Poll::Ready(Read::Event(item));
            }
            // Read to its end, and it no longer grows: what follows is another entry.
            *cursor = Cursor::at(cursor.entry + 1);
        }
        loop {
            let state = self.lock();
            if cursor.entry < state.base {
                *cursor = Cursor::at(state.base);
            }
            loop {
                let index = cursor.entry - state.base;
                let last = index + 1 == state.events.len();
                match state.events.get(index) {
                    None => break,
                    Some(Entry::Event(event)) => {
                        cursor.entry += 1;
                        if let Some(item) = (select.event)(event) {
                            return Poll::Ready(Read::Event(item));
                        }
                    }
                    Some(Entry::Texts(batch)) => {
                        if cursor.text.chunk < batch.len() {
                            let Some(read) = select.text else {
                                cursor.text = TextAt {
                                    chunk: batch.len(),
                                    byte: batch.as_str().len(),
                                };
                                continue;
                            };
                            if !batch.is_owned() {
                                // Shared already: the rest of it is read lock-free.
                                cursor.batch = Some(batch.clone());
                                if let Some(item) = cursor.next_shared(read) {
                                    return Poll::Ready(Read::Event(item));
                                }
                            }
                            return Poll::Ready(Read::Event(read(batch, &mut cursor.text)));
                        }
                        // The last batch may still grow while it is owned: stay at its
                        // end until another entry follows.
                        if last && batch.is_owned() {
                            break;
                        }
                        *cursor = Cursor::at(cursor.entry + 1);
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
        if state.events.is_empty() {
            // The batch's vector becomes the log: no copy, no allocation.
            state.events = VecDeque::from(batch.entries);
        } else {
            state.events.extend(batch.entries);
        }
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

    /// How many entries the log holds (a text batch counts once): for tests.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.lock().events.len()
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

    /// The whole log and the outcome of a turn that has ended, given away to a
    /// plugin-side export that crosses it in one answer and drops the turn (an immediate
    /// `chat`): `None` while it runs. Nothing is kept for later readers; there are none.
    pub(crate) fn take_ended(&self) -> Option<(Vec<Entry>, Outcome)> {
        let mut state = self.lock();
        // The outcome stays: the turn is still seen to have ended as it is dropped.
        let outcome = state.outcome.clone()?;
        let events = std::mem::take(&mut state.events);
        state.base += events.len();
        Some((Vec::from(events), outcome))
    }

    /// Moves out up to `max` unread entries for a plugin-side export, which is the turn's
    /// only reader; the outcome comes along once every entry has been taken. Text
    /// batches leave packed and shared: the turn keeps them as part of its text.
    ///
    /// With `min_text` above zero, a lone text batch that can still grow and holds fewer
    /// bytes is left to fill: `Pending`, with `*small` set, and writes wake the export only
    /// once it holds `min_text` bytes ([`COALESCE_BYTES`]); any other entry, or the end of
    /// the turn, wakes it at once.
    pub(crate) fn poll_take_batch(
        &self,
        max: usize,
        min_text: usize,
        small: &mut bool,
        cx: &mut Context<'_>,
    ) -> Poll<(Vec<Entry>, Option<Outcome>)> {
        let wait = |state: &TurnState| {
            let lone_small_text = state.events.len() == 1
                && matches!(
                    state.events.front(),
                    Some(Entry::Texts(batch)) if batch.is_owned() && batch.as_str().len() < min_text
                );
            state.outcome.is_none() && (state.events.is_empty() || lone_small_text)
        };
        let mut state = self.lock();
        if wait(&state) {
            drop(state);
            self.register_reader(cx.waker());
            state = self.lock();
            if wait(&state) {
                *small = !state.events.is_empty();
                state.coalescing = *small;
                return Poll::Pending;
            }
        }
        state.coalescing = false;
        let count = state.events.len().min(max.max(1));
        let mut entries: Vec<Entry> = state.events.drain(..count).collect();
        for entry in &mut entries {
            if let Entry::Texts(batch) = entry {
                let shared = batch.freeze();
                state.drained.push(shared);
            }
        }
        state.base += count;
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
