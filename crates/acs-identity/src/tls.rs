//! The default HTTP client and the TLS backend the cargo features chose.
//!
//! | feature | TLS |
//! |---|---|
//! | `rustls-aws-lc` (default) | rustls with the aws-lc-rs provider (reqwest's own default) and the platform's trust store |
//! | `rustls-ring` | rustls with the ring provider and the platform's trust store |
//! | `native-tls` | the platform's library (OpenSSL on Linux) |
//!
//! With more than one enabled, `native-tls` wins over `rustls-aws-lc`, which
//! wins over `rustls-ring`. With none, only `http://` endpoints work.

/// Whether this build can speak TLS at all.
pub(crate) const HAS_TLS: bool = cfg!(any(
    feature = "rustls-ring",
    feature = "rustls-aws-lc",
    feature = "native-tls"
));

/// The client used when the builder is given none: no redirects (a signed
/// call is answered where it was sent), TLS per the features.
pub(crate) fn default_http_client() -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    #[cfg(feature = "native-tls")]
    let builder = builder.tls_backend_native();
    #[cfg(all(
        feature = "rustls-ring",
        not(any(feature = "rustls-aws-lc", feature = "native-tls"))
    ))]
    let builder = builder.tls_backend_preconfigured(ring::client_config()?);
    builder.build().map_err(|e| e.to_string())
}

#[cfg(all(
    feature = "rustls-ring",
    not(any(feature = "rustls-aws-lc", feature = "native-tls"))
))]
mod ring {
    use std::sync::Arc;

    use rustls_platform_verifier::BuilderVerifierExt as _;

    /// rustls with ring, verifying servers against the platform's roots.
    /// reqwest would otherwise look for a process-wide provider; this one
    /// is given to it, so building a client changes nothing global.
    pub(super) fn client_config() -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_platform_verifier()
            .map_err(|e| format!("the platform's certificate verifier: {e}"))?
            .with_no_client_auth();
        // The client speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    /// The default client speaks TLS to an `https://` URL: the server sees
    /// a TLS handshake record (0x16, version 3.x) and closes; the client
    /// reports an error rather than panicking for want of a provider.
    #[tokio::test]
    async fn the_default_client_starts_a_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 2];
            stream.read_exact(&mut head).await.unwrap();
            head
        });
        let client = default_http_client().unwrap();
        let sent =
            tokio::time::timeout(std::time::Duration::from_secs(10), client.get(&url).send())
                .await
                .expect("bounded");
        assert!(sent.is_err());
        let head = tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("bounded")
            .unwrap();
        assert_eq!(head, [0x16, 0x03], "a TLS handshake record");
    }
}
