//! The client's end of one session: calls wait for their replies by id, turns are fed
//! from the server's event batches, the application's tools answer the server's calls,
//! and a lost session fails everything in flight with one error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use agent_plugin_api::plugin::ChatEventSender;
use agent_plugin_api::types::ChatEvent;
use agent_plugin_api::types::{Error, Tools};
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;

use super::channel::source_of;
use super::direct_writer::DirectWriter;
use crate::batches::ready_batches;
use crate::convert::{
    broken, error_from_proto, event_from_proto, result_from_proto, text_run_to_batch,
};
use crate::framed;
use crate::proto::call::Method;
use crate::proto::event::Kind as EventKind;
use crate::proto::reply::Outcome;
use crate::proto::runtime_client::RuntimeClient;
use crate::proto::{
    self, client_item, server_item, tool_reply, turn_end, ClientItem, ClientMessage, ServerMessage,
};
use crate::{PROTOCOL_METADATA, PROTOCOL_VERSION};

/// At most this many items go in one message; more wait for the next.
const MAX_BATCH: usize = 512;

/// Says what happened when the session is lost (a closed stream, a dead child): the
/// error every call and turn in flight, and every later call, gets.
pub type OnLost = Arc<dyn Fn(String) -> BoxFuture<'static, Error> + Send + Sync>;

pub(crate) struct Connection {
    out: Outbox,
    state: Mutex<State>,
    next_id: AtomicU64,
    /// A framed session's flusher task: stopped with the connection, so the socket
    /// closes (and the server ends the session) when the client goes.
    flusher: Option<tokio::task::AbortHandle>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(flusher) = &self.flusher {
            flusher.abort();
        }
    }
}

/// Where what the client sends goes.
enum Outbox {
    /// gRPC's request stream, written by tonic's tasks in batches.
    Stream(mpsc::UnboundedSender<ClientItem>),
    /// A framed socket, written from the sender's thread.
    Framed(Arc<DirectWriter>),
}

impl Outbox {
    /// An error only for an item that can never be sent (over the frame bound): on a
    /// session that is closing, what waits for an answer is failed by the reader, with
    /// the cause (a dead child's signal).
    fn send(&self, item: client_item::Item) -> Result<(), Error> {
        let item = ClientItem { item: Some(item) };
        match self {
            Outbox::Stream(out) => {
                // Closed only once the session is over, which the reader reports.
                let _ = out.send(item);
                Ok(())
            }
            Outbox::Framed(writer) => writer
                .send(&ClientMessage { items: vec![item] })
                .map_err(|error| Error::Io(error.to_string())),
        }
    }
}

#[derive(Default)]
struct State {
    calls: HashMap<u64, oneshot::Sender<Result<Outcome, Error>>>,
    turns: HashMap<u64, ChatEventSender>,
    /// The application's tools of each agent, by the id of the call that created it.
    tools: HashMap<u64, Tools>,
    /// Tool calls running for the server, by its id for them.
    tool_calls: HashMap<u64, tokio::task::AbortHandle>,
    lost: Option<Error>,
}

impl Connection {
    /// Opens the session on `channel`; the returned task reads the server's side and
    /// must be aborted when the connection is no longer wanted.
    pub(crate) async fn open(
        channel: Channel,
        destination: &super::Destination,
        on_lost: OnLost,
    ) -> Result<(Arc<Connection>, tokio::task::JoinHandle<()>), Error> {
        let (out, outgoing) = mpsc::unbounded_channel();
        let requests = ready_batches(UnboundedReceiverStream::new(outgoing), MAX_BATCH)
            .map(|items| ClientMessage { items });
        let out = Outbox::Stream(out);
        let mut request = tonic::Request::new(requests);
        request.metadata_mut().insert(
            PROTOCOL_METADATA,
            tonic::metadata::MetadataValue::from_static(PROTOCOL_VERSION),
        );
        destination.authorize(&mut request)?;
        let incoming = RuntimeClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
            .session(request)
            .await
            .map_err(|status| {
                Error::ConnectionError(format!("the server refused the session: {status}"))
            })?
            .into_inner();
        let incoming = incoming.map(|message| message.map_err(|status| source_of(&status)));
        Ok(Connection::start(out, None, incoming, on_lost))
    }

    /// Opens the session on a framed socket (`crate::framed`): what the client sends is
    /// written from the sender's thread ([`DirectWriter`]), and what the server sends is
    /// read by a task.
    pub(crate) fn open_framed(
        socket: tokio::net::UnixStream,
        on_lost: OnLost,
    ) -> Result<(Arc<Connection>, tokio::task::JoinHandle<()>), Error> {
        let cannot = |error: std::io::Error| {
            Error::ConnectionError(format!("cannot use the session's socket: {error}"))
        };
        // Two descriptors of the one socket: the reader's, and the writer's.
        let read = socket.into_std().map_err(cannot)?;
        let write = read.try_clone().map_err(cannot)?;
        let read = tokio::net::UnixStream::from_std(read).map_err(cannot)?;
        let write = tokio::net::UnixStream::from_std(write).map_err(cannot)?;
        let (writer, flusher) = DirectWriter::new(write);
        let flusher = tokio::spawn(flusher).abort_handle();
        let incoming = framed::read_messages::<ServerMessage, _>(read)
            .map(|message| message.map_err(|error| error.to_string()));
        Ok(Connection::start(
            Outbox::Framed(writer),
            Some(flusher),
            incoming,
            on_lost,
        ))
    }

    fn start(
        out: Outbox,
        flusher: Option<tokio::task::AbortHandle>,
        incoming: impl Stream<Item = Result<ServerMessage, String>> + Unpin + Send + 'static,
        on_lost: OnLost,
    ) -> (Arc<Connection>, tokio::task::JoinHandle<()>) {
        let connection = Arc::new(Connection {
            out,
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            flusher,
        });
        let reader = tokio::spawn(connection.clone().read(incoming, on_lost));
        (connection, reader)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn send(&self, item: client_item::Item) {
        if let Err(error) = self.out.send(item) {
            tracing::warn!("a message to the server was dropped: {error}");
        }
    }

    /// Sends a call that nobody waits for.
    pub(crate) fn notify(&self, method: Method) {
        let id = self.next_id();
        self.send(client_item::Item::Call(proto::Call {
            id,
            method: Some(method),
        }));
    }

    /// Sends call `id` and waits for its reply; an error reply is the `Err`.
    pub(crate) async fn call_with_id(&self, id: u64, method: Method) -> Result<Outcome, Error> {
        let (answer, answered) = oneshot::channel();
        {
            let mut state = self.state();
            if let Some(lost) = &state.lost {
                return Err(lost.clone());
            }
            state.calls.insert(id, answer);
        }
        let sent = self.out.send(client_item::Item::Call(proto::Call {
            id,
            method: Some(method),
        }));
        if let Err(error) = sent {
            self.state().calls.remove(&id);
            return Err(error);
        }
        let outcome = match answered.await {
            Ok(outcome) => outcome?,
            Err(_) => return Err(self.lost_error()),
        };
        match outcome {
            Outcome::Error(error) => Err(error_from_proto(error)),
            outcome => Ok(outcome),
        }
    }

    pub(crate) async fn call(&self, method: Method) -> Result<Outcome, Error> {
        self.call_with_id(self.next_id(), method).await
    }

    fn lost_error(&self) -> Error {
        self.state().lost.clone().unwrap_or(Error::ConnectionClosed)
    }

    /// Feeds turn `id` from the server's events once its `chat` call is sent; a cancel of
    /// its handle is sent to the server.
    pub(crate) fn register_turn(
        self: &Arc<Self>,
        id: u64,
        sender: ChatEventSender,
    ) -> Result<(), Error> {
        // Weak: a handle the application keeps must not keep the session open.
        let connection = Arc::downgrade(self);
        sender.on_cancel(move || {
            if let Some(connection) = connection.upgrade() {
                connection.send(client_item::Item::CancelTurn(id));
            }
        });
        let mut state = self.state();
        if let Some(lost) = &state.lost {
            return Err(lost.clone());
        }
        state.turns.insert(id, sender);
        Ok(())
    }

    /// Ends turn `id` with `timeout` at `deadline` if it is still running then (and tells
    /// the server to cancel it).
    pub(crate) fn bound_turn(
        self: &Arc<Self>,
        id: u64,
        deadline: tokio::time::Instant,
        timeout: Error,
    ) {
        let connection = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            let Some(connection) = connection.upgrade() else {
                return;
            };
            let running = connection.state().turns.remove(&id);
            if let Some(sender) = running {
                connection.send(client_item::Item::CancelTurn(id));
                sender.finish(Err(timeout));
            }
        });
    }

    pub(crate) fn forget_turn(&self, id: u64) {
        self.state().turns.remove(&id);
    }

    pub(crate) fn register_tools(&self, id: u64, tools: Tools) {
        self.state().tools.insert(id, tools);
    }

    pub(crate) fn forget_tools(&self, id: u64) {
        self.state().tools.remove(&id);
    }

    async fn read(
        self: Arc<Self>,
        mut incoming: impl Stream<Item = Result<ServerMessage, String>> + Unpin,
        on_lost: OnLost,
    ) {
        let why = loop {
            match incoming.next().await {
                Some(Ok(message)) => {
                    for item in message.items {
                        self.dispatch(item);
                    }
                }
                None => break "the server ended the session".to_owned(),
                Some(Err(why)) => break why,
            }
        };
        let error = on_lost(why).await;
        self.lose(error);
    }

    fn dispatch(self: &Arc<Self>, item: proto::ServerItem) {
        match item.item {
            Some(server_item::Item::Reply(reply)) => {
                let waiting = self.state().calls.remove(&reply.id);
                if let Some(waiting) = waiting {
                    let _ = waiting.send(reply.outcome.ok_or_else(|| broken("an empty reply")));
                }
            }
            Some(server_item::Item::TurnEvents(batch)) => {
                let mut state = self.state();
                if let Some(sender) = state.turns.get_mut(&batch.turn_id) {
                    feed(sender, batch.events);
                }
            }
            Some(server_item::Item::TurnEnd(end)) => {
                let sender = self.state().turns.remove(&end.turn_id);
                if let Some(sender) = sender {
                    sender.finish(match end.outcome {
                        Some(turn_end::Outcome::Result(result)) => result_from_proto(result),
                        Some(turn_end::Outcome::Error(error)) => Err(error_from_proto(error)),
                        None => Err(broken("a turn end with no outcome")),
                    });
                }
            }
            Some(server_item::Item::ToolCall(request)) => self.run_tool(request),
            Some(server_item::Item::CancelToolCall(id)) => {
                if let Some(running) = self.state().tool_calls.remove(&id) {
                    running.abort();
                }
            }
            None => tracing::debug!("the server sent an empty item"),
        }
    }

    fn run_tool(self: &Arc<Self>, request: proto::ToolCallRequest) {
        let tools = self.state().tools.get(&request.tools_id).cloned();
        let connection = Arc::downgrade(self);
        let id = request.tool_call_id;
        // The lock is held across the spawn, so the task's own removal comes after this
        // insert even if it ends at once.
        let mut state = self.state();
        let running = tokio::spawn(async move {
            let output = match (tools, serde_json::from_str(&request.args_json)) {
                (None, _) => Err(format!(
                    "no tools were offered under id {}",
                    request.tools_id
                )),
                (_, Err(error)) => Err(format!("the tool's arguments are not JSON: {error}")),
                (Some(tools), Ok(args)) => tools
                    .call(&request.name, args)
                    .await
                    .map_err(|error| error.message),
            };
            let Some(connection) = connection.upgrade() else {
                return;
            };
            connection.state().tool_calls.remove(&id);
            connection.send(client_item::Item::ToolReply(proto::ToolReply {
                tool_call_id: id,
                output: Some(match output {
                    Ok(value) => tool_reply::Output::OutputJson(value.to_string()),
                    Err(message) => tool_reply::Output::Error(message),
                }),
            }));
        });
        state.tool_calls.insert(id, running.abort_handle());
    }

    /// Fails everything in flight, and every later call, with `error`.
    fn lose(&self, error: Error) {
        let (calls, turns) = {
            let mut state = self.state();
            state.lost = Some(error.clone());
            state.tools.clear();
            state
                .tool_calls
                .drain()
                .for_each(|(_, running)| running.abort());
            (
                std::mem::take(&mut state.calls),
                std::mem::take(&mut state.turns),
            )
        };
        for (_, waiting) in calls {
            let _ = waiting.send(Err(error.clone()));
        }
        for (_, sender) in turns {
            sender.finish(Err(error.clone()));
        }
    }
}

/// Writes a batch of events into a turn; runs of text go in together.
fn feed(sender: &mut ChatEventSender, events: Vec<proto::Event>) {
    let mut texts = Vec::new();
    for event in events {
        let event = match event.kind {
            Some(EventKind::TextRun(run)) => {
                if !texts.is_empty() {
                    sender.texts(std::mem::take(&mut texts));
                }
                match text_run_to_batch(run) {
                    Ok(batch) => {
                        sender.text_batch(batch);
                    }
                    Err(error) => tracing::warn!("text from the server does not read: {error}"),
                }
                continue;
            }
            kind => proto::Event { kind },
        };
        match event_from_proto(event) {
            Ok(Some(ChatEvent::Text(text))) => texts.push(text),
            Ok(Some(event)) => {
                if !texts.is_empty() {
                    sender.texts(std::mem::take(&mut texts));
                }
                sender.send(event);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!("an event from the server does not read: {error}"),
        }
    }
    if !texts.is_empty() {
        sender.texts(texts);
    }
}
