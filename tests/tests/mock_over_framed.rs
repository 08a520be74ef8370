//! The conformance kit on the mock served on the framed transport (what a parent
//! agent-host and its `isolation = "process"` child speak), in this process, and what
//! ends a framed session.

mod common;

use std::sync::Arc;
use std::time::Duration;

use agent_conformance::{conformance_tests, Target};
use agent_plugin_api::plugin::Plugin;
use agent_plugin_api::types::{AgentConfig, Error};
use agent_plugin_api::Runtime;
use agent_plugin_mock::MockRuntime;
use agent_remote::{Address, BackendInfo, OnLost, RemoteRuntime, Server};
use futures::FutureExt;

/// A fresh mock served framed on a Unix socket in this process, the served runtime
/// itself, and a client of it.
async fn served_framed() -> Result<(Arc<dyn Runtime>, RemoteRuntime), Error> {
    let runtime: Arc<dyn Runtime> = Arc::new(<MockRuntime as Plugin>::new(common::mock_options())?);
    let info = BackendInfo {
        name: "mock".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: "the mock, served framed".into(),
        api_version: agent_plugin_api::host::API_VERSION.into(),
    };
    let dir = tempfile::tempdir().expect("a temporary directory").keep();
    let path = dir.join("mock.sock");
    let server = Server::bind(runtime.clone(), info, &Address::Unix(path.clone()))
        .await
        .and_then(Server::framed)
        .map_err(|error| Error::Io(error.to_string()))?;
    assert!(server.handshake_line().to_string().ends_with("|framed"));
    // Served until the test process ends.
    tokio::spawn(server.serve(std::future::pending()));
    let on_lost: OnLost = Arc::new(|why| async move { Error::ConnectionError(why) }.boxed());
    let client = RemoteRuntime::connect_framed(&path, on_lost).await?;
    Ok((runtime, client))
}

fn mock_framed() -> Target {
    Target::new("mock (framed, Unix socket)", || async {
        served_framed().await.map(|(_, client)| client)
    })
    .with_failing_prompt(common::failing_prompt())
}

conformance_tests!(mock_framed());

/// Dropping the client ends the session even while a turn's handle lives on: the server
/// shuts the session's agents down.
#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_client_ends_its_session_on_the_server() {
    let (served, client) = served_framed().await.unwrap();
    let agent = client
        .create_agent(AgentConfig::builder("any").build())
        .await
        .unwrap();
    let handle = client
        .chat(agent, &"a long answer to keep the turn running".into())
        .await
        .unwrap();
    assert!(served.is_idle(agent).await.is_ok());
    drop(client);
    let gone = tokio::time::timeout(Duration::from_secs(10), async {
        while served.is_idle(agent).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "the server still has the dropped client's agent"
    );
    drop(handle);
}
