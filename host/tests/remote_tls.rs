//! `url = "https://..."`: a backend served with TLS by the staged `agent-host serve`,
//! reached by a second host that proves itself with a client token or its own
//! certificate (mutual TLS). Certificates are made here, for a CA of the test's own.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};

/// PEM files in a directory: a CA, a server certificate for `localhost` and 127.0.0.1,
/// a client certificate, a token; keys and the token `0600`.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let write = |name: &str, text: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("ca.pem", &ca.pem(), 0o644);
        for (name, names, usage) in [
            (
                "server",
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            (
                "client",
                vec!["client".to_owned()],
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca).unwrap();
            write(&format!("{name}.pem"), &cert.pem(), 0o644);
            write(&format!("{name}-key.pem"), &key.serialize_pem(), 0o600);
        }
        write("token", "correct-horse-battery-staple\n", 0o600);
        write("wrong-token", "not-the-token\n", 0o600);
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// The staged mock served with TLS on a free loopback port, clients authenticated by
    /// `flag` with the file `file`; the server and its port.
    fn serve_tls(&self, flag: &str, file: &str) -> (std::process::Child, String) {
        let (serve, handshake) = common::serve(
            &[
                "--option",
                "chunk_delay_ms=0",
                "--listen",
                "tcp:127.0.0.1:0",
                "--tls-cert",
                &self.arg("server.pem"),
                "--tls-key",
                &self.arg("server-key.pem"),
                flag,
                &self.arg(file),
            ],
            self.dir.path(),
        );
        let address = handshake.address.to_string();
        let port = address.rsplit(':').next().unwrap().to_owned();
        (serve, port)
    }
}

/// `agent-host chat` from `dir`, whose agent-host.toml is `config`.
fn chat(dir: &Path, config: &str, message: &str) -> Output {
    let file = dir.join("agent-host.toml");
    std::fs::write(&file, config).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    Command::new(common::staged_binary())
        .args(["chat", message])
        .env_remove("AGENT_HOST_CONFIG")
        .env_remove("AGENT_HOST_PLUGIN_PATH")
        .env("AGENT_TEST_TOKEN", "correct-horse-battery-staple")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stop(mut serve: std::process::Child) {
    let _ = serve.kill();
    let _ = serve.wait();
}

#[test]
fn a_host_with_the_token_chats_over_tls_and_others_are_turned_away() {
    let pki = Pki::new();
    let (serve, port) = pki.serve_tls("--token-file", "token");
    let client = tempfile::tempdir().unwrap();
    let config = |extra: &str| {
        format!(
            "backend = \"remote\"\n[plugins.remote]\nurl = \"https://localhost:{port}\"\n{extra}\n"
        )
    };
    let ca = format!("tls_ca = {:?}", pki.arg("ca.pem"));

    let output = chat(
        client.path(),
        &config(&format!("{ca}\ntoken_file = {:?}", pki.arg("token"))),
        "hello over tls",
    );
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert_eq!(common::text(&output.stdout), "echo: hello over tls\n");
    // The same token from the environment.
    let output = chat(
        client.path(),
        &config(&format!("{ca}\ntoken_env = \"AGENT_TEST_TOKEN\"")),
        "again",
    );
    assert!(output.status.success(), "{}", common::text(&output.stderr));

    for (extra, says) in [
        (
            format!("{ca}\ntoken_file = {:?}", pki.arg("wrong-token")),
            "the client token is not this server's",
        ),
        // Without the test CA the server's certificate is not trusted.
        (
            "token_env = \"AGENT_TEST_TOKEN\"".to_owned(),
            "cannot reach https://localhost",
        ),
        (
            format!("{ca}\ntoken_env = \"NO_SUCH_VARIABLE_SET\""),
            "plugins.remote.token_env: $NO_SUCH_VARIABLE_SET is not set",
        ),
        (ca.clone(), "needs this host to prove itself"),
    ] {
        let output = chat(client.path(), &config(&extra), "hi");
        let stderr = common::text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{extra}: {stderr}");
        assert!(stderr.contains(says), "{extra}: {stderr}");
    }
    // A client speaking plain HTTP/2 to the TLS port fails, and the server serves on.
    let output = chat(
        client.path(),
        &format!("backend = \"remote\"\n[plugins.remote]\nurl = \"http://127.0.0.1:{port}\"\n"),
        "hi",
    );
    assert_eq!(output.status.code(), Some(1));
    let output = chat(
        client.path(),
        &config(&format!("{ca}\ntoken_file = {:?}", pki.arg("token"))),
        "still serving",
    );
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    stop(serve);
}

#[test]
fn mutual_tls_lets_in_only_a_client_with_a_certificate_from_the_ca() {
    let pki = Pki::new();
    let (serve, port) = pki.serve_tls("--client-ca", "ca.pem");
    let client = tempfile::tempdir().unwrap();
    let config = |extra: &str| {
        format!(
            "backend = \"remote\"\n[plugins.remote]\nurl = \"https://127.0.0.1:{port}\"\ntls_ca = {:?}\n{extra}\n",
            pki.arg("ca.pem")
        )
    };
    let output = chat(
        client.path(),
        &config(&format!(
            "tls_cert = {:?}\ntls_key = {:?}",
            pki.arg("client.pem"),
            pki.arg("client-key.pem")
        )),
        "hello with a certificate",
    );
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert_eq!(
        common::text(&output.stdout),
        "echo: hello with a certificate\n"
    );
    // A token is no certificate: the TLS handshake fails.
    let output = chat(
        client.path(),
        &config("token_env = \"AGENT_TEST_TOKEN\""),
        "hi",
    );
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("handshake with https://127.0.0.1") && stderr.contains("tls_cert"),
        "{stderr}"
    );
    // A key others can read is refused before anything is sent.
    std::fs::set_permissions(
        pki.path("client-key.pem"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let output = chat(
        client.path(),
        &config(&format!(
            "tls_cert = {:?}\ntls_key = {:?}",
            pki.arg("client.pem"),
            pki.arg("client-key.pem")
        )),
        "hi",
    );
    let stderr = common::text(&output.stderr);
    assert!(
        stderr.contains("plugins.remote.tls_key:") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    stop(serve);
}

#[test]
fn serve_beyond_loopback_needs_tls_and_client_authentication() {
    let pki = Pki::new();
    let serve = |args: &[&str]| {
        Command::new(common::staged_binary())
            .args(["serve", "--backend", "mock", "--listen", "tcp:0.0.0.0:0"])
            .args(args)
            .env_remove("AGENT_HOST_CONFIG")
            .env_remove("AGENT_HOST_PLUGIN_PATH")
            .current_dir(pki.dir.path())
            .output()
            .unwrap()
    };
    let tls = [
        "--tls-cert",
        &pki.arg("server.pem"),
        "--tls-key",
        &pki.arg("server-key.pem"),
    ];
    for (args, says) in [
        (vec![], "needs TLS (--tls-cert and --tls-key)"),
        (tls.to_vec(), "give --token-file"),
    ] {
        let output = serve(&args);
        let stderr = common::text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    std::fs::set_permissions(pki.path("token"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut args = tls.to_vec();
    let token = pki.arg("token");
    args.extend(["--token-file", token.as_str()]);
    let output = serve(&args);
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--token-file") && stderr.contains("mode 0640"),
        "{stderr}"
    );
}
