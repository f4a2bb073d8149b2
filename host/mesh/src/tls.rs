//! The mesh's TLS 1.3 security upgrade: libp2p's TLS handshake (`/tls/1.0.0`: self-signed
//! certificates that carry the node key in a signed extension, made and checked by
//! `libp2p::tls::certificate`), with the cipher suites ordered for speed.
//!
//! Why not `libp2p::tls::Config`: it always asks for ChaCha20-Poly1305 first. Where the CPU
//! has AES instructions (x86-64 AES-NI, ARMv8 crypto extensions) AES-GCM runs several times
//! faster, and bulk transfers (R1FS blocks) spend most of their mesh time in the cipher; where
//! it has not (many small ARM boards), ChaCha20 stays first. Both suites stay on offer, so any
//! libp2p TLS peer still connects.
//!
//! Invariants: TLS 1.3 only; the peer must present exactly one certificate, which must pass
//! `certificate::parse` (its self-signature and the node key's signature over it), and its
//! handshake signature must verify with that certificate's key. The peer id is the node key's;
//! the swarm checks it against the id that was dialled.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{AsyncRead, AsyncWrite, FutureExt};
use libp2p::PeerId;
use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo};
use libp2p::identity::Keypair;
use libp2p::tls::certificate;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::aws_lc_rs::{self, cipher_suite};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, CommonState, DigitallySignedStruct, DistinguishedName, SignatureScheme,
};

/// ALPN value of the libp2p TLS handshake.
const ALPN: &[u8] = b"libp2p";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make this node's TLS certificate: {0}")]
    Certificate(String),
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    #[error("the peer's certificate is not a valid libp2p certificate: {0}")]
    PeerCertificate(String),
}

/// The security upgrade handed to the swarm builder (`Config::new` has the shape it calls).
#[derive(Clone)]
pub struct Config {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

/// Whether this CPU runs AES-GCM in hardware.
fn hardware_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The TLS 1.3 suites, fastest on this CPU first.
fn cipher_suites(hardware_aes: bool) -> Vec<rustls::SupportedCipherSuite> {
    let aes = [
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_AES_256_GCM_SHA384,
    ];
    let chacha = cipher_suite::TLS13_CHACHA20_POLY1305_SHA256;
    if hardware_aes {
        vec![aes[0], aes[1], chacha]
    } else {
        vec![chacha, aes[0], aes[1]]
    }
}

impl Config {
    pub fn new(keypair: &Keypair) -> Result<Self, TlsError> {
        let (cert, key) =
            certificate::generate(keypair).map_err(|e| TlsError::Certificate(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::CryptoProvider {
            cipher_suites: cipher_suites(hardware_aes()),
            ..aws_lc_rs::default_provider()
        });
        // Handed over through a resolver: rustls's `with_single_cert` would check the
        // certificate with webpki, which refuses the critical libp2p extension.
        let signing_key = provider.key_provider.load_private_key(key)?;
        let own = Arc::new(OwnCertificate(Arc::new(rustls::sign::CertifiedKey::new(
            vec![cert],
            signing_key,
        ))));
        let verifier = Arc::new(PeerCertVerifier);
        let versions = &[&rustls::version::TLS13];

        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_cert_resolver(own.clone());
        client.alpn_protocols = vec![ALPN.to_vec()];

        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(own);
        server.alpn_protocols = vec![ALPN.to_vec()];

        Ok(Self {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}

/// This node's certificate, presented on both sides of every handshake.
#[derive(Debug)]
struct OwnCertificate(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for OwnCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl rustls::server::ResolvesServerCert for OwnCertificate {
    fn resolve(
        &self,
        _client_hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The peer id named by the single certificate the peer presented.
fn peer_id_of(state: &CommonState) -> Result<PeerId, TlsError> {
    match state.peer_certificates() {
        Some([cert]) => certificate::parse(cert)
            .map(|c| c.peer_id())
            .map_err(|e| TlsError::PeerCertificate(e.to_string())),
        _ => Err(TlsError::PeerCertificate(
            "expected exactly one certificate".into(),
        )),
    }
}

impl UpgradeInfo for Config {
    type Info = &'static str;
    type InfoIter = std::iter::Once<Self::Info>;

    fn protocol_info(&self) -> Self::InfoIter {
        std::iter::once("/tls/1.0.0")
    }
}

impl<C> InboundConnectionUpgrade<C> for Config
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = (PeerId, futures_rustls::TlsStream<C>);
    type Error = TlsError;
    type Future = BoxFuture<'static, Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, socket: C, _: Self::Info) -> Self::Future {
        async move {
            let stream = futures_rustls::TlsAcceptor::from(self.server)
                .accept(socket)
                .await
                .map_err(TlsError::Handshake)?;
            let peer = peer_id_of(stream.get_ref().1)?;
            Ok((peer, stream.into()))
        }
        .boxed()
    }
}

impl<C> OutboundConnectionUpgrade<C> for Config
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = (PeerId, futures_rustls::TlsStream<C>);
    type Error = TlsError;
    type Future = BoxFuture<'static, Result<Self::Output, Self::Error>>;

    fn upgrade_outbound(self, socket: C, _: Self::Info) -> Self::Future {
        async move {
            // The libp2p TLS spec: clients send no server name (an unspecified address
            // disables SNI); the certificate, not a name, identifies the peer.
            let name = ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
            let stream = futures_rustls::TlsConnector::from(self.client)
                .connect(name, socket)
                .await
                .map_err(TlsError::Handshake)?;
            let peer = peer_id_of(stream.get_ref().1)?;
            Ok((peer, stream.into()))
        }
        .boxed()
    }
}

/// Accepts a certificate exactly when it is a valid libp2p certificate, on both sides of the
/// handshake (every node presents one; there is no certificate authority).
#[derive(Debug)]
struct PeerCertVerifier;

impl PeerCertVerifier {
    fn check_chain(
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        if !intermediates.is_empty() {
            return Err(rustls::Error::General(
                "a libp2p peer presents exactly one certificate".into(),
            ));
        }
        certificate::parse(end_entity)
            .map(|_| ())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadSignature))
    }

    fn check_signature(
        message: &[u8],
        cert: &CertificateDer<'_>,
        scheme: SignatureScheme,
        signature: &[u8],
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        certificate::parse(cert)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadSignature))?
            .verify_signature(scheme, message, signature)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadSignature))?;
        Ok(HandshakeSignatureValid::assertion())
    }

    /// The schemes `certificate::P2pCertificate::verify_signature` can check.
    fn schemes() -> Vec<SignatureScheme> {
        vec![
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ED25519,
            SignatureScheme::RSA_PSS_SHA512,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA512,
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::RSA_PKCS1_SHA256,
        ]
    }

    fn tls12_refused() -> rustls::Error {
        rustls::Error::General("the libp2p handshake is TLS 1.3 only".into())
    }
}

impl ServerCertVerifier for PeerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Self::check_chain(end_entity, intermediates)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(Self::tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::check_signature(message, cert, dss.scheme, dss.signature())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        Self::schemes()
    }
}

impl ClientCertVerifier for PeerCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Self::check_chain(end_entity, intermediates)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(Self::tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::check_signature(message, cert, dss.scheme, dss.signature())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        Self::schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::compat::TokioAsyncReadCompatExt;

    /// Runs both sides of a handshake over loopback TCP: the peer each side saw (or its
    /// error) and the suite the server side negotiated.
    async fn handshake(
        server: Config,
        client: Config,
    ) -> (
        Result<PeerId, TlsError>,
        Result<PeerId, TlsError>,
        Option<rustls::CipherSuite>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = async {
            let (socket, _) = listener.accept().await.unwrap();
            server.upgrade_inbound(socket.compat(), "/tls/1.0.0").await
        };
        let connect = async {
            let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
            client.upgrade_outbound(socket.compat(), "/tls/1.0.0").await
        };
        let (inbound, outbound) = tokio::join!(accept, connect);
        let suite = inbound.as_ref().ok().and_then(|(_, stream)| {
            stream
                .get_ref()
                .1
                .negotiated_cipher_suite()
                .map(|s| s.suite())
        });
        (
            inbound.map(|(peer, _)| peer),
            outbound.map(|(peer, _)| peer),
            suite,
        )
    }

    #[tokio::test]
    async fn both_sides_learn_each_others_node_id_and_use_the_fast_suite() {
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let (seen_by_a, seen_by_b, suite) =
            handshake(Config::new(&a).unwrap(), Config::new(&b).unwrap()).await;
        assert_eq!(seen_by_a.unwrap(), b.public().to_peer_id());
        assert_eq!(seen_by_b.unwrap(), a.public().to_peer_id());
        assert_eq!(suite, Some(cipher_suites(hardware_aes())[0].suite()));
    }

    #[tokio::test]
    async fn stock_libp2p_tls_peers_connect_both_ways() {
        let (ours, stock) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        for ours_listens in [true, false] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (ours_config, stock_config) = (
                Config::new(&ours).unwrap(),
                libp2p::tls::Config::new(&stock).unwrap(),
            );
            let accept = async {
                let (socket, _) = listener.accept().await.unwrap();
                if ours_listens {
                    ours_config
                        .clone()
                        .upgrade_inbound(socket.compat(), "/tls/1.0.0")
                        .await
                        .map(|(peer, _)| peer)
                        .map_err(|e| e.to_string())
                } else {
                    stock_config
                        .clone()
                        .upgrade_inbound(socket.compat(), "/tls/1.0.0")
                        .await
                        .map(|(peer, _)| peer)
                        .map_err(|e| e.to_string())
                }
            };
            let connect = async {
                let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
                if ours_listens {
                    stock_config
                        .clone()
                        .upgrade_outbound(socket.compat(), "/tls/1.0.0")
                        .await
                        .map(|(peer, _)| peer)
                        .map_err(|e| e.to_string())
                } else {
                    ours_config
                        .clone()
                        .upgrade_outbound(socket.compat(), "/tls/1.0.0")
                        .await
                        .map(|(peer, _)| peer)
                        .map_err(|e| e.to_string())
                }
            };
            let (listener_saw, dialer_saw) = tokio::join!(accept, connect);
            let (listener_id, dialer_id) = if ours_listens {
                (ours.public().to_peer_id(), stock.public().to_peer_id())
            } else {
                (stock.public().to_peer_id(), ours.public().to_peer_id())
            };
            assert_eq!(listener_saw.unwrap(), dialer_id);
            assert_eq!(dialer_saw.unwrap(), listener_id);
        }
    }

    #[tokio::test]
    async fn a_client_without_a_certificate_is_refused() {
        let server = Config::new(&Keypair::generate_ed25519()).unwrap();
        let provider = Arc::new(aws_lc_rs::default_provider());
        let anonymous = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PeerCertVerifier))
            .with_no_client_auth();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = async {
            let (socket, _) = listener.accept().await.unwrap();
            server.upgrade_inbound(socket.compat(), "/tls/1.0.0").await
        };
        let connect = async {
            let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
            futures_rustls::TlsConnector::from(Arc::new(anonymous))
                .connect(name, socket.compat())
                .await
        };
        let (inbound, _) = tokio::join!(accept, connect);
        assert!(matches!(inbound, Err(TlsError::Handshake(_))));
    }

    #[test]
    fn chacha_leads_without_hardware_aes_and_every_suite_stays_on_offer() {
        let slow = cipher_suites(false);
        let fast = cipher_suites(true);
        assert_eq!(
            slow[0].suite(),
            rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        );
        assert_eq!(
            fast[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert_eq!(slow.len(), 3);
        assert_eq!(fast.len(), 3);
    }

    #[test]
    fn certificates_without_the_node_key_extension_are_refused() {
        let plain = rcgen::generate_simple_self_signed(vec!["peer".into()]).unwrap();
        let plain = CertificateDer::from(plain.cert.der().to_vec());
        assert!(PeerCertVerifier::check_chain(&plain, &[]).is_err());

        let (libp2p_cert, _) = certificate::generate(&Keypair::generate_ed25519()).unwrap();
        assert!(PeerCertVerifier::check_chain(&libp2p_cert, &[]).is_ok());
        // Exactly one certificate: a chain is refused even when its leaf is good.
        assert!(
            PeerCertVerifier::check_chain(&libp2p_cert, std::slice::from_ref(&libp2p_cert))
                .is_err()
        );
    }

    #[test]
    fn a_handshake_signature_by_another_key_is_refused() {
        let (cert, _) = certificate::generate(&Keypair::generate_ed25519()).unwrap();
        // A well-formed ECDSA signature (r = s = 1) that the certificate's key never made.
        let signature = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
        let scheme = SignatureScheme::ECDSA_NISTP256_SHA256;
        assert!(
            PeerCertVerifier::check_signature(b"transcript", &cert, scheme, &signature).is_err()
        );
        // A scheme that does not match the certificate's key is refused too.
        let scheme = SignatureScheme::ED25519;
        assert!(
            PeerCertVerifier::check_signature(b"transcript", &cert, scheme, &signature).is_err()
        );
    }
}
