//! The generated service: the handshake, and one [`Session`] per `Session` stream.

use std::pin::Pin;
use std::sync::Arc;

use agent_plugin_api::Runtime;
use futures::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use super::session::Session;
use super::BackendInfo;
use crate::proto::{self, ClientMessage, ServerMessage};
use crate::security::AUTHORIZATION;
use crate::{check_protocol, Token, PROTOCOL_METADATA, PROTOCOL_VERSION};

/// The first protocol version whose clients read `TextRun`s.
const TEXT_RUNS_SINCE: semver::Version = semver::Version::new(1, 1, 0);

/// A client says its protocol version in the session's metadata (since 1.1); one that
/// says nothing is older.
fn reads_text_runs<T>(request: &Request<T>) -> bool {
    request
        .metadata()
        .get(PROTOCOL_METADATA)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| semver::Version::parse(text).ok())
        .is_some_and(|version| version >= TEXT_RUNS_SINCE)
}

pub(crate) struct Service {
    runtime: Arc<dyn Runtime>,
    info: BackendInfo,
    stopping: watch::Receiver<bool>,
    /// Every call must present it, when set.
    token: Option<Token>,
}

impl Service {
    pub(crate) fn new(
        runtime: Arc<dyn Runtime>,
        info: BackendInfo,
        stopping: watch::Receiver<bool>,
        token: Option<Token>,
    ) -> Self {
        Service {
            runtime,
            info,
            stopping,
            token,
        }
    }

    /// Who the server is, as a handshake tells a client.
    pub(crate) fn handshake_reply(&self) -> proto::HandshakeReply {
        proto::HandshakeReply {
            protocol_version: PROTOCOL_VERSION.to_owned(),
            api_version: self.info.api_version.clone(),
            backend: self.info.name.clone(),
            backend_version: self.info.version.clone(),
            description: self.info.description.clone(),
            host_tools_unavailable: self.runtime.host_tools_unavailable(),
        }
    }

    /// A session on `incoming`, whose client reads text runs or not.
    pub(crate) fn session_on(
        &self,
        incoming: impl Stream<Item = Result<ClientMessage, Status>> + Send + Unpin + 'static,
        packs_text: bool,
    ) -> impl Stream<Item = Result<ServerMessage, Status>> + Send + 'static {
        Session::start(
            self.runtime.clone(),
            incoming,
            self.stopping.clone(),
            packs_text,
        )
    }

    /// Refuses a request without the server's client token (when it has one).
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let presented = request
            .metadata()
            .get(AUTHORIZATION)
            .map(|value| value.as_bytes());
        match presented {
            Some(value) if token.is_presented_by(value) => Ok(()),
            Some(_) => Err(Status::unauthenticated(
                "the client token is not this server's",
            )),
            None => Err(Status::unauthenticated(
                "this server needs a client token (token_file or token_env in the client's \
                 [plugins.<name>])",
            )),
        }
    }
}

type ServerStream = Pin<Box<dyn Stream<Item = Result<ServerMessage, Status>> + Send>>;

#[tonic::async_trait]
impl proto::runtime_server::Runtime for Service {
    async fn handshake(
        &self,
        request: Request<proto::HandshakeRequest>,
    ) -> Result<Response<proto::HandshakeReply>, Status> {
        self.authorize(&request)?;
        check_protocol(&request.get_ref().protocol_version).map_err(Status::failed_precondition)?;
        Ok(Response::new(self.handshake_reply()))
    }

    type SessionStream = ServerStream;

    async fn session(
        &self,
        request: Request<Streaming<ClientMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        self.authorize(&request)?;
        let packs_text = reads_text_runs(&request);
        let replies = self.session_on(request.into_inner(), packs_text);
        Ok(Response::new(Box::pin(replies)))
    }
}
