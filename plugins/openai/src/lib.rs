//! `agent-plugin-openai`: a backend for any server that speaks OpenAI's chat-completions
//! API (OpenAI, vLLM, llama.cpp's server, Ollama, LiteLLM), built on the kit.
//!
//! Each turn streams (`stream: true`, SSE) through a real async HTTP client (reqwest
//! with rustls) inside the plugin; the model's tool calls, whose arguments arrive in
//! fragments, run through the application's tools and their results go back until the
//! model answers (at most `max_tool_rounds` rounds); `response_schema` becomes
//! `response_format` and the parsed answer `structured_output`; reasoning arrives as
//! thoughts. HTTP 429 is a quota hit (its `Retry-After`/`retry-after-ms` honoured, up to
//! the agent's `max_quota_retries`), 5xx and dropped connections retry with jittered
//! backoff, a 4xx carries the server's message, a stream cut before `[DONE]` is
//! `ConnectionClosed`, and cancelling a turn drops its request.
//!
//! Modules: `options`, `backend` (the turn), `request` (the body), `http` (sending and
//! what comes back), `sse` and `round` (the stream), `usage` (token counts).

mod backend;
mod http;
mod options;
mod request;
mod round;
mod sse;
mod usage;

pub use backend::{OpenAiBackend, OpenAiRuntime, OPENAI_API_KEY_ENV};
pub use options::OpenAiOptions;

agent_plugin_api::export_plugin!(OpenAiRuntime);
