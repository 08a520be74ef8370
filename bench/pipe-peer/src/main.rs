//! The child: serves the mock backend over stdin/stdout (see the crate docs).
//!
//! `agent-pipe-peer --framing per-chunk|batched --options '{"chunk_chars":1}'`

use std::sync::Arc;

use agent_pipe_peer::{Framing, Kind, Op, Request, Response};
use agent_plugin_api::types::{AgentConfig, Content, Error};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::mpsc;

/// What one message carries at most, batched.
const MAX_CHUNKS: usize = 1024;

struct Args {
    framing: Framing,
    options: MockOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut framing = Framing::Batched;
    let mut options = MockOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--framing" => {
                let flag = value()?;
                framing = Framing::from_flag(&flag)
                    .ok_or(format!("--framing: per-chunk or batched, not {flag:?}"))?;
            }
            "--options" => {
                options = serde_json::from_str(&value()?).map_err(|e| format!("--options: {e}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args { framing, options })
}

fn main() {
    let args = parse_args().unwrap_or_else(|message| {
        eprintln!("agent-pipe-peer: {message}");
        std::process::exit(2)
    });
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(serve(args));
}

async fn serve(args: Args) {
    let runtime: Arc<dyn Runtime> = match MockRuntime::with_options(args.options) {
        Ok(runtime) => Arc::new(runtime),
        Err(error) => {
            eprintln!("agent-pipe-peer: {error}");
            std::process::exit(2)
        }
    };
    let (lines, queued) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(write_lines(queued));
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = stdin.next_line().await {
        let request: Request = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(error) => {
                let _ = lines.send(Response::error(0, format!("bad request: {error}")).to_line());
                continue;
            }
        };
        tokio::spawn(answer(
            runtime.clone(),
            request,
            args.framing,
            lines.clone(),
        ));
    }
    drop(lines);
    let _ = writer.await;
}

/// The one writer of stdout: writes what is queued, and flushes when nothing more is.
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

async fn answer(
    runtime: Arc<dyn Runtime>,
    request: Request,
    framing: Framing,
    lines: mpsc::UnboundedSender<Vec<u8>>,
) {
    let id = request.id;
    let outcome = match request.op {
        Op::Chat => return chat(&*runtime, request, framing, lines).await,
        Op::CreateAgent => runtime
            .create_agent(AgentConfig::builder("bench").build())
            .await
            .map(Some),
        Op::TurnCount => match agent(&request) {
            Ok(agent) => runtime.turn_count(agent).await.map(|n| Some(n as u64)),
            Err(error) => Err(error),
        },
        Op::ClearHistory => match agent(&request) {
            Ok(agent) => runtime.clear_history(agent).await.map(|()| None),
            Err(error) => Err(error),
        },
        Op::Delete => match agent(&request) {
            Ok(agent) => runtime.delete(agent).await.map(|()| None),
            Err(error) => Err(error),
        },
    };
    let response = match outcome {
        Ok(value) => Response::value(id, value),
        Err(error) => Response::error(id, error.to_string()),
    };
    let _ = lines.send(response.to_line());
}

fn agent(request: &Request) -> Result<u64, Error> {
    request
        .agent
        .ok_or_else(|| Error::BackendError("the request names no agent".into()))
}

async fn chat(
    runtime: &dyn Runtime,
    request: Request,
    framing: Framing,
    lines: mpsc::UnboundedSender<Vec<u8>>,
) {
    let id = request.id;
    let started = match agent(&request) {
        Ok(agent) => {
            let text = request.text.unwrap_or_default();
            runtime.chat(agent, &Content::text(text)).await
        }
        Err(error) => Err(error),
    };
    let handle = match started {
        Ok(handle) => handle,
        Err(error) => {
            let _ = lines.send(Response::error(id, error.to_string()).to_line());
            return;
        }
    };
    let per_message = match framing {
        Framing::PerChunk => 1,
        Framing::Batched => MAX_CHUNKS,
    };
    let mut chunks = handle.text_stream().ready_chunks(per_message);
    while let Some(chunks) = chunks.next().await {
        if lines.send(Response::chunks(id, chunks).to_line()).is_err() {
            return;
        }
    }
    let last = match handle.text().await {
        Ok(_) => Response::done(id),
        Err(error) => Response::error(id, error.to_string()),
    };
    debug_assert!(matches!(last.kind, Kind::Done | Kind::Error));
    let _ = lines.send(last.to_line());
}
