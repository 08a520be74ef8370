//! A chat-completions server no one has to install: 127.0.0.1 only, answering each
//! request with the next scripted reply (a stream with delays, a status with headers,
//! a stream cut before `[DONE]`), recording every request body. It serves a bounded
//! number of connections and stops when dropped.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub enum Reply {
    /// `data:` events, `delay` before each; `[DONE]` at the end unless `cut`.
    Stream {
        events: Vec<Value>,
        delay: Duration,
        cut: bool,
    },
    Status {
        code: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
}

impl Reply {
    pub fn stream(events: Vec<Value>) -> Reply {
        Reply::Stream {
            events,
            delay: Duration::ZERO,
            cut: false,
        }
    }

    pub fn status(code: u16, body: &str) -> Reply {
        Reply::Status {
            code,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }
}

/// One streamed chunk with answer text.
pub fn text(piece: &str) -> Value {
    json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}}]})
}

/// The last chunk, with usage and no choices (as `include_usage` sends it).
pub fn usage(prompt: u32, completion: u32) -> Value {
    json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                    "total_tokens": prompt + completion}})
}

pub struct Stub {
    url: String,
    requests: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    pub async fn start(replies: Vec<Reply>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            let limit = replies.len() + 4;
            let mut replies = replies.into_iter();
            for _ in 0..limit {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let reply = replies.next().unwrap_or_else(|| {
                    Reply::status(500, r#"{"error":{"message":"no more replies"}}"#)
                });
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, reply, recorded).await;
                });
            }
        });
        Stub {
            url,
            requests,
            task,
        }
    }

    /// The base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut socket: TcpStream,
    reply: Reply,
    recorded: Arc<Mutex<Vec<Value>>>,
) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 8192];
    let header_end = loop {
        let read = socket.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if request.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&request[..header_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < header_end + length.min(16 << 20) {
        let read = socket.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let body: Value = serde_json::from_slice(&request[header_end..]).unwrap_or(Value::Null);
    recorded.lock().unwrap().push(body);
    match reply {
        Reply::Status {
            code,
            headers,
            body,
        } => {
            let mut text = format!(
                "HTTP/1.1 {code} Scripted\r\ncontent-length: {}\r\n",
                body.len()
            );
            for (name, value) in headers {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
            text.push_str("connection: close\r\n\r\n");
            text.push_str(&body);
            socket.write_all(text.as_bytes()).await?;
        }
        Reply::Stream { events, delay, cut } => {
            socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
                )
                .await?;
            for event in events {
                tokio::time::sleep(delay).await;
                socket
                    .write_all(format!("data: {event}\n\n").as_bytes())
                    .await?;
            }
            if !cut {
                socket.write_all(b"data: [DONE]\n\n").await?;
            }
        }
    }
    socket.shutdown().await
}
