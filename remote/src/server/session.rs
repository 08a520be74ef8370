//! One client's session: each call runs as a task of its own, each turn is pumped to the
//! client in batches, the application's tools are called back, and when the stream ends
//! the session's turns are cancelled and its agents shut down.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Waker};
use std::time::Duration;

use agent_plugin_api::types::{AgentId, Error, ToolError};
use agent_plugin_api::Runtime;
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Status;

use super::{host_tools, turn_pump};
use crate::batches::ready_batches;
use crate::convert::{
    broken, config_from_proto, content_from_proto, error_to_proto, message_to_proto, usage_to_proto,
};
use crate::proto::call::Method;
use crate::proto::reply::Outcome;
use crate::proto::{self, client_item, server_item, ClientMessage, ServerItem, ServerMessage};

/// At most this many items go in one message; more wait for the next.
const MAX_BATCH: usize = 512;

/// How long a stopping server waits for its turns to tell their clients they ended.
const TURNS_END_WITHIN: Duration = Duration::from_secs(5);

pub(crate) struct Session {
    runtime: Arc<dyn Runtime>,
    out: mpsc::UnboundedSender<Outgoing>,
    state: Mutex<State>,
    next_tool_call: AtomicU64,
    /// Told when the last turn of an ended session ends.
    last_turn_ended: Notify,
    /// The client reads `TextRun`s (protocol 1.1 or later).
    packs_text: bool,
}

enum Outgoing {
    Item(ServerItem),
    /// Ends the stream even while tasks of the session still hold a sender.
    Close,
}

#[derive(Default)]
struct State {
    agents: HashSet<AgentId>,
    /// Each running turn's cancel signal, by the id of the `chat` call that started it.
    turns: HashMap<u64, Arc<Notify>>,
    tool_calls: HashMap<u64, oneshot::Sender<Result<Value, ToolError>>>,
    ended: bool,
}

impl Session {
    /// Starts serving `incoming`; returns the stream of what the server sends back.
    pub(crate) fn start(
        runtime: Arc<dyn Runtime>,
        incoming: impl Stream<Item = Result<ClientMessage, Status>> + Send + Unpin + 'static,
        stopping: watch::Receiver<bool>,
        packs_text: bool,
    ) -> impl Stream<Item = Result<ServerMessage, Status>> + Send + 'static {
        let (out, outgoing) = mpsc::unbounded_channel();
        let session = Arc::new(Session {
            runtime,
            out,
            state: Mutex::new(State::default()),
            next_tool_call: AtomicU64::new(1),
            last_turn_ended: Notify::new(),
            packs_text,
        });
        tokio::spawn(session.run(incoming, stopping));
        let items = UnboundedReceiverStream::new(outgoing)
            .take_while(|outgoing| std::future::ready(matches!(outgoing, Outgoing::Item(_))))
            .filter_map(|outgoing| {
                std::future::ready(match outgoing {
                    Outgoing::Item(item) => Some(item),
                    Outgoing::Close => None,
                })
            });
        ready_batches(items, MAX_BATCH).map(|items| Ok(ServerMessage { items }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn packs_text(&self) -> bool {
        self.packs_text
    }

    pub(super) fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    pub(super) fn send(&self, item: server_item::Item) {
        let _ = self
            .out
            .send(Outgoing::Item(ServerItem { item: Some(item) }));
    }

    pub(super) fn reply(&self, id: u64, outcome: Outcome) {
        self.send(server_item::Item::Reply(proto::Reply {
            id,
            outcome: Some(outcome),
        }));
    }

    async fn run(
        self: Arc<Self>,
        mut incoming: impl Stream<Item = Result<ClientMessage, Status>> + Unpin,
        mut stopping: watch::Receiver<bool>,
    ) {
        let server_stopping = loop {
            tokio::select! {
                message = incoming.next() => match message {
                    Some(Ok(message)) => {
                        for item in message.items {
                            self.handle(item);
                        }
                    }
                    None => break false,
                    Some(Err(status)) => {
                        tracing::warn!("a client's session ended with an error: {status}");
                        break false;
                    }
                },
                _ = stopping.wait_for(|stopping| *stopping) => break true,
            }
        };
        self.end(server_stopping).await;
    }

    fn handle(self: &Arc<Self>, item: proto::ClientItem) {
        match item.item {
            Some(client_item::Item::Call(call)) => {
                // Most calls are ready at once (a count, a turn's start): answered here,
                // they cost no task and no hand-off; one that waits goes on as a task
                // (which polls it again, so the no-op waker of this poll loses nothing).
                let mut answer = Box::pin(self.clone().answer(call));
                let mut first_poll = Context::from_waker(Waker::noop());
                if answer.as_mut().poll(&mut first_poll).is_pending() {
                    tokio::spawn(answer);
                }
            }
            Some(client_item::Item::CancelTurn(turn_id)) => {
                if let Some(cancel) = self.state().turns.get(&turn_id) {
                    cancel.notify_one();
                }
            }
            Some(client_item::Item::ToolReply(reply)) => {
                let waiting = self.state().tool_calls.remove(&reply.tool_call_id);
                if let Some(waiting) = waiting {
                    let _ = waiting.send(host_tools::reply_output(reply.output));
                }
            }
            None => tracing::debug!("a client sent an empty item"),
        }
    }

    /// Runs one call and sends its reply (a `chat` also pumps its turn).
    async fn answer(self: Arc<Self>, call: proto::Call) {
        let id = call.id;
        let Some(method) = call.method else {
            return self.reply(id, failed(broken("a call with no method")));
        };
        let runtime = &self.runtime;
        let outcome = match method {
            Method::CreateAgent(create) => self.create_agent(id, create).await,
            Method::Chat(chat) => return turn_pump::run(self, id, chat).await,
            Method::Send(chat) => match content_from_proto(chat.content.unwrap_or_default()) {
                Ok(content) => done(runtime.send(chat.agent_id, &content).await),
                Err(error) => failed(error),
            },
            Method::ShutdownAgent(agent) => {
                let outcome = done(runtime.shutdown_agent(agent.agent_id).await);
                self.state().agents.remove(&agent.agent_id);
                outcome
            }
            Method::Delete(agent) => {
                let outcome = done(runtime.delete(agent.agent_id).await);
                self.state().agents.remove(&agent.agent_id);
                outcome
            }
            Method::Cancel(agent) => done(runtime.cancel(agent.agent_id).await),
            Method::WaitForIdle(agent) => done(runtime.wait_for_idle(agent.agent_id).await),
            Method::SignalIdle(agent) => done(runtime.signal_idle(agent.agent_id).await),
            Method::WaitForWakeup(wait) => answer_with(
                runtime
                    .wait_for_wakeup(wait.agent_id, Duration::from_millis(wait.timeout_ms))
                    .await,
                Outcome::Flag,
            ),
            Method::WaitForQuota(_) => {
                runtime.wait_for_quota().await;
                Outcome::Done(proto::Nothing {})
            }
            Method::RecordQuotaHit(hit) => {
                runtime
                    .record_quota_hit(Duration::from_millis(hit.retry_after_ms))
                    .await;
                Outcome::Done(proto::Nothing {})
            }
            Method::History(agent) => {
                answer_with(runtime.history(agent.agent_id).await, |messages| {
                    Outcome::History(proto::History {
                        messages: messages.iter().map(message_to_proto).collect(),
                    })
                })
            }
            Method::TurnCount(agent) => {
                answer_with(runtime.turn_count(agent.agent_id).await, Outcome::Count)
            }
            Method::TotalUsage(agent) => {
                answer_with(runtime.total_usage(agent.agent_id).await, |usage| {
                    Outcome::Usage(usage_to_proto(&usage))
                })
            }
            Method::LastTurnUsage(agent) => {
                answer_with(runtime.last_turn_usage(agent.agent_id).await, |usage| {
                    Outcome::Usage(usage_to_proto(&usage))
                })
            }
            Method::ClearHistory(agent) => done(runtime.clear_history(agent.agent_id).await),
            Method::LastResponse(agent) => {
                answer_with(runtime.last_response(agent.agent_id).await, |text| {
                    Outcome::Text(proto::OptionalText { text })
                })
            }
            Method::CompactionIndices(agent) => answer_with(
                runtime.compaction_indices(agent.agent_id).await,
                |indices| Outcome::Indices(proto::Indices { indices }),
            ),
            Method::Disconnect(agent) => done(runtime.disconnect(agent.agent_id).await),
            Method::IsIdle(agent) => {
                answer_with(runtime.is_idle(agent.agent_id).await, Outcome::Flag)
            }
            Method::ConversationId(agent) => {
                answer_with(runtime.conversation_id(agent.agent_id).await, |text| {
                    Outcome::Text(proto::OptionalText { text })
                })
            }
            // Best effort, never answered.
            Method::TryShutdownAgent(agent) => {
                runtime.try_shutdown_agent(agent.agent_id);
                self.state().agents.remove(&agent.agent_id);
                return;
            }
        };
        self.reply(id, outcome);
    }

    async fn create_agent(self: &Arc<Self>, id: u64, create: proto::CreateAgent) -> Outcome {
        let config = match config_from_proto(create.config.unwrap_or_default()) {
            Ok(config) => config,
            Err(error) => return failed(error),
        };
        let created = if create.tool_names.is_empty() {
            self.runtime.create_agent(config).await
        } else {
            let tools = host_tools::calling_back(self, id, create.tool_names);
            self.runtime.create_agent_with_tools(config, tools).await
        };
        let agent_id = match created {
            Ok(agent_id) => agent_id,
            Err(error) => return failed(error),
        };
        let kept = {
            let mut state = self.state();
            !state.ended && state.agents.insert(agent_id)
        };
        if !kept {
            // The session ended while the agent was being made: nobody can use it.
            let _ = self.runtime.shutdown_agent(agent_id).await;
            return failed(Error::ConnectionClosed);
        }
        Outcome::AgentId(agent_id)
    }

    /// Registers a turn's cancel signal; `false` once the session has ended.
    pub(super) fn register_turn(&self, turn_id: u64, cancel: Arc<Notify>) -> bool {
        let mut state = self.state();
        if state.ended {
            return false;
        }
        state.turns.insert(turn_id, cancel);
        true
    }

    pub(super) fn turn_ended(&self, turn_id: u64) {
        let mut state = self.state();
        state.turns.remove(&turn_id);
        if state.ended && state.turns.is_empty() {
            // A permit if `end` is not waiting yet: it is not lost.
            self.last_turn_ended.notify_one();
        }
    }

    /// Asks the application to run one of its tools, and waits for the answer.
    pub(super) async fn call_tool(
        &self,
        tools_id: u64,
        name: &str,
        args: Value,
    ) -> Result<Value, ToolError> {
        let tool_call_id = self.next_tool_call.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        {
            let mut state = self.state();
            if state.ended {
                return Err(host_tools::application_gone());
            }
            state.tool_calls.insert(tool_call_id, answer);
        }
        self.send(server_item::Item::ToolCall(proto::ToolCallRequest {
            tool_call_id,
            tools_id,
            name: name.to_owned(),
            args_json: args.to_string(),
        }));
        // Dropped before the answer (the turn was cancelled): the client drops the call.
        let mut pending = PendingToolCall {
            session: self,
            tool_call_id,
            answered: false,
        };
        let answer = answered
            .await
            .unwrap_or_else(|_| Err(host_tools::application_gone()));
        pending.answered = true;
        answer
    }

    /// The client left or the server is stopping: cancel every turn, answer every tool
    /// call, shut down every agent, close the stream.
    async fn end(&self, server_stopping: bool) {
        let (turns, agents) = {
            let mut state = self.state();
            state.ended = true;
            state.tool_calls.clear();
            (
                state.turns.values().cloned().collect::<Vec<_>>(),
                state.agents.drain().collect::<Vec<_>>(),
            )
        };
        for cancel in turns {
            cancel.notify_one();
        }
        if server_stopping {
            // Their ends (`Cancelled`) reach the client before the stream closes.
            let all_ended = async {
                while !self.state().turns.is_empty() {
                    self.last_turn_ended.notified().await;
                }
            };
            let _ = tokio::time::timeout(TURNS_END_WITHIN, all_ended).await;
        }
        for agent_id in agents {
            if let Err(error) = self.runtime.shutdown_agent(agent_id).await {
                tracing::debug!("shutting down agent {agent_id} of an ended session: {error}");
            }
        }
        let _ = self.out.send(Outgoing::Close);
    }
}

/// A tool call the backend still waits for; dropping it tells the client to drop it too.
struct PendingToolCall<'a> {
    session: &'a Session,
    tool_call_id: u64,
    answered: bool,
}

impl Drop for PendingToolCall<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let forgotten = self.session.state().tool_calls.remove(&self.tool_call_id);
        if forgotten.is_some() {
            self.session
                .send(server_item::Item::CancelToolCall(self.tool_call_id));
        }
    }
}

pub(super) fn failed(error: Error) -> Outcome {
    Outcome::Error(error_to_proto(&error))
}

fn done(result: Result<(), Error>) -> Outcome {
    answer_with(result, |()| Outcome::Done(proto::Nothing {}))
}

fn answer_with<T>(result: Result<T, Error>, ok: impl FnOnce(T) -> Outcome) -> Outcome {
    match result {
        Ok(value) => ok(value),
        Err(error) => failed(error),
    }
}
