//! Shared by the emulator's integration tests: requests signed by hand (not
//! by the acs-identity client), with every signing input adjustable, and raw
//! TCP exchanges.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::time::{Duration, SystemTime};

use acs_identity_emulator::Emulator;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGhlLWNvbnRyYWN0LXRlc3Rz";
pub const STABLE: &str = "2025-06-30";
pub const PREVIEW: &str = "2025-03-02-preview";

/// A request as a client would send it, with every signing input adjustable.
pub struct Req {
    pub method: Method,
    pub path_and_query: String,
    pub body: Vec<u8>,
    pub date: SystemTime,
    pub signed_host: Option<String>,
    pub signed_body: Option<Vec<u8>>,
    pub key: String,
    pub omit: Vec<&'static str>,
    pub bearer: Option<String>,
}

impl Req {
    pub fn new(method: Method, path_and_query: impl Into<String>) -> Self {
        Self {
            method,
            path_and_query: path_and_query.into(),
            body: Vec::new(),
            date: SystemTime::now(),
            signed_host: None,
            signed_body: None,
            key: KEY.into(),
            omit: vec![],
            bearer: None,
        }
    }

    pub fn json(mut self, v: Value) -> Self {
        self.body = v.to_string().into_bytes();
        self
    }

    pub async fn send(self, emulator: &Emulator) -> (u16, Value) {
        let host = emulator.addr().to_string();
        self.send_to(&host).await
    }

    /// Sends to `host` (a name and port that reach the emulator).
    pub async fn send_to(self, host: &str) -> (u16, Value) {
        let (status, _, body) = self.exchange(host).await.expect("sent");
        (status, body)
    }

    /// Sends to the emulator; `Err` when no answer came (a dropped
    /// connection).
    pub async fn try_send(self, emulator: &Emulator) -> Result<u16, reqwest::Error> {
        let answer = self.exchange(&emulator.addr().to_string()).await;
        answer.map(|(status, ..)| status)
    }

    /// Sends to the emulator; the answer's status, headers and JSON body.
    pub async fn send_full(self, emulator: &Emulator) -> (u16, reqwest::header::HeaderMap, Value) {
        self.exchange(&emulator.addr().to_string())
            .await
            .expect("sent")
    }

    async fn exchange(
        self,
        host: &str,
    ) -> Result<(u16, reqwest::header::HeaderMap, Value), reqwest::Error> {
        let url = format!("http://{host}{}", self.path_and_query);
        let signed_body = self
            .signed_body
            .clone()
            .unwrap_or_else(|| self.body.clone());
        let hash = STANDARD.encode(Sha256::digest(&signed_body));
        let date = httpdate::fmt_http_date(self.date);
        let to_sign = format!(
            "{}\n{}\n{};{};{}",
            self.method.as_str(),
            self.path_and_query,
            date,
            self.signed_host.as_deref().unwrap_or(host),
            hash
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&STANDARD.decode(&self.key).unwrap()).unwrap();
        mac.update(to_sign.as_bytes());
        let auth = match &self.bearer {
            Some(token) => format!("Bearer {token}"),
            None => format!(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={}",
                STANDARD.encode(mac.finalize().into_bytes())
            ),
        };
        let mut builder = reqwest::Client::new()
            .request(self.method.clone(), url)
            .body(self.body.clone());
        for (name, value) in [
            ("x-ms-date", date.as_str()),
            ("x-ms-content-sha256", hash.as_str()),
            ("authorization", auth.as_str()),
        ] {
            if !self.omit.contains(&name) {
                builder = builder.header(name, value);
            }
        }
        if !self.body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        let resp = tokio::time::timeout(Duration::from_secs(10), builder.send())
            .await
            .expect("answer in time")?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        Ok((
            status,
            headers,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).expect("JSON body")
            },
        ))
    }
}

pub async fn emulator() -> Emulator {
    Emulator::builder().access_key(KEY).start().await.unwrap()
}

pub fn q(path: &str, version: &str) -> String {
    format!("{path}?api-version={version}")
}

pub async fn create(e: &Emulator, body: Value, version: &str) -> (u16, Value) {
    Req::new(Method::POST, q("/identities", version))
        .json(body)
        .send(e)
        .await
}

pub fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

/// Writes `request` on a fresh connection and reads until the emulator
/// closes it or `limit` passes; returns what was read and whether the
/// connection was closed in time.
pub async fn raw(emulator: &Emulator, request: &[u8], limit: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(emulator.addr()).await.expect("connects");
    stream.write_all(request).await.expect("written");
    read_until_closed(&mut stream, limit).await
}

/// Reads until EOF (or a reset) or `limit`; returns the text and whether the
/// peer closed.
pub async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

/// The status of a raw HTTP/1.1 answer.
pub fn status_of(answer: &str) -> Option<u16> {
    answer.split(' ').nth(1)?.parse().ok()
}

/// The JSON body of a raw HTTP/1.1 answer (not chunked).
pub fn body_of(answer: &str) -> Value {
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// A unique directory under the temp dir.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
