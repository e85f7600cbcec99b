use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Starts the mock-okta binary on a free port, writing its CA certificate to `ca_path`;
/// returns it and the lines it prints.
fn start_binary(ca_path: &Path) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-okta"))
        .args(["--port", "0", "--ca-cert-out"])
        .arg(ca_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// The next line that the binary prints.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("mock-okta prints in time")
        .unwrap()
        .expect("a line")
}

#[tokio::test]
async fn binary_prints_its_issuer_first_and_serves_discovery_over_trusted_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let (mut child, mut lines) = start_binary(&ca_path);
    let issuer = url::Url::parse(&next_line(&mut lines).await).unwrap();
    assert_eq!(issuer.scheme(), "https");
    assert_eq!(issuer.host_str(), Some("127.0.0.1"));
    assert_eq!(issuer.path(), "/oauth2/default");
    let browser_line = next_line(&mut lines).await;
    assert!(
        browser_line.starts_with("browser: http://127.0.0.1:"),
        "{browser_line}"
    );
    assert_eq!(
        next_line(&mut lines).await,
        format!("ca-cert: {}", ca_path.display())
    );

    let ca = std::fs::read(&ca_path).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let discovery: serde_json::Value = client
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());
    // The generated signing key arrives at the JWKS.
    let jwks: serde_json::Value = client
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[tokio::test]
async fn binary_help_and_bad_config_are_clear() {
    let help = Command::new(env!("CARGO_BIN_EXE_mock-okta"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--port",
        "--browser-port",
        "--ca-cert-out",
        "--auto-login",
        "--status",
        "--drop-connection",
        "--logout-interstitial",
        "--authorization-response-iss",
        "--refresh-changes-subject",
        "--refresh-changes-issuer",
        "--refresh-token-grace",
        "--require-dpop",
        "--dpop-unsupported",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "prot = 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mock-okta"))
        .arg("--config")
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown field `prot`"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_mock-okta"))
        .args(["--refresh-token-grace", "61"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("0 to 60 seconds"), "{stderr}");
}

/// The mock-okta start bench (or a QA script) polls for the CA file. It must appear whole: a
/// new file renamed over the path, never one written in place (a reader could then find it
/// empty or half written), readable as a file written the plain way would be, and nothing else
/// left beside it.
#[tokio::test]
async fn binary_replaces_the_ca_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, "a certificate of an earlier run\n").unwrap();
    let mut earlier = std::fs::File::open(&ca_path).unwrap();
    let (mut child, mut lines) = start_binary(&ca_path);
    let ca_line = format!("ca-cert: {}", ca_path.display());
    while next_line(&mut lines).await != ca_line {}

    let mut seen_by_the_earlier_reader = String::new();
    std::io::Read::read_to_string(&mut earlier, &mut seen_by_the_earlier_reader).unwrap();
    assert_eq!(
        seen_by_the_earlier_reader, "a certificate of an earlier run\n",
        "the file was rewritten in place"
    );
    let written = std::fs::read_to_string(&ca_path).unwrap();
    assert!(
        written.starts_with("-----BEGIN CERTIFICATE-----\n")
            && written.trim_end().ends_with("-----END CERTIFICATE-----"),
        "{written}"
    );
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(files, ["ca.pem"]);
    let plain_path = dir.path().join("written-the-plain-way");
    std::fs::write(&plain_path, "").unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions();
    assert_eq!(mode(&ca_path), mode(&plain_path));

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
