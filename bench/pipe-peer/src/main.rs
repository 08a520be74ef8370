//! The child: serves the mock backend over stdin and stdout (see the crate docs).
//!
//! ```text
//! agent-pipe-peer [--framing per-chunk|batched] [--options JSON | JSON]
//! ```
//!
//! `JSON` is the mock's options as an object (`{"chunk_delay_ms":0,"chunk_chars":64}`);
//! the framing defaults to batched. Every request runs in a task of its own, so many are
//! in flight at once; one writer task owns stdout. The end of stdin ends the child once
//! the answers in flight are written.

use std::sync::Arc;

use agent_pipe_peer::wire::{Framing, Op, Request, ResponseOut};
use agent_plugin_api::types::{AgentConfig, Content, Error};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::mpsc;

/// Lines on their way to stdout, each newline-terminated.
type Lines = mpsc::UnboundedSender<Vec<u8>>;

struct Args {
    framing: Framing,
    options: MockOptions,
}

const USAGE: &str = "usage: agent-pipe-peer [--framing per-chunk|batched] [--options JSON | JSON]";

fn parse_args() -> Result<Args, String> {
    let mut framing = Framing::Batched;
    let mut options = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value)),
            _ => (arg.clone(), None),
        };
        let mut value = || match inline {
            Some(value) => Ok(value.to_owned()),
            None => args.next().ok_or(format!("{name} needs a value")),
        };
        match name.as_str() {
            "--framing" => {
                let flag = value()?;
                framing = Framing::from_flag(&flag)
                    .ok_or(format!("--framing is per-chunk or batched, not {flag:?}"))?;
            }
            "--options" => options = Some(value()?),
            _ if arg.starts_with('{') && options.is_none() => options = Some(arg),
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    let options = match options {
        Some(json) => serde_json::from_str(&json).map_err(|error| format!("options: {error}"))?,
        None => MockOptions::default(),
    };
    Ok(Args { framing, options })
}

fn main() {
    let args = parse_args().unwrap_or_else(|message| {
        eprintln!("agent-pipe-peer: {message}");
        std::process::exit(2)
    });
    let runtime = MockRuntime::with_options(args.options).unwrap_or_else(|error| {
        eprintln!("agent-pipe-peer: options: {error}");
        std::process::exit(2)
    });
    // As many threads as the bench gives the host side and the plugin.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|error| {
            eprintln!("agent-pipe-peer: no tokio runtime: {error}");
            std::process::exit(1)
        });
    tokio.block_on(serve(Arc::new(runtime), args.framing));
}

/// Reads requests until the end of stdin and hands each to a task of its own.
async fn serve(runtime: Arc<MockRuntime>, framing: Framing) {
    let (lines, queued) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_lines(queued));
    let mut stdin = BufReader::with_capacity(64 * 1024, tokio::io::stdin());
    // One buffer for every request line.
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        match stdin.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Request>(&line) {
            Ok(request) => {
                tokio::spawn(answer(runtime.clone(), request, framing, lines.clone()));
            }
            Err(error) => {
                let message = format!("bad request: {error}");
                let _ = lines.send(ResponseOut::error(request_id(&line), &message).to_line());
            }
        }
    }
    // The writer ends when the last task in flight has sent its last line.
    drop(lines);
    let _ = writer.await;
}

/// The id of a request that does not parse, if it has one (0 otherwise), so its caller
/// hears of the error instead of waiting.
fn request_id(line: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Id {
        id: u64,
    }
    serde_json::from_slice::<Id>(line).map_or(0, |id| id.id)
}

/// The one writer of stdout. It flushes only when nothing more is queued, so a burst of
/// lines leaves in one write.
async fn write_lines(mut queued: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut stdout = BufWriter::with_capacity(64 * 1024, tokio::io::stdout());
    while let Some(line) = queued.recv().await {
        if stdout.write_all(&line).await.is_err() {
            return;
        }
        while let Ok(line) = queued.try_recv() {
            if stdout.write_all(&line).await.is_err() {
                return;
            }
        }
        if stdout.flush().await.is_err() {
            return;
        }
    }
}

async fn answer(runtime: Arc<MockRuntime>, request: Request, framing: Framing, lines: Lines) {
    let id = request.id;
    let outcome = match (request.op, request.agent) {
        (Op::Chat, Some(agent)) => {
            let text = request.text.unwrap_or_default();
            return chat(&runtime, id, agent, text, framing, &lines).await;
        }
        (Op::CreateAgent, _) => runtime
            .create_agent(AgentConfig::builder("bench").build())
            .await
            .map(Some),
        (Op::TurnCount, Some(agent)) => runtime
            .turn_count(agent)
            .await
            .map(|count| Some(u64::from(count))),
        (Op::ClearHistory, Some(agent)) => runtime.clear_history(agent).await.map(|()| None),
        (Op::Delete, Some(agent)) => runtime.delete(agent).await.map(|()| None),
        (_, None) => Err(Error::BackendError(format!(
            "request {id}: {:?} needs an agent",
            request.op
        ))),
    };
    let line = match outcome {
        Ok(value) => ResponseOut::value(id, value).to_line(),
        Err(error) => ResponseOut::error(id, &error.to_string()).to_line(),
    };
    let _ = lines.send(line);
}

/// Streams a turn's text chunks, then its end: `done` or the error.
async fn chat(
    runtime: &MockRuntime,
    id: u64,
    agent: u64,
    text: String,
    framing: Framing,
    lines: &Lines,
) {
    let handle = match runtime.chat(agent, &Content::text(text)).await {
        Ok(handle) => handle,
        Err(error) => {
            let _ = lines.send(ResponseOut::error(id, &error.to_string()).to_line());
            return;
        }
    };
    let mut chunks = handle.text_stream();
    match framing {
        // One line per chunk, written from the chunk itself.
        Framing::PerChunk => {
            while let Some(chunk) = chunks.next().await {
                let line = ResponseOut::chunks(id, std::slice::from_ref(&chunk)).to_line();
                if lines.send(line).is_err() {
                    return;
                }
            }
        }
        // Every chunk that is ready, without waiting for more.
        Framing::Batched => {
            let mut batches = chunks.ready_chunks(framing.max_chunks());
            while let Some(batch) = batches.next().await {
                if lines
                    .send(ResponseOut::chunks(id, &batch).to_line())
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let line = match handle.text().await {
        Ok(_) => ResponseOut::done(id).to_line(),
        Err(error) => ResponseOut::error(id, &error.to_string()).to_line(),
    };
    let _ = lines.send(line);
}
