//! How the emulator is reached: the well-known key, the key kept in the
//! data file, another listening address, and https.

mod common;

use std::time::Duration;

#[cfg(feature = "tls")]
use acs_identity_emulator::{CERTIFICATE_FILE, EmulatorError, KEY_FILE, TlsCertificate};
use acs_identity_emulator::{
    Emulator, WELL_KNOWN_ACCESS_KEY, WELL_KNOWN_CONNECTION_STRING, WELL_KNOWN_PORT,
};
use common::*;
#[cfg(feature = "tls")]
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn the_well_known_connection_string_is_its_port_and_key() {
    assert_eq!(
        WELL_KNOWN_CONNECTION_STRING,
        format!("endpoint=http://127.0.0.1:{WELL_KNOWN_PORT}/;accesskey={WELL_KNOWN_ACCESS_KEY}")
    );
}

#[tokio::test]
async fn a_configured_host_is_answered_and_others_still_are_not() {
    let e = Emulator::builder()
        .access_key(KEY)
        .host("localhost")
        .start()
        .await
        .unwrap();
    assert!(
        e.endpoint().starts_with("http://localhost:"),
        "{}",
        e.endpoint()
    );
    let port = e.addr().port();
    let (status, _) = Req::new(reqwest::Method::POST, q("/identities", STABLE))
        .send_to(&format!("localhost:{port}"))
        .await;
    assert_eq!(status, 201);
    let (status, _) = Req::new(reqwest::Method::POST, q("/identities", STABLE))
        .send_to(&format!("127.0.0.1:{port}"))
        .await;
    assert_eq!(status, 201);
    let (answer, _) = raw(
        &e,
        b"GET /_emulator/health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status_of(&answer), Some(421), "{answer}");
}

#[cfg(feature = "tls")]
fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn tls_serves_https_with_a_certificate_a_client_can_trust() {
    let e = Emulator::builder()
        .access_key(KEY)
        .tls(TlsCertificate::Generated { dir: None })
        .start()
        .await
        .unwrap();
    assert!(
        e.connection_string()
            .starts_with("endpoint=https://127.0.0.1:")
    );
    let pem = e.certificate_pem().unwrap().to_string();
    let health = trusting(&pem)
        .get(format!("{}_emulator/health", e.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    // Through `localhost` as well (a name in the certificate).
    let by_name = trusting(&pem)
        .get(format!(
            "https://localhost:{}/_emulator/health",
            e.addr().port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.status().as_u16(), 200);
    // A client that does not trust it is refused by its own TLS check.
    let untrusting = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{}_emulator/health", e.endpoint()))
        .send()
        .await;
    assert!(untrusting.is_err());

    // Plain http to the TLS port gets no answer, and the emulator goes on.
    let mut plain = tokio::net::TcpStream::connect(e.addr()).await.unwrap();
    plain
        .write_all(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was closed in time");
    assert!(!String::from_utf8_lossy(&buf).contains("\"ok\""));
    let again = trusting(&pem)
        .get(format!("{}_emulator/health", e.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn a_generated_certificate_is_kept_and_reused_and_given_files_are_served() {
    let dir = temp_dir("serving-tls");
    let start = |choice: TlsCertificate| Emulator::builder().access_key(KEY).tls(choice).start();
    let first = start(TlsCertificate::Generated {
        dir: Some(dir.clone()),
    })
    .await
    .unwrap();
    let pem = first.certificate_pem().unwrap().to_string();
    assert_eq!(
        first.certificate_path(),
        Some(dir.join(CERTIFICATE_FILE).as_path())
    );
    first.shutdown().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
    }
    let second = start(TlsCertificate::Generated {
        dir: Some(dir.clone()),
    })
    .await
    .unwrap();
    assert_eq!(second.certificate_pem(), Some(pem.as_str()), "reused");
    let ok = trusting(&pem)
        .get(format!("{}_emulator/health", second.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status().as_u16(),
        200,
        "the first run's trust still holds"
    );
    second.shutdown().await;

    let files = start(TlsCertificate::Files {
        cert: dir.join(CERTIFICATE_FILE),
        key: dir.join(KEY_FILE),
    })
    .await
    .unwrap();
    assert_eq!(files.certificate_pem(), Some(pem.as_str()));
    files.shutdown().await;

    // Bad files are a clear error, not a panic.
    std::fs::write(dir.join("junk.pem"), "not a certificate").unwrap();
    let bad = start(TlsCertificate::Files {
        cert: dir.join("junk.pem"),
        key: dir.join(KEY_FILE),
    })
    .await;
    assert!(matches!(bad, Err(EmulatorError::Tls { .. })), "{bad:?}");
    let missing = start(TlsCertificate::Files {
        cert: dir.join("nowhere.pem"),
        key: dir.join(KEY_FILE),
    })
    .await;
    let message = missing.unwrap_err().to_string();
    assert!(message.contains("nowhere.pem"), "{message}");
    std::fs::remove_dir_all(dir).unwrap();
}
