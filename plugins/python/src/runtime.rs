//! `PythonRuntime`: every `Runtime` method as a command to the interpreter thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_plugin_api::plugin::{async_trait, channel, ChatEventSender, Plugin};
use agent_plugin_api::saved::{check_conversation_id, ConversationFile};
use agent_plugin_api::types::{
    AgentConfig, AgentId, BackoffPolicy, ChatResponseHandle, Content, ConversationMessage, Error,
    QuotaRegistry, Tools, UsageMetadata,
};
use agent_plugin_api::Runtime;
use tokio::sync::oneshot;

use crate::convert::{Answer, FromAnswer};
use crate::host_tools::{AgentTools, Deliver};
use crate::interpreter::{self, Arg, BridgeEntry, Call, Command, Interpreter};
use crate::native::{PendingReply, QuotaTarget, TurnSink};
use crate::op::Op;
use crate::options::PythonOptions;
use crate::saved::{SavedSlot, SavedTurnTarget};
use crate::watchdog::Tag;

/// Python agents, served from one asyncio loop on the interpreter thread.
pub struct PythonRuntime {
    interpreter: &'static Interpreter,
    /// This runtime's bridge on the interpreter thread.
    bridge: Arc<BridgeEntry>,
    options: PythonOptions,
    quota: QuotaTarget,
    /// The agents that exist: created, and not yet shut down or deleted. This side owns
    /// the set and the Python side trusts it (its `Runtime.agents` holds each agent's
    /// state, and never decides whether one exists): `chat` must refuse an unknown
    /// agent before it returns a handle, and `try_shutdown_agent` must never wait, so
    /// the answer cannot come from the loop. Every call is submitted with the set
    /// locked, so the loop takes commands in the order the set changed: no call ever
    /// reaches it for an agent after that agent's shutdown. Each agent's tools and saved
    /// conversation live here too: every turn's sink gets them, and they go when the
    /// agent does.
    live: Mutex<HashMap<AgentId, LiveAgent>>,
    /// Takes a finished tool call's answer back to the loop.
    deliver: Deliver,
    next_agent: AtomicU64,
    next_turn: AtomicU64,
}

impl std::fmt::Debug for PythonRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonRuntime")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl PythonRuntime {
    /// Starts the interpreter if needed and builds this runtime's bridge (which loads
    /// the agent class): a bad `agent` is `Error::InvalidConfig` with the traceback.
    pub fn with_options(options: PythonOptions) -> Result<Self, Error> {
        options.validate()?;
        let interpreter = interpreter::get()?;
        let (done, built) = std::sync::mpsc::channel();
        interpreter.submit(Command::NewBridge {
            options: options.clone(),
            done,
        });
        let bridge = built
            .recv()
            .map_err(|_| Error::BackendError("the Python thread has stopped".into()))??;
        let quota = QuotaTarget {
            registry: Arc::new(QuotaRegistry::new(BackoffPolicy::default())),
            key: Arc::from(options.quota_key()),
        };
        let bridge = Arc::new(bridge);
        let deliver = deliverer(interpreter, &bridge);
        Ok(PythonRuntime {
            interpreter,
            bridge,
            options,
            quota,
            live: Mutex::new(HashMap::new()),
            deliver,
            next_agent: AtomicU64::new(1),
            next_turn: AtomicU64::new(1),
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<AgentId, LiveAgent>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn submit(
        &self,
        op: Op,
        agent_id: AgentId,
        arg: Arg,
        reply: Option<PendingReply>,
        sink: Option<TurnSink>,
    ) {
        self.interpreter.submit(Command::Call(Call {
            bridge: self.bridge.clone(),
            op,
            agent_id,
            arg,
            reply,
            sink,
        }));
    }

    /// Runs `submit` with the live set locked, if `agent_id` is in it (`change` applied),
    /// handing it the agent.
    fn submit_if_live<R>(
        &self,
        agent_id: AgentId,
        change: Change,
        submit: impl FnOnce(&LiveAgent) -> R,
    ) -> Result<R, Error> {
        let mut live = self.live();
        match change {
            Change::Keep => live.get(&agent_id).map(submit),
            Change::Remove => live.remove(&agent_id).as_ref().map(submit),
        }
        .ok_or(Error::AgentNotStarted(agent_id))
    }

    /// The sink of a new turn (`chat`'s or `send`'s) on `message`, writing into `sender`.
    fn turn_sink(
        &self,
        sender: ChatEventSender,
        agent_id: AgentId,
        turn_id: u64,
        agent: &LiveAgent,
        (op, message): (Op, &Content),
    ) -> TurnSink {
        let saved = agent
            .saved
            .as_ref()
            .map(|slot| SavedTurnTarget::new(slot.clone(), message.clone()));
        TurnSink::new(
            sender,
            agent_id,
            turn_id,
            agent.tools.clone(),
            self.quota.clone(),
            Tag::new(self.bridge.runtime, agent_id, op),
        )
        .saving_to(saved)
    }

    /// Sends a call on a live agent and waits for its answer. Time limits are the host's
    /// (`[plugins.python] call_timeout_ms`): they hold even while an agent blocks the loop.
    async fn call<T: FromAnswer>(&self, op: Op, agent_id: AgentId, arg: Arg) -> Result<T, Error> {
        let (reply, answered) = pending_reply::<T>(agent_id);
        self.submit_if_live(agent_id, Change::Keep, |_| {
            self.submit(op, agent_id, arg, Some(reply), None)
        })?;
        answer(op, answered).await
    }

    /// `shutdown` or `delete`: the agent leaves the live set as the call is submitted,
    /// and its conversation file is closed once the call is answered (its last turn has
    /// ended by then); `delete` removes the file.
    async fn ending_call(&self, op: Op, agent_id: AgentId) -> Result<(), Error> {
        let (reply, answered) = pending_reply::<()>(agent_id);
        let saved = self.submit_if_live(agent_id, Change::Remove, |agent| {
            self.submit(op, agent_id, Arg::None, Some(reply), None);
            agent.saved.clone()
        })?;
        let ended = answer(op, answered).await;
        let file = saved.and_then(|slot| slot.take());
        match file {
            Some(file) if op == Op::Delete => ended.and(file.delete()),
            _ => ended,
        }
    }
}

/// What this side keeps of a live agent.
struct LiveAgent {
    tools: Arc<AgentTools>,
    /// The id its conversation is saved under (or was given), for `conversation_id`.
    conversation_id: Option<Arc<str>>,
    saved: Option<Arc<SavedSlot>>,
}

/// What a call does to the set of live agents.
#[derive(Clone, Copy)]
enum Change {
    Keep,
    /// The call ends the agent (`shutdown`, `delete`, `try_shutdown`).
    Remove,
}

fn pending_reply<T: FromAnswer>(
    agent_id: AgentId,
) -> (PendingReply, oneshot::Receiver<Result<Answer, Error>>) {
    let (answer, answered) = oneshot::channel();
    let reply = PendingReply {
        answer,
        expect: T::EXPECT,
        agent_id,
    };
    (reply, answered)
}

/// Takes finished tool calls back to the loop, as `Op::ToolDone` calls of `bridge`
/// (from a tokio thread: the GIL is never taken there). It holds the bridge weakly: the
/// last reference must go on the interpreter thread (`Command::Release`), and a call
/// that ends after its runtime is gone has nobody to tell.
fn deliverer(interpreter: &'static Interpreter, bridge: &Arc<BridgeEntry>) -> Deliver {
    let bridge = Arc::downgrade(bridge);
    Arc::new(move |done| {
        let Some(bridge) = bridge.upgrade() else {
            return;
        };
        interpreter.submit(Command::Call(Call {
            bridge,
            op: Op::ToolDone,
            agent_id: done.agent_id,
            arg: Arg::ToolDone(done),
            reply: None,
            sink: None,
        }))
    })
}

/// Waits for a call's answer and takes the value out.
async fn answer<T: FromAnswer>(
    op: Op,
    answered: oneshot::Receiver<Result<Answer, Error>>,
) -> Result<T, Error> {
    let op = op.name();
    let dropped = || Error::BackendError(format!("the Python side dropped the {op} call"));
    let answer = answered.await.map_err(|_| dropped())??;
    // Formatted only when the shape is wrong: a history can be large.
    T::from_answer(answer).map_err(|other| {
        Error::BackendError(format!("the Python side answered {op} with {other:?}"))
    })
}

impl Drop for PythonRuntime {
    /// Stops every agent and releases the bridge on the interpreter thread.
    fn drop(&mut self) {
        let live: Vec<(AgentId, LiveAgent)> = self.live().drain().collect();
        for (agent_id, agent) in live {
            self.submit(Op::TryShutdown, agent_id, Arg::None, None, None);
            drop(agent.saved.and_then(|slot| slot.take()));
        }
        self.interpreter
            .submit(Command::Release(self.bridge.clone()));
    }
}

/// Shuts down the agent a `create_agent` call asked for if the call is dropped before
/// its answer (a host's call timeout does that): the loop may still create it, and an
/// agent the live set does not hold would never be shut down.
struct CreationPending<'a> {
    runtime: &'a PythonRuntime,
    agent_id: AgentId,
    answered: bool,
}

impl Drop for CreationPending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            let agent_id = self.agent_id;
            self.runtime
                .submit(Op::TryShutdown, agent_id, Arg::None, None, None);
        }
    }
}

#[async_trait]
impl Runtime for PythonRuntime {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        self.create_agent_with_tools(config, Tools::new()).await
    }

    /// The agent's tools (matched by `Tools::for_agent`) stay on this side; the Python
    /// side learns their names, and calls them through its turns' sinks.
    async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        let tools = tools.for_agent(&Tools::new(), &config)?;
        let mut config = config;
        if let Some(id) = &config.conversation_id {
            check_conversation_id(id)?;
        }
        let saved = ConversationFile::for_agent(&config)?.map(|(file, saved)| {
            // The agent sees the id its conversation is saved under.
            config.conversation_id = Some(file.id().to_owned());
            Box::new((SavedSlot::new(file), saved))
        });
        let conversation_id = config.conversation_id.as_deref().map(Arc::from);
        let slot = saved.as_ref().map(|saved| saved.0.clone());
        let json = serde_json::to_string(&config)
            .map_err(|error| Error::InvalidConfig(format!("agent config: {error}")))?;
        let tools = Arc::new(AgentTools::new(tools, self.deliver.clone()));
        let agent_id = self.next_agent.fetch_add(1, Ordering::Relaxed);
        // Nobody knows the id before it is returned: no call can race the creation.
        let (reply, answered) = pending_reply::<()>(agent_id);
        let mut pending = CreationPending {
            runtime: self,
            agent_id,
            answered: false,
        };
        self.submit(
            Op::CreateAgent,
            agent_id,
            Arg::NewAgent(json, tools.names(), saved),
            Some(reply),
            None,
        );
        let created = answer::<()>(Op::CreateAgent, answered).await;
        pending.answered = true;
        created?;
        let agent = LiveAgent {
            tools,
            conversation_id,
            saved: slot,
        };
        self.live().insert(agent_id, agent);
        Ok(agent_id)
    }

    async fn chat(
        &self,
        agent_id: AgentId,
        content: &Content,
    ) -> Result<ChatResponseHandle, Error> {
        // Copied before the live set is locked: a large message must not hold it.
        let message = content.clone();
        self.submit_if_live(agent_id, Change::Keep, |agent| {
            let (sender, handle) = channel();
            let turn_id = self.next_turn.fetch_add(1, Ordering::Relaxed);
            let interpreter = self.interpreter;
            let bridge = self.bridge.clone();
            // A dropped or cancelled handle stops the asyncio task too.
            sender.on_cancel(move || {
                interpreter.submit(Command::Call(Call {
                    bridge,
                    op: Op::CancelTurn,
                    agent_id,
                    arg: Arg::TurnId(turn_id),
                    reply: None,
                    sink: None,
                }))
            });
            let sink = self.turn_sink(sender, agent_id, turn_id, agent, (Op::Chat, &message));
            self.submit(
                Op::Chat,
                agent_id,
                Arg::Turn(turn_id, message),
                None,
                Some(sink),
            );
            handle
        })
    }

    async fn shutdown_agent(&self, agent_id: AgentId) -> Result<(), Error> {
        self.ending_call(Op::Shutdown, agent_id).await
    }

    async fn cancel(&self, agent_id: AgentId) -> Result<(), Error> {
        self.call(Op::Cancel, agent_id, Arg::None).await
    }

    async fn wait_for_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.call(Op::WaitForIdle, agent_id, Arg::None).await
    }

    /// A turn like `chat`'s whose handle nobody reads: its sink keeps the handle until
    /// the turn ends (dropping it would cancel the turn), so the turn streams into a log
    /// nobody reads and calls the host's tools as a chat turn does. No cancel hook: only
    /// `cancel` and shutdown stop it.
    async fn send(&self, agent_id: AgentId, content: &Content) -> Result<(), Error> {
        let message = content.clone();
        let (reply, answered) = pending_reply::<()>(agent_id);
        self.submit_if_live(agent_id, Change::Keep, |agent| {
            let (sender, handle) = channel();
            let turn_id = self.next_turn.fetch_add(1, Ordering::Relaxed);
            let sink = self
                .turn_sink(sender, agent_id, turn_id, agent, (Op::Send, &message))
                .reading_nobody(handle);
            self.submit(
                Op::Send,
                agent_id,
                Arg::Sent(turn_id, message),
                Some(reply),
                Some(sink),
            );
        })?;
        answer(Op::Send, answered).await
    }

    async fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.call(Op::SignalIdle, agent_id, Arg::None).await
    }

    async fn wait_for_wakeup(&self, agent_id: AgentId, timeout: Duration) -> Result<bool, Error> {
        let seconds = Arg::Seconds(timeout.as_secs_f64());
        self.call(Op::WaitForWakeup, agent_id, seconds).await
    }

    async fn wait_for_quota(&self) {
        self.quota.registry.wait(&self.quota.key).await;
    }

    async fn record_quota_hit(&self, retry_after: Duration) {
        self.quota.registry.record_hit(&self.quota.key, retry_after);
    }

    fn quota_registry(&self) -> &QuotaRegistry {
        &self.quota.registry
    }

    async fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        self.call(Op::History, agent_id, Arg::None).await
    }

    async fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error> {
        self.call(Op::TurnCount, agent_id, Arg::None).await
    }

    async fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.call(Op::TotalUsage, agent_id, Arg::None).await
    }

    async fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.call(Op::LastTurnUsage, agent_id, Arg::None).await
    }

    async fn clear_history(&self, agent_id: AgentId) -> Result<(), Error> {
        self.call(Op::ClearHistory, agent_id, Arg::None).await
    }

    async fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        self.call(Op::LastResponse, agent_id, Arg::None).await
    }

    async fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        self.call(Op::CompactionIndices, agent_id, Arg::None).await
    }

    async fn delete(&self, agent_id: AgentId) -> Result<(), Error> {
        self.ending_call(Op::Delete, agent_id).await
    }

    async fn disconnect(&self, agent_id: AgentId) -> Result<(), Error> {
        self.call(Op::Disconnect, agent_id, Arg::None).await
    }

    async fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        self.call(Op::IsIdle, agent_id, Arg::None).await
    }

    fn try_shutdown_agent(&self, agent_id: AgentId) {
        // Not live: nothing to do (never an error, never a wait). Its file closes now:
        // the running turn is cancelled, so nothing more is saved.
        let _ = self.submit_if_live(agent_id, Change::Remove, |agent| {
            self.submit(Op::TryShutdown, agent_id, Arg::None, None, None);
            agent.saved.as_ref().map(|slot| slot.take())
        });
    }

    async fn conversation_id(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        let live = self.live();
        let agent = live
            .get(&agent_id)
            .ok_or(Error::AgentNotStarted(agent_id))?;
        Ok(agent.conversation_id.as_deref().map(str::to_owned))
    }
}

impl Plugin for PythonRuntime {
    const NAME: &'static str = "python";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = concat!(
        "Runs Python agents (async generators) on an embedded CPython's asyncio loop; embeds CPython ",
        env!("AGENT_PYTHON_FULL_VERSION"),
        " (home ",
        env!("AGENT_PYTHON_HOME"),
        ")"
    );
    const PATH_OPTIONS: &'static [&'static str] = &["venv", "python_path"];

    type Options = PythonOptions;

    fn new(options: PythonOptions) -> Result<Self, Error> {
        PythonRuntime::with_options(options)
    }
}
