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
    /// Reads the request and answers nothing for this long, then closes.
    Silence(Duration),
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
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the stub answers with.
enum Script {
    /// The scripted replies, one per request, in order.
    Replies(std::vec::IntoIter<Reply>),
    /// A model that echoes: see [`Stub::echo_model`].
    Echo { word_delay: Duration },
}

impl Script {
    fn next(&mut self, request: &Value) -> Reply {
        match self {
            Script::Replies(replies) => replies.next().unwrap_or_else(|| {
                Reply::status(500, r#"{"error":{"message":"no more replies"}}"#)
            }),
            Script::Echo { word_delay } => echo(request, *word_delay),
        }
    }
}

impl Stub {
    pub async fn start(replies: Vec<Reply>) -> Stub {
        let limit = replies.len() + 4;
        Stub::serve(Script::Replies(replies.into_iter()), limit).await
    }

    /// A model for the conformance kit: it streams `echo: <the user's words>` a word
    /// each `word_delay`; lines `<tool>: <input>` naming declared tools become tool
    /// calls, and tool results are answered `<tool>: <result>` a line each; a message
    /// containing `FAIL` gets a 400. At most 5,000 requests.
    pub async fn echo_model(word_delay: Duration) -> Stub {
        Stub::serve(Script::Echo { word_delay }, 5_000).await
    }

    async fn serve(script: Script, limit: usize) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = (requests.clone(), heads.clone());
        let script = Arc::new(Mutex::new(script));
        let task = tokio::spawn(async move {
            for _ in 0..limit {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let recorded = recorded.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, script, recorded).await;
                });
            }
        });
        Stub {
            url,
            requests,
            heads,
            task,
        }
    }

    /// Each request's head (request line and headers), lowercased.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// The base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

/// Where the stub keeps what it was sent: the bodies, and the heads.
type Records = (Arc<Mutex<Vec<Value>>>, Arc<Mutex<Vec<String>>>);

async fn serve(
    mut socket: TcpStream,
    script: Arc<Mutex<Script>>,
    (recorded, heads): Records,
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
    let reply = script.lock().unwrap().next(&body);
    recorded.lock().unwrap().push(body);
    heads.lock().unwrap().push(head.clone());
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
        Reply::Silence(quiet) => tokio::time::sleep(quiet).await,
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

/// The echo model's answer to one request.
fn echo(request: &Value, word_delay: Duration) -> Reply {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let Some(last) = messages.last() else {
        return Reply::status(400, r#"{"error":{"message":"no messages"}}"#);
    };
    let stream = |events: Vec<Value>| Reply::Stream {
        events,
        delay: word_delay,
        cut: false,
    };
    if last["role"] == "tool" {
        // Answer every result of the last round, by the name its call had.
        let names: std::collections::HashMap<String, String> = messages
            .iter()
            .flat_map(|message| {
                message["tool_calls"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|call| {
                (
                    call["id"].as_str().unwrap_or_default().to_owned(),
                    call["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        let lines: Vec<String> = messages
            .iter()
            .rev()
            .take_while(|message| message["role"] == "tool")
            .map(|message| {
                let id = message["tool_call_id"].as_str().unwrap_or_default();
                let name = names.get(id).cloned().unwrap_or_default();
                format!(
                    "{name}: {}",
                    message["content"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let mut lines = lines;
        lines.reverse();
        return stream(vec![text(&lines.join("\n")), usage(1, 1)]);
    }
    let said = match &last["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    if said.contains("FAIL") {
        return Reply::status(400, r#"{"error":{"message":"asked to fail"}}"#);
    }
    let declared: Vec<(String, String)> = request["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|tool| {
            let function = &tool["function"];
            let properties = function["parameters"]["properties"].as_object();
            let argument = match properties {
                Some(properties) if properties.len() == 1 => properties.keys().next().cloned(),
                _ => None,
            };
            (
                function["name"].as_str().unwrap_or_default().to_owned(),
                argument.unwrap_or_else(|| "input".to_owned()),
            )
        })
        .collect();
    let calls: Vec<Value> = said
        .lines()
        .filter_map(|line| {
            let (tool, input) = line.split_once(':')?;
            let (name, argument) = declared.iter().find(|(name, _)| name == tool.trim())?;
            Some((name.clone(), argument.clone(), input.trim().to_owned()))
        })
        .enumerate()
        .map(|(index, (name, argument, input))| {
            let arguments = json!({ argument: input }).to_string();
            // The arguments in two fragments, as servers stream them.
            let (head, tail) = arguments.split_at(arguments.len() / 2);
            json!([
                {"index": index, "id": format!("call_{index}"), "type": "function",
                 "function": {"name": name, "arguments": head}},
                {"index": index, "function": {"arguments": tail}},
            ])
        })
        .collect();
    if !calls.is_empty() {
        let fragments: Vec<Value> = calls
            .iter()
            .flat_map(|pair| pair.as_array().cloned().unwrap_or_default())
            .map(|fragment| json!({"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}}]}))
            .collect();
        return stream(fragments);
    }
    let mut events = vec![text("echo:")];
    events.extend(
        said.split_whitespace()
            .map(|word| text(&format!(" {word}"))),
    );
    events.push(usage(said.split_whitespace().count() as u32, 1));
    stream(events)
}
