//! The mock served by `agent-host serve` (the staged binary) and spoken to over gRPC:
//! in a child process on a private Unix socket, as `isolation = "process"` runs it, and
//! over loopback TCP, as a remote backend is reached.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;

use agent_host::{Config, Host};
use agent_plugin_api::Runtime;
use agent_remote::{HandshakeLine, RemoteRuntime};

use crate::subjects::{fast_options, staged};

/// The host's own table for the plugin under `name`, run as the config says.
pub async fn isolated_runtime(
    plugin: &str,
    table: &str,
    options: serde_json::Value,
) -> Arc<dyn Runtime> {
    let config = Config::from_toml(&format!("[plugins.{plugin}]\n{table}\n")).unwrap();
    let host = Host::builder()
        .config(config)
        .plugin_dir(staged("plugins/libagent_plugin_mock.so").parent().unwrap())
        .without_env()
        .without_exe_dir()
        .serve_executable(staged("agent-host"))
        .build();
    let serde_json::Value::Object(options) = options else {
        panic!("options are an object")
    };
    host.start_runtime(plugin, options)
        .await
        .unwrap_or_else(|error| panic!("{plugin} starts isolated: {error}"))
}

/// The staged mock with `isolation = "process"`.
pub async fn isolated_mock(chunk_chars: usize) -> Arc<dyn Runtime> {
    isolated_runtime("mock", "isolation = \"process\"", fast_options(chunk_chars)).await
}

/// `agent-host serve --listen tcp:127.0.0.1:0`, killed when dropped.
pub struct TcpServer {
    process: Child,
    /// Kept open: the server's stdout is its parent's to read.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The staged mock served over loopback TCP, and a client of it.
pub async fn over_tcp(chunk_chars: usize) -> (Arc<dyn Runtime>, TcpServer) {
    let mut command = Command::new(staged("agent-host"));
    command.args(["serve", "--backend", "mock", "--listen", "tcp:127.0.0.1:0"]);
    let serde_json::Value::Object(options) = fast_options(chunk_chars) else {
        unreachable!("the mock's options are an object")
    };
    for (key, value) in options {
        command.arg("--option").arg(format!("{key}={value}"));
    }
    let mut process = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the staged agent-host starts");
    let mut stdout = BufReader::new(process.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let server = TcpServer {
        process,
        _stdout: stdout,
    };
    let handshake: HandshakeLine = line.parse().unwrap();
    let runtime = RemoteRuntime::connect(&handshake.address)
        .await
        .expect("the client connects");
    (Arc::new(runtime), server)
}
