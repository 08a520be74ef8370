//! The peer answers as the mock does, in both framings, many requests at once.

use std::path::Path;

use agent_pipe_peer::{Framing, PipePeer};
use agent_plugin_api::types::{AgentConfig, Content};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use futures::StreamExt;

fn options(chunk_chars: usize) -> serde_json::Value {
    serde_json::json!({ "chunk_delay_ms": 0, "chunk_chars": chunk_chars, "thoughts": false })
}

fn peer(framing: Framing, chunk_chars: usize) -> PipePeer {
    PipePeer::spawn(
        Path::new(env!("CARGO_BIN_EXE_agent-pipe-peer")),
        framing,
        &options(chunk_chars),
    )
    .unwrap()
}

const FRAMINGS: [Framing; 2] = [Framing::PerChunk, Framing::Batched];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_as_the_mock_does_and_counts_turns() {
    let options: MockOptions = serde_json::from_value(options(4)).unwrap();
    let mock = MockRuntime::with_options(options).unwrap();
    let agent = mock
        .create_agent(AgentConfig::builder("bench").build())
        .await
        .unwrap();
    let handle = mock
        .chat(agent, &Content::text("hello there"))
        .await
        .unwrap();
    let expected = handle.text().await.unwrap().text;
    for framing in FRAMINGS {
        let peer = peer(framing, 4);
        let agent = peer.create_agent().await.unwrap();
        assert_eq!(peer.turn_count(agent).await.unwrap(), 0);
        let text = peer
            .chat(agent, "hello there")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(text, expected, "{framing:?}");
        assert_eq!(peer.turn_count(agent).await.unwrap(), 1);
        peer.clear_history(agent).await.unwrap();
        assert_eq!(peer.turn_count(agent).await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_turns_in_flight_and_long_streams() {
    for framing in FRAMINGS {
        let peer = peer(framing, 1);
        let mut agents = Vec::new();
        for _ in 0..200 {
            agents.push(peer.create_agent().await.unwrap());
        }
        let turns = agents.iter().map(|&agent| {
            let peer = &peer;
            async move {
                peer.chat(agent, &agent.to_string())
                    .await
                    .unwrap()
                    .text()
                    .await
            }
        });
        for (agent, text) in agents.iter().zip(futures::future::join_all(turns).await) {
            assert_eq!(text.unwrap(), format!("echo: {agent}"), "{framing:?}");
        }
        let long = "x".repeat(10_000 - "echo: ".len());
        let chunks = peer.chat(agents[0], &long).await.unwrap().count().await;
        assert_eq!(chunks, 10_000, "{framing:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_agent_is_an_error_and_the_child_ends_with_its_peer() {
    let peer = peer(Framing::Batched, 8);
    assert!(peer.turn_count(999).await.is_err());
    assert!(peer.chat(999, "hi").await.unwrap().text().await.is_err());
    let pid = peer.child_pid();
    drop(peer);
    let proc = format!("/proc/{pid}");
    for _ in 0..200 {
        let gone = std::fs::read_to_string(format!("{proc}/stat"))
            .map(|stat| stat.contains(") Z "))
            .unwrap_or(true);
        if gone {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the child outlived its peer");
}
