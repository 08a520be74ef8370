//! `agent-host serve`: one backend over gRPC (agent-remote's protocol), for a parent
//! process (`isolation = "process"`) or for hosts on other machines. The first line on
//! stdout is the handshake (`agent-host-serve|<protocol>|<api>|<address>|<transport>`,
//! `framed` for a parent agent-host, else `grpc`); SIGTERM
//! or Ctrl-C ends every turn `Cancelled`, closes the sessions and exits 0.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use agent_host::{read_public, read_secret, Config, Host, PluginPin};
use agent_plugin_api::Runtime;
use agent_remote::{Address, BackendInfo, Server, ServerSecurity, ServerTls, Token};
use anyhow::Context as _;

use super::backend_args::BackendArgs;
use super::signals::Signals;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// Where to listen: `unix:PATH` (a socket file that must not exist yet) or
    /// `tcp:IP:PORT` on a loopback address (port 0 picks a free one; the handshake line
    /// says which). Read from `$AGENT_HOST_LISTEN` when not given, as a host sets it for
    /// a `command` backend (so `agent-host serve` can itself be one).
    #[arg(long, value_name = "ADDRESS", env = agent_host::LISTEN_ENV)]
    listen: Address,
    #[command(flatten)]
    security: SecurityArgs,
    /// The process-isolation parent's way in (not for users): serve exactly this file
    /// for `--backend`, with these options, and stop when stdin closes.
    #[command(flatten)]
    child: ChildArgs,
}

/// TLS and client authentication: required to listen beyond loopback.
#[derive(Debug, clap::Args)]
pub struct SecurityArgs {
    /// Serve TLS with this certificate chain (PEM file); with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM file, readable by its owner only).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must show a certificate that chains to this CA (PEM file).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Clients must present the token in this file (readable by its owner only; the
    /// clients' `token_file` or `token_env`).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    #[arg(long, hide = true, requires = "backend", value_name = "FILE")]
    plugin_file: Option<PathBuf>,
    #[arg(long, hide = true, requires = "plugin_file", value_name = "HEX")]
    sha256: Option<String>,
    /// Also read from `$AGENT_HOST_OPTIONS`, as a host sets it for a `command` backend.
    #[arg(long, hide = true, value_name = "JSON", env = agent_host::OPTIONS_ENV)]
    options_json: Option<String>,
    #[arg(long, hide = true)]
    stop_on_stdin_eof: bool,
    /// Serve the framed transport (the parent is an agent-host on a unix: socket).
    #[arg(long, hide = true)]
    framed: bool,
}

pub async fn run(
    host: impl FnOnce(Option<Config>) -> anyhow::Result<Host>,
    args: Args,
    signals: &mut Signals,
) -> anyhow::Result<ExitCode> {
    let security = security(&args.listen, &args.security)?;
    let host = match &args.child.plugin_file {
        // Only the given file, pinned by path (and digest, when the parent pins one).
        Some(file) => {
            let name = args.backend.backend.clone().unwrap_or_default();
            let mut config = Config::default();
            config.plugins.insert(
                name,
                PluginPin {
                    path: Some(file.clone()),
                    sha256: args.child.sha256.clone(),
                    ..PluginPin::default()
                },
            );
            host(Some(config))?
        }
        None => host(None)?,
    };
    let backend = args.backend.name(&host)?;
    let mut overrides = args.backend.overrides()?;
    if let Some(json) = &args.child.options_json {
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).context("--options-json is not a JSON object")?;
        overrides.extend(parsed);
    }
    let runtime = host.runtime_in_process(&backend, overrides)?;
    let metadata = host.plugin(&backend)?.metadata().clone();
    let info = BackendInfo {
        name: metadata.name,
        version: metadata.version,
        description: metadata.description,
        api_version: metadata.api_version,
    };
    let runtime: Arc<dyn Runtime> = Arc::new(runtime);
    let mut server = Server::bind(runtime, info, &args.listen)
        .await?
        .secured(security);
    if args.child.framed {
        server = server.framed()?;
    }
    let made_socket = match server.address() {
        Address::Unix(path) => Some(path.clone()),
        Address::Tcp(_) => None,
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.handshake_line()).context("cannot write the handshake line")?;
    stdout.flush().context("cannot write the handshake line")?;
    drop(stdout);
    if args.child.stop_on_stdin_eof {
        tracing::debug!("serving backend {backend:?} on {}", server.address());
    } else {
        eprintln!(
            "agent-host: serving backend {backend:?} on {}",
            server.address()
        );
    }
    let mut caught = signals.catch();
    let stdin_closed = stdin_closed(args.child.stop_on_stdin_eof);
    let stop = async move {
        tokio::select! {
            signal = caught.next() => tracing::info!("stopping on {signal:?}"),
            () = stdin_closed => tracing::info!("stopping: the parent closed stdin"),
        }
    };
    let served = server.serve(stop).await;
    if let Some(path) = made_socket {
        let _ = std::fs::remove_file(&path);
        // A child's socket sits in a directory its parent made for it alone; a parent
        // killed outright (SIGKILL) cannot remove it, so the child does (if empty).
        if args.child.stop_on_stdin_eof {
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

/// What the server asks of clients, read from the flags. TCP beyond loopback needs TLS
/// and a way for clients to prove themselves (a token or mutual TLS): refused rather
/// than served in the clear or to anyone.
fn security(listen: &Address, args: &SecurityArgs) -> anyhow::Result<ServerSecurity> {
    let beyond_loopback = matches!(listen, Address::Tcp(socket) if !socket.ip().is_loopback());
    if beyond_loopback && args.tls_cert.is_none() {
        anyhow::bail!(
            "--listen {listen}: not a loopback address; serving beyond this machine needs \
             TLS (--tls-cert and --tls-key) and client authentication (--token-file, or \
             --client-ca for mutual TLS); or listen on 127.0.0.1, ::1 or a unix: socket"
        );
    }
    if beyond_loopback && args.token_file.is_none() && args.client_ca.is_none() {
        anyhow::bail!(
            "--listen {listen}: not a loopback address; clients there must prove themselves: \
             give --token-file (a shared client token) or --client-ca (mutual TLS)"
        );
    }
    if matches!(listen, Address::Unix(_)) && args.tls_cert.is_some() {
        anyhow::bail!(
            "--tls-cert: {listen} is a local socket, which needs no TLS (its directory's \
             permissions decide who reaches it); TLS is for tcp: addresses"
        );
    }
    let fail = |why: String| anyhow::anyhow!("{why}");
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(ServerTls {
            cert_pem: read_public(cert, "--tls-cert").map_err(fail)?,
            key_pem: read_secret(key, "--tls-key").map_err(fail)?,
            client_ca_pem: match &args.client_ca {
                Some(ca) => Some(read_public(ca, "--client-ca").map_err(fail)?),
                None => None,
            },
        }),
        _ => None,
    };
    let token = match &args.token_file {
        Some(path) => {
            let bytes = read_secret(path, "--token-file").map_err(fail)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("--token-file {}: not text", path.display()))?;
            Some(
                Token::new(&text)
                    .map_err(|why| anyhow::anyhow!("--token-file {}: {why}", path.display()))?,
            )
        }
        None => None,
    };
    Ok(ServerSecurity { tls, token })
}

/// Resolves when stdin reaches its end (the parent is gone), if asked to watch it.
async fn stdin_closed(watch: bool) {
    if !watch {
        return std::future::pending().await;
    }
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    // A thread of its own: reading stdin blocks, and nothing else reads it.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = on_close.await;
}
