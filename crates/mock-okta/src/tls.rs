//! The TLS identity of the HTTPS listener: a throw-away CA and a server certificate it signs
//! for `127.0.0.1` and `localhost`, generated at start (ECDSA P-256, so it is fast).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA certificate to trust and the server configuration that uses its leaf.
pub(crate) struct TlsIdentity {
    pub(crate) ca_certificate_pem: String,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

/// Installs ring as the process's rustls provider; another provider already installed is fine.
pub(crate) fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) fn generate() -> std::io::Result<TlsIdentity> {
    install_crypto_provider();
    let (ca_certificate_pem, chain, leaf_key) = generate_certificates().map_err(invalid_data)?;
    let mut server_config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, leaf_key)
        .map_err(invalid_data)?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsIdentity {
        ca_certificate_pem,
        server_config: Arc::new(server_config),
    })
}

type CertificateChain = Vec<rustls::pki_types::CertificateDer<'static>>;

fn generate_certificates(
) -> Result<(String, CertificateChain, PrivateKeyDer<'static>), rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mock-okta local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_certificate = ca_params.self_signed(&ca_key)?;

    let leaf_key = KeyPair::generate()?;
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "mock-okta");
    let leaf_certificate = leaf_params.signed_by(&leaf_key, &ca_certificate, &ca_key)?;

    let chain = vec![leaf_certificate.der().clone(), ca_certificate.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((ca_certificate.pem(), chain, key))
}

fn invalid_data(error: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, error)
}
