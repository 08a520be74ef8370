//! The conformance kit on the mock served over gRPC (agent-remote's server on a Unix
//! socket and TCP loopback) and used through `RemoteRuntime`: process isolation and
//! remote backends speak this protocol, so every check must pass through it unchanged.

mod common;

use std::sync::Arc;

use agent_conformance::{conformance_tests, run_all, Target};
use agent_plugin_api::plugin::Plugin;
use agent_plugin_api::types::Error;
use agent_plugin_api::Runtime;
use agent_plugin_mock::MockRuntime;
use agent_remote::{Address, BackendInfo, RemoteRuntime, Server};

/// Serves a fresh mock at `address` in this process and connects to it.
async fn served_mock(address: Address) -> Result<RemoteRuntime, Error> {
    served_mock_with(address, common::mock_options()).await
}

async fn served_mock_with(
    address: Address,
    options: agent_plugin_mock::MockOptions,
) -> Result<RemoteRuntime, Error> {
    let runtime: Arc<dyn Runtime> = Arc::new(<MockRuntime as Plugin>::new(options)?);
    let info = BackendInfo {
        name: "mock".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: "the mock, served".into(),
        api_version: agent_plugin_api::host::API_VERSION.into(),
    };
    let server = Server::bind(runtime, info, &address)
        .await
        .map_err(|error| Error::Io(error.to_string()))?;
    let address = server.address().clone();
    // Served until the test process ends.
    tokio::spawn(server.serve(std::future::pending()));
    RemoteRuntime::connect(&address).await
}

fn unix_socket() -> Address {
    let dir = tempfile::tempdir().expect("a temporary directory").keep();
    Address::Unix(dir.join("mock.sock"))
}

fn mock_over_unix_socket() -> Target {
    Target::new("mock (gRPC, Unix socket)", || served_mock(unix_socket()))
        .with_failing_prompt(common::failing_prompt())
}

fn mock_over_tcp() -> Target {
    Target::new("mock (gRPC, TCP)", || {
        served_mock("tcp:127.0.0.1:0".parse().expect("an address"))
    })
    .with_failing_prompt(common::failing_prompt())
}

conformance_tests!(mock_over_unix_socket());

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_over_tcp() {
    let report = run_all(&mock_over_tcp()).await;
    println!("{report}");
    assert!(report.is_success(), "{report}");
    assert_eq!(report.tally().skipped, 0, "{report}");
}

/// A message past gRPC's usual 4 MB bound crosses, and the session goes on after it.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_of_several_megabytes_crosses_and_the_session_goes_on() {
    use agent_plugin_api::types::AgentConfig;
    let fast = agent_plugin_mock::MockOptions {
        chunk_delay_ms: 0,
        ..common::mock_options()
    };
    let runtime = served_mock_with(unix_socket(), fast).await.unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("any").build())
        .await
        .unwrap();
    let big = "word ".repeat(1_200_000);
    let answer = runtime.chat(agent, &big.as_str().into()).await.unwrap();
    let answer = answer.text().await.unwrap();
    assert_eq!(answer.text.len(), "echo: ".len() + big.len());
    let small = runtime.chat(agent, &"after".into()).await.unwrap();
    assert_eq!(small.text().await.unwrap().text, "echo: after");
}
