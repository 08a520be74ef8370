//! The tests' stub server on its own, serving the echo model on 127.0.0.1 so the
//! `openai` backend can be tried with no key and no network:
//!
//! ```sh
//! cargo run -p agent-plugin-openai --example stub_server -- --seconds 300
//! # prints: listening on http://127.0.0.1:PORT/v1
//! target/dist/agent-host chat --backend openai --option base_url=http://127.0.0.1:PORT/v1 "Hi"
//! ```
//!
//! `cargo xtask demo --backend openai` runs it for you. It stops by itself after
//! `--seconds` (default 60) or 5,000 requests.

#[path = "../tests/stub/mod.rs"]
mod stub;

use std::io::Write as _;
use std::time::Duration;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut seconds = 60u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (
            arg.as_str(),
            args.next().and_then(|value| value.parse().ok()),
        ) {
            ("--seconds", Some(value)) => seconds = value,
            _ => {
                eprintln!("usage: stub_server [--seconds N]");
                std::process::exit(2);
            }
        }
    }
    let server = stub::Stub::echo_model(Duration::from_millis(40)).await;
    println!("listening on {}", server.url());
    let _ = std::io::stdout().flush();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}
