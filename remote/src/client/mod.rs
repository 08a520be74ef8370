//! [`RemoteRuntime`]: a backend served by `agent-host serve` (in a child process or on
//! another machine), used through `Runtime` like any other.

mod channel;
mod connection;
mod destination;
mod direct_writer;

use std::sync::Arc;
use std::time::Duration;

use agent_plugin_api::plugin::channel;

use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatResponseHandle, Content, ConversationMessage, Error, QuotaRegistry,
    Tools, UsageMetadata,
};
use agent_plugin_api::Runtime;
use async_trait::async_trait;
use futures::FutureExt;

pub(crate) use channel::source_of;
pub use connection::OnLost;
pub use destination::Destination;

use crate::convert::{
    broken, config_to_proto, content_to_proto, message_from_proto, usage_from_proto,
};
use crate::proto::call::Method;
use crate::proto::reply::Outcome;
use crate::proto::runtime_client::RuntimeClient;
use crate::proto::{self, HandshakeRequest};
use crate::{check_protocol, Address, PROTOCOL_VERSION};
use connection::Connection;

/// How long connecting and the handshake may take.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// What the server said about itself in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub protocol_version: String,
    pub api_version: String,
    pub backend: String,
    pub backend_version: String,
    pub description: String,
    pub host_tools_unavailable: Option<String>,
}

/// A backend on the other end of a session. Every call is one message each way on the
/// session's stream; a turn's events arrive in batches.
///
/// The quota registry is this client's own view: hits recorded through it. The backend's
/// own backoff (a model's 429s) is honoured on the server by `wait_for_quota`, which
/// crosses.
pub struct RemoteRuntime {
    connection: Arc<Connection>,
    reader: tokio::task::JoinHandle<()>,
    server: ServerInfo,
    tools: Tools,
    quota: QuotaRegistry,
}

impl std::fmt::Debug for RemoteRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRuntime")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Drop for RemoteRuntime {
    fn drop(&mut self) {
        // Ends the session: the server then shuts down this client's agents.
        self.reader.abort();
    }
}

impl RemoteRuntime {
    /// Connects to a server at `address`, checks its protocol version, opens a session.
    pub async fn connect(address: &Address) -> Result<RemoteRuntime, Error> {
        RemoteRuntime::connect_to(&Destination::plain(address.clone())).await
    }

    /// Like [`connect`](Self::connect), to any [`Destination`] (TLS, a client token).
    pub async fn connect_to(destination: &Destination) -> Result<RemoteRuntime, Error> {
        let describe = destination.to_string();
        let on_lost: OnLost = Arc::new(move |why| {
            let error = Error::ConnectionError(format!("the backend at {describe}: {why}"));
            async move { error }.boxed()
        });
        RemoteRuntime::open(destination, on_lost).await
    }

    /// Like [`connect`](Self::connect), with the error in-flight work gets when the
    /// session is lost decided by `on_lost` (a process supervisor names the dead child).
    pub async fn connect_with(address: &Address, on_lost: OnLost) -> Result<RemoteRuntime, Error> {
        RemoteRuntime::open(&Destination::plain(address.clone()), on_lost).await
    }

    async fn open(destination: &Destination, on_lost: OnLost) -> Result<RemoteRuntime, Error> {
        // Something that accepts connections and never answers (not a server of ours,
        // a wedged one) must not hold the caller forever.
        let (channel, handshake) = tokio::time::timeout(HANDSHAKE_WITHIN, async {
            let channel = channel::connect(destination).await?;
            let mut request = tonic::Request::new(HandshakeRequest {
                protocol_version: PROTOCOL_VERSION.to_owned(),
            });
            destination.authorize(&mut request)?;
            let handshake = RuntimeClient::new(channel.clone())
                .handshake(request)
                .await
                .map_err(|status| {
                    // A transport failure (a TLS alert after the handshake, a reset)
                    // says what it was only in its sources.
                    let mut why = status.message().to_owned();
                    let transport = std::error::Error::source(&status);
                    if let Some(source) = transport {
                        why = format!("{why}: {}", source_of(source));
                    }
                    // A mutual-TLS server ends TLS with a client that has no certificate;
                    // the client sees its alert, a close or a broken pipe, by timing.
                    if destination.is_tls() && transport.is_some() {
                        why.push_str(
                            " (if the server asks for a client certificate: see tls_cert and \
                             tls_key)",
                        );
                    }
                    Error::ConnectionError(format!("handshake with {destination} failed: {why}"))
                })?
                .into_inner();
            Ok::<_, Error>((channel, handshake))
        })
        .await
        .map_err(|_| {
            Error::ConnectionError(format!(
                "{destination} gave no handshake within {} s (is `agent-host serve` listening there?)",
                HANDSHAKE_WITHIN.as_secs()
            ))
        })??;
        check_protocol(&handshake.protocol_version)
            .map_err(|why| Error::InvalidConfig(format!("the server at {destination}: {why}")))?;
        let (connection, reader) = Connection::open(channel, destination, on_lost).await?;
        Ok(RemoteRuntime::opened(handshake, connection, reader))
    }

    /// Like [`connect_with`](Self::connect_with), on the framed transport
    /// ([`crate::framed`]) of a child that serves it on the Unix socket at `path`.
    pub async fn connect_framed(
        path: &std::path::Path,
        on_lost: OnLost,
    ) -> Result<RemoteRuntime, Error> {
        let shown = path.display();
        let unreachable = |error: std::io::Error| {
            Error::ConnectionError(format!("cannot reach unix:{shown}: {error}"))
        };
        let (socket, handshake) = tokio::time::timeout(HANDSHAKE_WITHIN, async {
            let mut socket = tokio::net::UnixStream::connect(path)
                .await
                .map_err(unreachable)?;
            let (read, write) = socket.split();
            crate::framed::MessageWriter::new(write)
                .send(&HandshakeRequest {
                    protocol_version: PROTOCOL_VERSION.to_owned(),
                })
                .await
                .map_err(unreachable)?;
            let reply = crate::framed::read_handshake_reply(read)
                .await
                .map_err(unreachable)?;
            Ok::<_, Error>((socket, reply))
        })
        .await
        .map_err(|_| {
            Error::ConnectionError(format!(
                "unix:{shown} gave no handshake within {} s",
                HANDSHAKE_WITHIN.as_secs()
            ))
        })??;
        check_protocol(&handshake.protocol_version)
            .map_err(|why| Error::InvalidConfig(format!("the server at unix:{shown}: {why}")))?;
        let (connection, reader) = Connection::open_framed(socket, on_lost)?;
        Ok(RemoteRuntime::opened(handshake, connection, reader))
    }

    fn opened(
        handshake: proto::HandshakeReply,
        connection: Arc<Connection>,
        reader: tokio::task::JoinHandle<()>,
    ) -> RemoteRuntime {
        RemoteRuntime {
            connection,
            reader,
            server: ServerInfo {
                protocol_version: handshake.protocol_version,
                api_version: handshake.api_version,
                backend: handshake.backend,
                backend_version: handshake.backend_version,
                description: handshake.description,
                host_tools_unavailable: handshake.host_tools_unavailable,
            },
            tools: Tools::new(),
            quota: QuotaRegistry::default(),
        }
    }

    /// [`Runtime::chat`], with the turn ended by the given error at the deadline if it
    /// is still running then (its server is told to cancel it): a supervisor's bound on
    /// a turn's length, as `PluginRuntime::with_call_timeout` bounds one in-process.
    pub async fn chat_until(
        &self,
        agent_id: AgentId,
        content: &Content,
        deadline: Option<(tokio::time::Instant, Error)>,
    ) -> Result<ChatResponseHandle, Error> {
        let (sender, handle) = channel();
        let id = self.connection.next_id();
        self.connection.register_turn(id, sender)?;
        match self
            .connection
            .call_with_id(id, Method::Chat(chat(agent_id, content)))
            .await
        {
            Ok(Outcome::Done(_)) => {
                if let Some((deadline, timeout)) = deadline {
                    self.connection.bound_turn(id, deadline, timeout);
                }
                Ok(handle)
            }
            outcome => {
                self.connection.forget_turn(id);
                Err(match outcome {
                    Ok(other) => unexpected(&other),
                    Err(error) => error,
                })
            }
        }
    }

    /// Tools for every agent of this runtime, as [`PluginRuntime::with_tools`](agent_plugin_api::host::PluginRuntime::with_tools).
    pub fn with_tools(mut self, tools: Tools) -> Self {
        self.tools = tools;
        self
    }

    pub fn server(&self) -> &ServerInfo {
        &self.server
    }

    async fn call(&self, method: Method) -> Result<Outcome, Error> {
        self.connection.call(method).await
    }

    async fn done(&self, method: Method) -> Result<(), Error> {
        match self.call(method).await? {
            Outcome::Done(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn flag(&self, method: Method) -> Result<bool, Error> {
        match self.call(method).await? {
            Outcome::Flag(flag) => Ok(flag),
            other => Err(unexpected(&other)),
        }
    }

    async fn usage(&self, method: Method) -> Result<UsageMetadata, Error> {
        match self.call(method).await? {
            Outcome::Usage(usage) => Ok(usage_from_proto(Some(usage))),
            other => Err(unexpected(&other)),
        }
    }

    async fn text(&self, method: Method) -> Result<Option<String>, Error> {
        match self.call(method).await? {
            Outcome::Text(text) => Ok(text.text),
            other => Err(unexpected(&other)),
        }
    }

    async fn create(&self, config: AgentConfig, tools: Tools) -> Result<AgentId, Error> {
        let id = self.connection.next_id();
        let offered = !tools.is_empty() && self.server.host_tools_unavailable.is_none();
        let tool_names = if offered {
            let names = tools.names().map(str::to_owned).collect();
            self.connection.register_tools(id, tools);
            names
        } else {
            Vec::new()
        };
        let method = Method::CreateAgent(proto::CreateAgent {
            config: Some(config_to_proto(&config)),
            tool_names,
        });
        match self.connection.call_with_id(id, method).await {
            Ok(Outcome::AgentId(agent_id)) => Ok(agent_id),
            outcome => {
                self.connection.forget_tools(id);
                Err(match outcome {
                    Ok(other) => unexpected(&other),
                    Err(error) => error,
                })
            }
        }
    }
}

fn unexpected(outcome: &Outcome) -> Error {
    broken(format!("a reply of the wrong kind: {outcome:?}"))
}

fn agent(agent_id: AgentId) -> proto::Agent {
    proto::Agent { agent_id }
}

fn chat(agent_id: AgentId, content: &Content) -> proto::Chat {
    proto::Chat {
        agent_id,
        content: Some(content_to_proto(content)),
    }
}

#[async_trait]
impl Runtime for RemoteRuntime {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        self.create_agent_with_tools(config, Tools::new()).await
    }

    async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        let tools = tools.for_agent(&self.tools, &config)?;
        self.create(config, tools).await
    }

    fn host_tools_unavailable(&self) -> Option<String> {
        self.server.host_tools_unavailable.clone()
    }

    async fn chat(
        &self,
        agent_id: AgentId,
        content: &Content,
    ) -> Result<ChatResponseHandle, Error> {
        self.chat_until(agent_id, content, None).await
    }

    async fn shutdown_agent(&self, agent_id: AgentId) -> Result<(), Error> {
        self.done(Method::ShutdownAgent(agent(agent_id))).await
    }

    async fn cancel(&self, agent_id: AgentId) -> Result<(), Error> {
        self.done(Method::Cancel(agent(agent_id))).await
    }

    async fn wait_for_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.done(Method::WaitForIdle(agent(agent_id))).await
    }

    async fn send(&self, agent_id: AgentId, content: &Content) -> Result<(), Error> {
        self.done(Method::Send(chat(agent_id, content))).await
    }

    async fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.done(Method::SignalIdle(agent(agent_id))).await
    }

    async fn wait_for_wakeup(&self, agent_id: AgentId, timeout: Duration) -> Result<bool, Error> {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.flag(Method::WaitForWakeup(proto::WaitForWakeup {
            agent_id,
            timeout_ms,
        }))
        .await
    }

    async fn wait_for_quota(&self) {
        // A lost session has nothing to wait for; the next call reports it.
        let _ = self.call(Method::WaitForQuota(proto::Nothing {})).await;
    }

    async fn record_quota_hit(&self, retry_after: Duration) {
        let retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
        self.quota.record_hit("", retry_after);
        let _ = self
            .call(Method::RecordQuotaHit(proto::RecordQuotaHit {
                retry_after_ms,
            }))
            .await;
    }

    fn quota_registry(&self) -> &QuotaRegistry {
        &self.quota
    }

    async fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        match self.call(Method::History(agent(agent_id))).await? {
            Outcome::History(history) => history
                .messages
                .into_iter()
                .map(message_from_proto)
                .collect(),
            other => Err(unexpected(&other)),
        }
    }

    async fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error> {
        match self.call(Method::TurnCount(agent(agent_id))).await? {
            Outcome::Count(count) => Ok(count),
            other => Err(unexpected(&other)),
        }
    }

    async fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.usage(Method::TotalUsage(agent(agent_id))).await
    }

    async fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.usage(Method::LastTurnUsage(agent(agent_id))).await
    }

    async fn clear_history(&self, agent_id: AgentId) -> Result<(), Error> {
        self.done(Method::ClearHistory(agent(agent_id))).await
    }

    async fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        self.text(Method::LastResponse(agent(agent_id))).await
    }

    async fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        match self
            .call(Method::CompactionIndices(agent(agent_id)))
            .await?
        {
            Outcome::Indices(indices) => Ok(indices.indices),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete(&self, agent_id: AgentId) -> Result<(), Error> {
        self.done(Method::Delete(agent(agent_id))).await
    }

    async fn disconnect(&self, agent_id: AgentId) -> Result<(), Error> {
        self.done(Method::Disconnect(agent(agent_id))).await
    }

    async fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        self.flag(Method::IsIdle(agent(agent_id))).await
    }

    fn try_shutdown_agent(&self, agent_id: AgentId) {
        self.connection
            .notify(Method::TryShutdownAgent(agent(agent_id)));
    }

    async fn conversation_id(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        self.text(Method::ConversationId(agent(agent_id))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that accepts and never answers, with the clock paused: the connect
    /// gives up after HANDSHAKE_WITHIN instead of waiting forever.
    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_answers_is_given_up_on() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = Address::Tcp(listener.local_addr().unwrap());
        let _held = tokio::spawn(async move {
            let mut accepted = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                accepted.push(stream);
            }
        });
        let error = RemoteRuntime::connect(&address).await.unwrap_err();
        assert!(
            error.to_string().contains("gave no handshake within 10 s"),
            "{error}"
        );
    }
}
