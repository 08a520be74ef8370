//! The peer answers as the mock does, in both framings, many requests at once; errors
//! are answers, not hangs; the child ends with its peer or at the end of its input.

use std::future::Future;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use agent_pipe_peer::{Framing, PeerError, PipePeer};
use agent_plugin_api::types::{AgentConfig, Content};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use futures::StreamExt;

const FRAMINGS: [Framing; 2] = [Framing::PerChunk, Framing::Batched];

const BINARY: &str = env!("CARGO_BIN_EXE_agent-pipe-peer");

fn options(chunk_chars: usize) -> serde_json::Value {
    serde_json::json!({ "chunk_delay_ms": 0, "chunk_chars": chunk_chars, "thoughts": false })
}

fn peer(framing: Framing, chunk_chars: usize) -> PipePeer {
    PipePeer::spawn(Path::new(BINARY), framing, &options(chunk_chars)).unwrap()
}

/// Every test's awaits end in time: a hang is a failure, not a stuck run.
async fn in_time<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("the peer answers in time")
}

/// What the in-process mock streams for `message`: its chunks.
async fn mock_chunks(chunk_chars: usize, message: &str) -> Vec<String> {
    let options: MockOptions = serde_json::from_value(options(chunk_chars)).unwrap();
    let mock = MockRuntime::with_options(options).unwrap();
    let agent = mock
        .create_agent(AgentConfig::builder("bench").build())
        .await
        .unwrap();
    let handle = mock.chat(agent, &Content::text(message)).await.unwrap();
    let chunks = handle.text_stream().collect().await;
    handle.text().await.unwrap();
    chunks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_as_the_mock_does_and_counts_turns() {
    let message = "hello there, pipe";
    let expected = mock_chunks(4, message).await;
    assert!(expected.len() > 1);
    for framing in FRAMINGS {
        in_time(async {
            let peer = peer(framing, 4);
            let agent = peer.create_agent().await.unwrap();
            assert_eq!(peer.turn_count(agent).await.unwrap(), 0);

            let chunks: Vec<String> = peer.chat(agent, message).await.unwrap().collect().await;
            assert_eq!(chunks, expected, "{framing:?}");
            assert_eq!(peer.turn_count(agent).await.unwrap(), 1);

            let text = peer.chat(agent, message).await.unwrap().text().await;
            assert_eq!(text.unwrap(), expected.concat(), "{framing:?}");
            assert_eq!(peer.turn_count(agent).await.unwrap(), 2);

            peer.clear_history(agent).await.unwrap();
            assert_eq!(peer.turn_count(agent).await.unwrap(), 0);

            let other = peer.create_agent().await.unwrap();
            assert_ne!(other, agent);
            peer.delete(other).await.unwrap();
            let after = peer.chat(other, "hi").await.unwrap().text().await;
            assert!(matches!(after, Err(PeerError::Failed(_))), "{after:?}");
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_turns_in_flight_at_once() {
    for framing in FRAMINGS {
        in_time(async {
            let peer = peer(framing, 1);
            let agents: Vec<u64> = futures::future::join_all((0..200).map(|_| peer.create_agent()))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            let turns = agents.iter().map(|&agent| {
                let peer = &peer;
                async move {
                    let turn = peer.chat(agent, &format!("agent {agent}")).await?;
                    turn.text().await
                }
            });
            let answers = futures::future::join_all(turns).await;
            for (agent, text) in agents.iter().zip(answers) {
                assert_eq!(text.unwrap(), format!("echo: agent {agent}"), "{framing:?}");
            }
            let counts = futures::future::join_all(agents.iter().map(|&a| peer.turn_count(a)));
            assert!(counts.await.into_iter().all(|count| count.unwrap() == 1));
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_chunk_turn_arrives_whole() {
    let long = "x".repeat(10_000 - "echo: ".len());
    for framing in FRAMINGS {
        in_time(async {
            let peer = peer(framing, 1);
            let agent = peer.create_agent().await.unwrap();
            let chunks: Vec<String> = peer.chat(agent, &long).await.unwrap().collect().await;
            assert_eq!(chunks.len(), 10_000, "{framing:?}");
            assert!(chunks.iter().all(|chunk| chunk.chars().count() == 1));
            assert_eq!(chunks.concat(), format!("echo: {long}"));

            let counted = peer.chat(agent, &long).await.unwrap().count_chunks().await;
            assert_eq!(counted.unwrap(), 10_000, "{framing:?}");
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_answers() {
    for framing in FRAMINGS {
        in_time(async {
            let peer = peer(framing, 8);
            let unknown = peer.turn_count(999).await;
            assert!(matches!(unknown, Err(PeerError::Failed(_))), "{unknown:?}");
            let unknown = peer.chat(999, "hi").await.unwrap().text().await;
            assert!(matches!(unknown, Err(PeerError::Failed(_))), "{unknown:?}");
            assert!(peer.clear_history(999).await.is_err());

            // The mock's failing turn: its message reaches the caller.
            let agent = peer.create_agent().await.unwrap();
            let failed = peer.chat(agent, "please FAIL").await.unwrap().text().await;
            let Err(PeerError::Failed(message)) = failed else {
                panic!("{failed:?}");
            };
            assert!(message.contains("FAIL"), "{message}");
            // The peer goes on serving.
            let text = peer.chat(agent, "ok").await.unwrap().text().await.unwrap();
            assert_eq!(text, "echo: ok");
        })
        .await;
    }
}

/// True once `pid` has exited (gone, or a zombie waiting to be reaped).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.contains(") Z ") || stat.contains(") X "))
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_child_ends_with_its_peer() {
    let peer = peer(Framing::Batched, 8);
    let agent = in_time(peer.create_agent()).await.unwrap();
    // A turn left unread, so the child is busy when its peer goes.
    let _turn = in_time(peer.chat(agent, "still streaming")).await.unwrap();
    let pid = peer.child_pid();
    assert!(!exited(pid));
    drop(peer);
    for _ in 0..500 {
        if exited(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the child outlived its peer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_the_child_cleanly() {
    let peer = peer(Framing::PerChunk, 8);
    let agent = in_time(peer.create_agent()).await.unwrap();
    let turn = in_time(peer.chat(agent, "last words")).await.unwrap();
    let status = in_time(peer.close()).await.unwrap();
    assert!(status.success(), "{status}");
    // The answer in flight was written before the child left.
    assert_eq!(in_time(turn.text()).await.unwrap(), "echo: last words");
}

/// The wire itself, driven by hand: argv[1] options, a bad line answered by id, the end
/// of stdin ending the child with status 0 after every answer.
#[test]
fn the_wire_by_hand() {
    let mut child = Command::new(BINARY)
        .arg(r#"{"chunk_delay_ms":0,"chunk_chars":3,"thoughts":false}"#)
        .args(["--framing", "per-chunk"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, r#"{{"id":1,"op":"create_agent"}}"#).unwrap();
    writeln!(stdin, r#"{{"id":2,"op":"nonsense"}}"#).unwrap();
    drop(stdin);
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(lines.len(), 2, "{lines:?}");
    let created = lines.iter().find(|line| line["id"] == 1).unwrap();
    assert_eq!(created["kind"], "value");
    assert!(created["value"].is_u64());
    let refused = lines.iter().find(|line| line["id"] == 2).unwrap();
    assert_eq!(refused["kind"], "error");
    assert!(refused["message"].as_str().unwrap().contains("bad request"));

    let mut child = Command::new(BINARY)
        .args([
            "--framing",
            "per-chunk",
            "--options",
            r#"{"chunk_delay_ms":0,"chunk_chars":3,"thoughts":false}"#,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, r#"{{"id":1,"op":"create_agent"}}"#).unwrap();
    stdin.flush().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let created: serde_json::Value = serde_json::from_str(&line).unwrap();
    let agent = created["value"].as_u64().unwrap();
    writeln!(
        stdin,
        r#"{{"id":2,"op":"chat","agent":{agent},"text":"abc"}}"#
    )
    .unwrap();
    drop(stdin);
    let rest: Vec<String> = stdout.lines().map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success());
    // "echo: abc" in chunks of 3 characters, one line each, then the end.
    assert_eq!(
        rest,
        [
            r#"{"id":2,"kind":"chunks","chunks":["ech"]}"#,
            r#"{"id":2,"kind":"chunks","chunks":["o: "]}"#,
            r#"{"id":2,"kind":"chunks","chunks":["abc"]}"#,
            r#"{"id":2,"kind":"done"}"#,
        ]
    );
}

#[test]
fn bad_arguments_exit_with_status_2() {
    for args in [
        &["--framing", "lines"][..],
        &["--options", "{\"chunk_chars\":0}"],
        &["--options", "{\"no_such_option\":1}"],
        &["--what"],
    ] {
        let output = Command::new(BINARY).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}
