//! How much memory one big echo costs: a message of `--mb` megabytes sent to the mock
//! (default chunking: 8 characters a chunk, no delay) through the ABI, read as the CLI
//! reads it (every event, then the result), with the peak resident memory above the
//! baseline divided by the message size.
//!
//! ```text
//! cargo xtask stage
//! cargo run --release -p agent-plugin-mock --example echo_memory -- \
//!     [--mb 50] [--chunk-chars 8] [--max-ratio 3] [--in-process]
//! ```
//!
//! It loads the staged `target/dist/plugins/libagent_plugin_mock.so` (or
//! `$AGENT_HOST_DIST/plugins/...`); `--in-process` takes the same foreign path through
//! `PluginRuntime::in_process` without a library. The baseline is taken once the message
//! is built and the agent exists; the peak is the kernel's high-water mark (`VmHWM`),
//! reset after the baseline. Two figures: the peak once every event was read (the
//! plugin's history holds the message and the answer, the handle holds the answer, shared
//! with the plugin), which `--max-ratio` bounds (exit status 1 above it); and the peak
//! after `text()` too, which adds the caller's own copy of the answer (one more 1x).
//! Linux only (it reads `/proc/self/status`).

use std::path::PathBuf;
use std::process::ExitCode;

use agent_plugin_api::host::{PluginLibrary, PluginRuntime};
use agent_plugin_api::types::{AgentConfig, ChatEvent, Content};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use futures::StreamExt;

struct Args {
    megabytes: usize,
    chunk_chars: usize,
    max_ratio: f64,
    in_process: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        megabytes: 50,
        chunk_chars: 8,
        max_ratio: 3.0,
        in_process: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = |name: &str| given.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--mb" => args.megabytes = value("--mb")?.parse().map_err(|e| format!("--mb: {e}"))?,
            "--max-ratio" => {
                args.max_ratio = value("--max-ratio")?
                    .parse()
                    .map_err(|e| format!("--max-ratio: {e}"))?
            }
            "--chunk-chars" => {
                args.chunk_chars = value("--chunk-chars")?
                    .parse()
                    .map_err(|e| format!("--chunk-chars: {e}"))?
            }
            "--in-process" => args.in_process = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.megabytes == 0 {
        return Err("--mb must be at least 1".into());
    }
    Ok(args)
}

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reads /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Starts a new high-water mark from the current resident size.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("writes /proc/self/clear_refs");
}

fn staged_mock() -> PathBuf {
    let dist = std::env::var_os("AGENT_HOST_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dist"));
    dist.join("plugins/libagent_plugin_mock.so")
}

fn runtime(in_process: bool, chunk_chars: usize) -> Result<PluginRuntime, String> {
    let options = MockOptions {
        chunk_delay_ms: 0,
        chunk_chars,
        ..MockOptions::default()
    };
    if in_process {
        let mock = MockRuntime::with_options(options).map_err(|e| e.to_string())?;
        return PluginRuntime::in_process("mock", mock).map_err(|e| e.to_string());
    }
    let path = staged_mock();
    let library =
        PluginLibrary::open(&path).map_err(|e| format!("{e} (run `cargo xtask stage` first)"))?;
    library
        .new_runtime(&serde_json::json!({ "chunk_delay_ms": 0, "chunk_chars": chunk_chars }))
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("echo_memory: {error}");
            return ExitCode::from(2);
        }
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("starts tokio");
    let outcome = tokio.block_on(async {
        let runtime = runtime(args.in_process, args.chunk_chars)?;
        let agent = runtime
            .create_agent(AgentConfig::builder("memory").build())
            .await
            .map_err(|e| e.to_string())?;
        // A warm-up turn, so the allocators and threads exist before the baseline.
        let warm = runtime.chat(agent, &"warm up".into()).await;
        warm.map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let size = args.megabytes * 1_000_000;
        let message = Content::text("x".repeat(size));

        let baseline = status_bytes("VmRSS");
        reset_peak();
        let handle = runtime
            .chat(agent, &message)
            .await
            .map_err(|e| e.to_string())?;
        let mut events = handle.events();
        let (mut chunks, mut bytes) = (0usize, 0usize);
        while let Some(event) = events.next().await {
            if let ChatEvent::Text(chunk) = event {
                chunks += 1;
                bytes += chunk.len();
            }
        }
        let streamed_peak = status_bytes("VmHWM");
        let result = handle.text().await.map_err(|e| e.to_string())?;
        let expected = size + "echo: ".len();
        if bytes != expected || result.text.len() != expected {
            return Err(format!(
                "wrong answer: {bytes} bytes streamed, {} in the result, {expected} expected",
                result.text.len()
            ));
        }
        drop(result);
        drop(events);
        drop(handle);
        let peak = status_bytes("VmHWM");
        Ok((size, baseline, streamed_peak, peak, chunks))
    });
    let (size, baseline, streamed_peak, peak, chunks) = match outcome {
        Ok(figures) => figures,
        Err(error) => {
            eprintln!("echo_memory: {error}");
            return ExitCode::from(2);
        }
    };
    let ratio = |peak: u64| peak.saturating_sub(baseline) as f64 / size as f64;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "echo of {} MB in {chunks} chunks, {}: baseline {:.1} MiB; peak {:.1} MiB once streamed: {:.2}x the message (bound {}x); {:.1} MiB with the caller's copy from text(): {:.2}x",
        args.megabytes,
        if args.in_process { "in process" } else { "through the staged .so" },
        mib(baseline),
        mib(streamed_peak),
        ratio(streamed_peak),
        args.max_ratio,
        mib(peak),
        ratio(peak),
    );
    if ratio(streamed_peak) > args.max_ratio {
        eprintln!(
            "echo_memory: {:.2}x is above the bound of {}x",
            ratio(streamed_peak),
            args.max_ratio
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
