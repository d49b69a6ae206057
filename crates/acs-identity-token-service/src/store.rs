//! The identity mapping's store (stable api-version): app user → ACS
//! identity, in SQLite (one instance) or PostgreSQL (several instances).
//!
//! One table, `acs_identity_map (app_user PRIMARY KEY, acs_id, claimed_at)`.
//! A user's first request *claims* the row (an insert that the primary key
//! lets exactly one instance win), creates the ACS identity and fills in
//! `acs_id`; requests that lose the race wait for the id to appear (bounded)
//! instead of creating a second identity. A claim left unfilled for
//! [`StoreOptions::stale_claim`] (its instance died mid-creation) may be
//! taken over ([`Claim::TakenOver`]); the identity the dead instance may
//! have made is then orphaned, at most one per claim taken over.
//!
//! PostgreSQL is reached over TLS as the URL's `sslmode` says (`prefer` by
//! default; `?sslmode=require` for a managed database such as Azure
//! Database for PostgreSQL), the certificate checked against the
//! platform's roots, through a pool of connections ([`StoreOptions`]).
//! Every operation is bounded; a connection whose operation failed or ran
//! out of time is closed rather than given back, so a dead or silent one
//! is replaced while the others serve.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a PostgreSQL operation may take before it fails.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a PostgreSQL store is run (SQLite takes none of it).
///
/// The default pool holds up to 8 connections: an operation is one to
/// three short statements, so 8 carry many concurrent requests, while
/// several instances together (8 each) stay well within the connection
/// limit of a small managed server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections kept to PostgreSQL, at most (at least 1). Made when
    /// needed; an operation waits for one when all are busy.
    pub pool_size: usize,
    /// How long one operation may take, connecting and waiting for a
    /// connection included, before it fails.
    pub query_timeout: Duration,
    /// A claim older than this, still without an identity, is taken to be
    /// dead (its instance crashed or was cut off) and may be taken over.
    /// The service sets it a little past its request deadline, which
    /// bounds how long a live creation holds its claim.
    pub stale_claim: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            query_timeout: QUERY_TIMEOUT,
            stale_claim: STALE_CLAIM,
        }
    }
}

/// The default [`StoreOptions::stale_claim`]: the service's default request
/// deadline (10 s) and 5 s more.
pub const STALE_CLAIM: Duration = Duration::from_secs(15);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS acs_identity_map (
    app_user TEXT PRIMARY KEY,
    acs_id TEXT,
    claimed_at BIGINT NOT NULL
)";

/// The store failed.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(String);

/// What [`Store::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The user is mapped to this ACS identity.
    Mapped(String),
    /// This caller holds the claim: create the identity, then
    /// [`Store::complete`] (or [`Store::release`] if that fails).
    Won,
    /// As [`Claim::Won`], by taking over a claim left stale: its creator
    /// died or was cut off, and may have made an ACS identity that nothing
    /// maps to (the stable API offers no way to find it again).
    TakenOver,
    /// Another request is creating the identity: ask again shortly.
    Pending,
}

/// The mapping store.
#[derive(Clone)]
pub enum Store {
    /// One SQLite file (one instance).
    Sqlite(Arc<Sqlite>),
    /// PostgreSQL, shared by instances.
    Postgres(Arc<Postgres>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Store::Sqlite(_) => "Store::Sqlite",
            Store::Postgres(_) => "Store::Postgres",
        })
    }
}

/// SQLite: one connection (WAL, a busy timeout).
pub struct Sqlite {
    connection: Mutex<rusqlite::Connection>,
    stale_claim: Duration,
}

/// PostgreSQL: a pool of connections, each operation bounded.
pub struct Postgres {
    pool: deadpool_postgres::Pool,
    query_timeout: Duration,
    stale_claim: Duration,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Claims made before this time (milliseconds) are stale.
fn stale_before(stale_claim: Duration) -> i64 {
    now_ms().saturating_sub(i64::try_from(stale_claim.as_millis()).unwrap_or(i64::MAX))
}

fn pg(e: tokio_postgres::Error) -> StoreError {
    // The message names the failure, never the URL (it may hold a password).
    StoreError(match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {}", db.message()),
        None => format!("PostgreSQL: {e}"),
    })
}

fn sqlite(e: rusqlite::Error) -> StoreError {
    StoreError(format!("SQLite: {e}"))
}

impl Store {
    /// Opens `sqlite:PATH` or a `postgres://` URL with the default
    /// [`StoreOptions`] and creates the table if needed.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or reached.
    pub async fn open(location: &str) -> Result<Self, StoreError> {
        Self::open_with(location, &StoreOptions::default()).await
    }

    /// Opens `sqlite:PATH` or a `postgres://` URL and creates the table if
    /// needed; `options` apply to PostgreSQL.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or reached.
    pub async fn open_with(location: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        if let Some(path) = location.strip_prefix("sqlite:") {
            let path = path.to_string();
            let connection = tokio::task::spawn_blocking(move || {
                let c = rusqlite::Connection::open(&path).map_err(sqlite)?;
                c.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
                c.pragma_update(None, "journal_mode", "WAL")
                    .map_err(sqlite)?;
                c.execute(CREATE_TABLE, []).map_err(sqlite)?;
                Ok::<_, StoreError>(c)
            })
            .await
            .map_err(|e| StoreError(e.to_string()))??;
            return Ok(Store::Sqlite(Arc::new(Sqlite {
                connection: Mutex::new(connection),
                stale_claim: options.stale_claim,
            })));
        }
        let postgres = Postgres::new(location, options)?;
        postgres
            .run(async |c| {
                // Instances starting together may race on creating the
                // table; a second try sees it.
                if c.batch_execute(CREATE_TABLE).await.is_err() {
                    c.batch_execute(CREATE_TABLE).await.map_err(pg)?;
                }
                Ok(())
            })
            .await?;
        Ok(Store::Postgres(Arc::new(postgres)))
    }

    /// The user's identity, or the claim to create it.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn claim(&self, user: &str) -> Result<Claim, StoreError> {
        match self {
            Store::Sqlite(s) => {
                let (s, user) = (Arc::clone(s), user.to_string());
                blocking(move || {
                    let c = s.connection.lock().unwrap_or_else(|e| e.into_inner());
                    let inserted = c
                        .execute(
                            "INSERT INTO acs_identity_map (app_user, acs_id, claimed_at)
                             VALUES (?1, NULL, ?2) ON CONFLICT (app_user) DO NOTHING",
                            rusqlite::params![user, now_ms()],
                        )
                        .map_err(sqlite)?;
                    if inserted == 1 {
                        return Ok(Claim::Won);
                    }
                    let id: Option<String> = c
                        .query_row(
                            "SELECT acs_id FROM acs_identity_map WHERE app_user = ?1",
                            [&user],
                            |row| row.get(0),
                        )
                        .map_err(sqlite)?;
                    if let Some(id) = id {
                        return Ok(Claim::Mapped(id));
                    }
                    let taken = c
                        .execute(
                            "UPDATE acs_identity_map SET claimed_at = ?2
                             WHERE app_user = ?1 AND acs_id IS NULL AND claimed_at < ?3",
                            rusqlite::params![user, now_ms(), stale_before(s.stale_claim)],
                        )
                        .map_err(sqlite)?;
                    Ok(if taken == 1 {
                        Claim::TakenOver
                    } else {
                        Claim::Pending
                    })
                })
                .await
            }
            Store::Postgres(p) => {
                p.run(async |c| {
                    let inserted = c
                        .execute(
                            "INSERT INTO acs_identity_map (app_user, acs_id, claimed_at)
                         VALUES ($1, NULL, $2) ON CONFLICT (app_user) DO NOTHING",
                            &[&user, &now_ms()],
                        )
                        .await
                        .map_err(pg)?;
                    if inserted == 1 {
                        return Ok(Claim::Won);
                    }
                    let row = c
                        .query_opt(
                            "SELECT acs_id FROM acs_identity_map WHERE app_user = $1",
                            &[&user],
                        )
                        .await
                        .map_err(pg)?;
                    if let Some(id) = row.and_then(|r| r.get::<_, Option<String>>(0)) {
                        return Ok(Claim::Mapped(id));
                    }
                    let taken = c
                        .execute(
                            "UPDATE acs_identity_map SET claimed_at = $2
                         WHERE app_user = $1 AND acs_id IS NULL AND claimed_at < $3",
                            &[&user, &now_ms(), &stale_before(p.stale_claim)],
                        )
                        .await
                        .map_err(pg)?;
                    Ok(if taken == 1 {
                        Claim::TakenOver
                    } else {
                        Claim::Pending
                    })
                })
                .await
            }
        }
    }

    /// The user's identity, if mapped (no claim).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn lookup(&self, user: &str) -> Result<Option<String>, StoreError> {
        const SELECT_SQLITE: &str = "SELECT acs_id FROM acs_identity_map WHERE app_user = ?1";
        match self {
            Store::Sqlite(c) => {
                let (c, user) = (Arc::clone(c), user.to_string());
                blocking(move || {
                    let c = c.connection.lock().unwrap_or_else(|e| e.into_inner());
                    match c.query_row(SELECT_SQLITE, [&user], |row| row.get(0)) {
                        Ok(id) => Ok(id),
                        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
                        Err(e) => Err(sqlite(e)),
                    }
                })
                .await
            }
            Store::Postgres(p) => {
                p.run(async |c| {
                    Ok(c.query_opt(
                        "SELECT acs_id FROM acs_identity_map WHERE app_user = $1",
                        &[&user],
                    )
                    .await
                    .map_err(pg)?
                    .and_then(|r| r.get(0)))
                })
                .await
            }
        }
    }

    /// Fills in the identity of a won claim. `false` when the claim was
    /// taken over meanwhile (the caller then uses what the store holds).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn complete(&self, user: &str, acs_id: &str) -> Result<bool, StoreError> {
        self.write(
            "UPDATE acs_identity_map SET acs_id = ?2 WHERE app_user = ?1 AND acs_id IS NULL",
            "UPDATE acs_identity_map SET acs_id = $2 WHERE app_user = $1 AND acs_id IS NULL",
            &[user, acs_id],
        )
        .await
        .map(|n| n == 1)
    }

    /// Gives up a won claim (the creation failed), so the next request
    /// tries again at once.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn release(&self, user: &str) -> Result<(), StoreError> {
        self.write(
            "DELETE FROM acs_identity_map WHERE app_user = ?1 AND acs_id IS NULL",
            "DELETE FROM acs_identity_map WHERE app_user = $1 AND acs_id IS NULL",
            &[user],
        )
        .await
        .map(|_| ())
    }

    /// Drops the mapping to `acs_id` (the identity was deleted in ACS).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn forget(&self, user: &str, acs_id: &str) -> Result<(), StoreError> {
        self.write(
            "DELETE FROM acs_identity_map WHERE app_user = ?1 AND acs_id = ?2",
            "DELETE FROM acs_identity_map WHERE app_user = $1 AND acs_id = $2",
            &[user, acs_id],
        )
        .await
        .map(|_| ())
    }

    /// Drops the user's mapping, whatever it holds (an erasure request).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn erase(&self, user: &str) -> Result<(), StoreError> {
        self.write(
            "DELETE FROM acs_identity_map WHERE app_user = ?1",
            "DELETE FROM acs_identity_map WHERE app_user = $1",
            &[user],
        )
        .await
        .map(|_| ())
    }

    /// Whether the store answers (for `/readyz`).
    ///
    /// # Errors
    ///
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(c) => {
                let c = Arc::clone(c);
                blocking(move || {
                    let c = c.connection.lock().unwrap_or_else(|e| e.into_inner());
                    c.query_row("SELECT COUNT(*) FROM acs_identity_map", [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .map(|_| ())
                    .map_err(sqlite)
                })
                .await
            }
            Store::Postgres(p) => {
                p.run(async |c| c.simple_query("SELECT 1").await.map(|_| ()).map_err(pg))
                    .await
            }
        }
    }

    /// One statement with text parameters; the rows it changed.
    async fn write(
        &self,
        sqlite_sql: &'static str,
        pg_sql: &'static str,
        params: &[&str],
    ) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(c) => {
                let c = Arc::clone(c);
                let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
                blocking(move || {
                    let c = c.connection.lock().unwrap_or_else(|e| e.into_inner());
                    c.execute(sqlite_sql, rusqlite::params_from_iter(params))
                        .map(|n| n as u64)
                        .map_err(sqlite)
                })
                .await
            }
            Store::Postgres(p) => {
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                p.run(async |c| c.execute(pg_sql, &params).await.map_err(pg))
                    .await
            }
        }
    }
}

impl Postgres {
    /// The pool (no connection yet). Connections are checked only for
    /// having closed when taken from the pool: one that fails is dropped by
    /// [`Postgres::run`] instead.
    fn new(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
        if options.pool_size == 0 {
            return Err(StoreError(
                "PostgreSQL: the pool needs at least one connection".into(),
            ));
        }
        let config: tokio_postgres::Config = url.parse().map_err(pg)?;
        let manager = Manager::from_config(
            config,
            tls()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .build()
            .map_err(|e| StoreError(format!("PostgreSQL pool: {e}")))?;
        Ok(Self {
            pool,
            query_timeout: options.query_timeout,
            stale_claim: options.stale_claim,
        })
    }

    /// Runs `operation` on a pooled connection, all of it (waiting for a
    /// connection and making one included) bounded by the query timeout.
    /// The connection goes back to the pool only when `operation`
    /// succeeded: after an error or the timeout it is closed, and the pool
    /// makes another when needed.
    async fn run<T>(
        &self,
        operation: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        bounded(self.query_timeout, async {
            let lease = Lease(Some(self.pool.get().await.map_err(pool_error)?));
            let result = operation(&lease).await;
            if result.is_ok() {
                lease.give_back();
            }
            result
        })
        .await
    }
}

/// A pooled connection that is closed when dropped, unless given back to
/// the pool with [`Lease::give_back`] (its operation completed). An
/// operation cut short by the timeout drops it too.
struct Lease(Option<deadpool_postgres::Object>);

impl Lease {
    /// Back into the pool, for the next operation.
    fn give_back(mut self) {
        drop(self.0.take());
    }
}

impl std::ops::Deref for Lease {
    type Target = tokio_postgres::Client;

    fn deref(&self) -> &tokio_postgres::Client {
        self.0.as_ref().expect("held until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            // Out of the pool for good; dropping it ends its connection.
            drop(deadpool_postgres::Object::take(object));
            tracing::debug!("PostgreSQL connection closed after a failed operation");
        }
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg(e),
        other => StoreError(format!("PostgreSQL pool: {other}")),
    }
}

/// TLS for PostgreSQL: rustls with aws-lc-rs, the server's certificate
/// verified against the platform's roots.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| StoreError(format!("PostgreSQL TLS: {e}")))?
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A PostgreSQL operation (connection included) that ends with an error
/// after `limit` instead of waiting on a silent server.
async fn bounded<T>(
    limit: Duration,
    operation: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, operation)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError(format!(
                "PostgreSQL: no answer within {}",
                seconds(limit)
            )))
        })
}

/// `10 s`, `1.5 s`: a bound as the messages give it.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_claim_wins_a_stale_one_is_taken_over_and_a_failed_one_released() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        assert_eq!(store.claim("alice").await.unwrap(), Claim::Won);
        assert_eq!(store.claim("alice").await.unwrap(), Claim::Pending);
        assert_eq!(store.lookup("alice").await.unwrap(), None);
        // The claimer died long ago.
        let Store::Sqlite(c) = &store else {
            unreachable!()
        };
        c.connection
            .lock()
            .unwrap()
            .execute("UPDATE acs_identity_map SET claimed_at = 0", [])
            .unwrap();
        assert_eq!(store.claim("alice").await.unwrap(), Claim::TakenOver);
        assert_eq!(store.claim("alice").await.unwrap(), Claim::Pending);
        assert!(store.complete("alice", "8:acs:one").await.unwrap());
        assert!(
            !store.complete("alice", "8:acs:two").await.unwrap(),
            "filled once"
        );
        assert_eq!(
            store.claim("alice").await.unwrap(),
            Claim::Mapped("8:acs:one".into())
        );
        // A failed creation gives the claim back at once.
        assert_eq!(store.claim("bob").await.unwrap(), Claim::Won);
        store.release("bob").await.unwrap();
        assert_eq!(store.claim("bob").await.unwrap(), Claim::Won);
        // A mapping to a deleted identity is dropped.
        store.forget("alice", "8:acs:one").await.unwrap();
        assert_eq!(store.lookup("alice").await.unwrap(), None);
        store.ping().await.unwrap();
    }

    /// A server that accepts and then says nothing: opening the store fails
    /// within the bound instead of waiting for ever.
    #[tokio::test]
    async fn a_silent_postgres_server_fails_within_the_bound() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "postgres://x@{}/db?sslmode=disable",
            silent.local_addr().unwrap()
        );
        let held = tokio::spawn(async move {
            let (socket, _) = silent.accept().await.unwrap();
            // Hold the connection open, silent, until the test ends.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(socket);
        });
        let options = StoreOptions {
            query_timeout: Duration::from_secs(1),
            ..StoreOptions::default()
        };
        let started = std::time::Instant::now();
        let error = Store::open_with(&url, &options)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("within 1 s"), "{error}");
        assert!(!error.contains("postgres://"), "no URL: {error}");
        assert!(started.elapsed() < options.query_timeout + Duration::from_secs(5));
        held.abort();
    }

    #[tokio::test]
    async fn the_default_options_and_an_empty_pool_refused() {
        let options = StoreOptions::default();
        assert_eq!(
            (options.pool_size, options.query_timeout),
            (8, QUERY_TIMEOUT)
        );
        let empty = StoreOptions {
            pool_size: 0,
            ..options
        };
        // Refused before connecting (nothing listens on port 1).
        let error = Store::open_with("postgres://x:secret@127.0.0.1:1/db", &empty)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least one connection"), "{error}");
        assert!(!error.contains("secret"), "no URL: {error}");
    }
}
