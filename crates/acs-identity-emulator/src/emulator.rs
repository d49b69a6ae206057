//! [`Emulator`]: a running emulator, and what a test can ask it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use crate::builder::EmulatorBuilder;
use crate::error::EmulatorError;
use crate::faults::Faults;
use crate::inspect::{self, Assignments, IdentityRecord, RequestRecord};
use crate::state::Shared;
use crate::sync::lock;
use crate::tokens;

/// How many requests the emulator remembers for
/// [`Emulator::requests`], `/_emulator/requests` and the inspector page.
pub const REQUEST_LOG_CAPACITY: usize = 500;

/// A running emulator. Dropping it stops it (in the background); call
/// [`shutdown`](Self::shutdown) to wait until it has stopped.
pub struct Emulator {
    pub(crate) addr: SocketAddr,
    /// The host the endpoint names.
    pub(crate) url_host: String,
    pub(crate) scheme: &'static str,
    /// The TLS certificate as PEM, and its file.
    pub(crate) certificate: Option<(String, Option<PathBuf>)>,
    pub(crate) access_key: String,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("access_key", &"***")
            .finish_non_exhaustive()
    }
}

/// Counters of a running emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Requests received.
    pub requests: u64,
    /// Requests answered with 401 (any authentication or token check).
    pub unauthorized: u64,
    /// Faults injected.
    pub faults: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
}

impl Emulator {
    /// A builder with default options.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint, `http://127.0.0.1:PORT/` (`https://` with TLS, the
    /// `host` name when one was given).
    pub fn endpoint(&self) -> String {
        format!("{}://{}:{}/", self.scheme, self.url_host, self.addr.port())
    }

    /// The TLS certificate a client must trust (PEM), when serving https.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// assert_eq!(emulator.certificate_pem(), None); // plain http
    /// # Ok::<(), acs_identity_emulator::EmulatorError>(())
    /// # }).unwrap();
    /// ```
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate.as_ref().map(|(pem, _)| pem.as_str())
    }

    /// Where the TLS certificate is, when it is in a file.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// assert_eq!(emulator.certificate_path(), None);
    /// # Ok::<(), acs_identity_emulator::EmulatorError>(())
    /// # }).unwrap();
    /// ```
    pub fn certificate_path(&self) -> Option<&std::path::Path> {
        self.certificate
            .as_ref()
            .and_then(|(_, path)| path.as_deref())
    }

    /// The access key (base64).
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// `endpoint=http://127.0.0.1:PORT/;accesskey=KEY`.
    pub fn connection_string(&self) -> String {
        format!("endpoint={};accesskey={}", self.endpoint(), self.access_key)
    }

    /// A bearer token for the management operations that this emulator
    /// accepts in place of the access key: HS256-signed with its Entra
    /// signing secret (random per start), `aud`
    /// `https://communication.azure.com`, valid for an hour. The same as
    /// [`entra_token`](Self::entra_token) with no claims.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// let created = reqwest::Client::new()
    ///     .post(format!("{}identities?api-version=2025-06-30", emulator.endpoint()))
    ///     .bearer_auth(emulator.management_token())
    ///     .send()
    ///     .await?;
    /// assert_eq!(created.status(), 201);
    /// # Ok(())
    /// # }
    /// ```
    pub fn management_token(&self) -> String {
        self.entra_token(serde_json::Value::Null)
    }

    /// An Entra-like JWT signed (HS256) with this emulator's Entra signing
    /// secret. `claims` (a JSON object) overlays the defaults: `aud`
    /// `https://communication.azure.com`, `iss`, `tid`, `oid`, `iat` and
    /// `nbf` now, `exp` an hour on; a claim set to `null` is left out. Use
    /// it to test what management calls do with other audiences or expired
    /// tokens (see [`MANAGEMENT_AUDIENCES`](crate::MANAGEMENT_AUDIENCES)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use serde_json::json;
    ///
    /// let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// let expired = emulator.entra_token(json!({"exp": chrono::Utc::now().timestamp() - 60}));
    /// let answer = reqwest::Client::new()
    ///     .post(format!("{}identities?api-version=2025-06-30", emulator.endpoint()))
    ///     .bearer_auth(expired)
    ///     .send()
    ///     .await?;
    /// assert_eq!(answer.status(), 401);
    /// # Ok(())
    /// # }
    /// ```
    pub fn entra_token(&self, claims: serde_json::Value) -> String {
        self.shared
            .entra
            .mint(claims, chrono::Utc::now().timestamp())
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Sets the members of an Entra group (group membership cannot be known
    /// locally; group assignments use this list).
    ///
    /// # Panics
    ///
    /// When the data file cannot be written.
    pub fn set_group_members(
        &self,
        group_id: &str,
        members: impl IntoIterator<Item = impl Into<String>>,
    ) {
        self.shared
            .store
            .set_group_members(group_id, members.into_iter().map(Into::into).collect())
            .expect("storing group members");
    }

    /// Entra assignments per page from now on.
    pub fn set_page_size(&self, size: usize) {
        self.shared.page_size.store(size.max(1), Ordering::Relaxed);
    }

    /// Every identity, by id, with its last token and revocation times.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use acs_identity_emulator::Emulator;
    ///
    /// let emulator = Emulator::builder().start().await?;
    /// // After `create_user` through a client, the identity is listed here.
    /// assert!(emulator.identities().is_empty());
    /// # Ok::<(), acs_identity_emulator::EmulatorError>(())
    /// # }).unwrap();
    /// ```
    pub fn identities(&self) -> Vec<IdentityRecord> {
        inspect::identities(&self.shared.store)
    }

    /// Every Teams Phone extension and Entra assignment, and the group
    /// memberships set with [`set_group_members`](Self::set_group_members).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use acs_identity_emulator::Emulator;
    ///
    /// let emulator = Emulator::builder().start().await?;
    /// emulator.set_group_members("group", ["alice", "bob"]);
    /// assert_eq!(emulator.assignments().groups["group"], ["alice", "bob"]);
    /// # Ok::<(), acs_identity_emulator::EmulatorError>(())
    /// # }).unwrap();
    /// ```
    pub fn assignments(&self) -> Assignments {
        inspect::assignments(&self.shared.store)
    }

    /// Deletes every identity, assignment and group membership (also from
    /// the data file). The endpoint, key and fault settings stay.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use acs_identity_emulator::Emulator;
    ///
    /// let emulator = Emulator::builder().start().await?;
    /// emulator.set_group_members("group", ["alice"]);
    /// emulator.reset()?;
    /// assert!(emulator.assignments().groups.is_empty());
    /// # Ok::<(), acs_identity_emulator::EmulatorError>(())
    /// # }).unwrap();
    /// ```
    pub fn reset(&self) -> Result<(), EmulatorError> {
        self.shared
            .store
            .reset()
            .map_err(|e| EmulatorError::Storage {
                message: e.to_string(),
            })
    }

    /// The last requests (at most [`REQUEST_LOG_CAPACITY`]), oldest first,
    /// with the reason of each refusal. `GET /_emulator/…` calls are not
    /// kept.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use acs_identity_emulator::Emulator;
    ///
    /// let emulator = Emulator::builder().start().await?;
    /// let url = format!("{}identities?api-version=2025-06-30", emulator.endpoint());
    /// reqwest::Client::new().post(url).send().await.unwrap();
    /// let refused = &emulator.requests()[0];
    /// assert_eq!(refused.status, Some(401));
    /// assert!(refused.refusal.is_some());
    /// # Ok::<(), acs_identity_emulator::EmulatorError>(())
    /// # }).unwrap();
    /// ```
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.recent(0, REQUEST_LOG_CAPACITY)
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.shared.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: load(&s.requests),
            unauthorized: load(&s.unauthorized),
            faults: load(&s.faults),
            tokens_issued: load(&s.tokens_issued),
        }
    }

    /// Whether a token the emulator issued is valid now (not expired, not
    /// revoked, user not deleted).
    pub fn is_token_valid(&self, token: &str) -> bool {
        tokens::validate(&self.shared, token)["valid"] == true
    }

    /// Stops accepting, lets requests in flight finish (up to 5 s), and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
