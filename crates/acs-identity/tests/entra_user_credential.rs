//! The Entra-user credential against the emulator: the user's Entra ID token
//! exchanged for a Communication Services token, cached, refreshed on demand
//! and in the background, and its failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use acs_identity::preview::CommunicationIdentityClient;
use acs_identity::{
    CommunicationTokenCredential, CommunicationTokenCredentialBuilder, EntraAssignmentSpec,
    EntraPrincipalType, Error,
};
use acs_identity_emulator::Emulator;
use serde_json::json;
use tokio::sync::mpsc;

const TENANT: &str = "tenant-id";
const OBJECT: &str = "user-oid";
const APP: &str = "app-id";

/// The longest any test waits for the credential.
const LIMIT: Duration = Duration::from_secs(20);

async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("finished in time")
}

/// The emulator and a preview client; `assigned` adds the assignment that
/// lets the user's application exchange.
async fn setup(assigned: bool) -> (Arc<Emulator>, CommunicationIdentityClient) {
    let emulator = Emulator::builder().start().await.expect("emulator starts");
    let client = CommunicationIdentityClient::from_connection_string(&emulator.connection_string())
        .expect("a client");
    if assigned {
        let spec = EntraAssignmentSpec::new(TENANT, EntraPrincipalType::User, [APP]);
        bounded(client.upsert_entra_assignment(OBJECT, spec))
            .await
            .expect("assignment stored");
    }
    (Arc::new(emulator), client)
}

/// The user's Entra ID token, expiring `lifetime` from now.
fn entra_token(emulator: &Emulator, lifetime: Duration) -> String {
    let exp = chrono::Utc::now().timestamp() + i64::try_from(lifetime.as_secs()).unwrap();
    emulator.entra_token(json!({"oid": OBJECT, "tid": TENANT, "appid": APP, "exp": exp}))
}

/// The payload of a JWT: the part that differs between tokens.
fn claims_of(token: &str) -> &str {
    token.split('.').nth(1).expect("a JWT")
}

/// The source's calls so far, and each call's number as it happens.
struct Calls {
    count: Arc<AtomicUsize>,
    each: mpsc::UnboundedReceiver<usize>,
}

impl Calls {
    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until the source has been called `n` times.
    async fn reach(&mut self, n: usize) {
        while self.count() < n {
            bounded(self.each.recv())
                .await
                .expect("the source is alive");
        }
    }
}

/// An Entra-user credential whose source mints a user token of `lifetime`
/// on each call.
fn credential(
    emulator: &Arc<Emulator>,
    client: CommunicationIdentityClient,
    lifetime: Duration,
) -> (CommunicationTokenCredentialBuilder, Calls) {
    let count = Arc::new(AtomicUsize::new(0));
    let (tx, each) = mpsc::unbounded_channel();
    let (counter, emulator) = (Arc::clone(&count), Arc::clone(emulator));
    let builder = CommunicationTokenCredential::entra_user(client, move || {
        let token = entra_token(&emulator, lifetime);
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = tx.send(n);
        async move { Ok::<_, std::io::Error>(token) }
    });
    (builder, Calls { count, each })
}

#[tokio::test]
async fn exchanges_the_users_entra_token_once_and_caches_the_result() {
    let (emulator, client) = setup(true).await;
    let (builder, calls) = credential(&emulator, client, Duration::from_secs(3600));
    let credential = builder.build().unwrap();

    let first = bounded(credential.get_token()).await.unwrap();
    assert!(emulator.is_token_valid(first.token()));
    let left = first.expires_on() - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(55), "{left}");
    let second = bounded(credential.get_token()).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(calls.count(), 1);
}

#[tokio::test]
async fn a_token_inside_the_refresh_window_is_exchanged_again_on_demand() {
    let (emulator, client) = setup(true).await;
    // The sign-in's token: an exchange of an Entra token that ends in a
    // minute, inside the default two-minute window.
    let initial =
        bounded(client.exchange_entra_token(&entra_token(&emulator, Duration::from_secs(60))))
            .await
            .unwrap()
            .access_token;
    let (builder, calls) = credential(&emulator, client, Duration::from_secs(3600));
    let credential = builder.initial_token(initial.token()).build().unwrap();

    let fresh = bounded(credential.get_token()).await.unwrap();
    assert_ne!(fresh.token(), initial.token());
    assert!(fresh.expires_on() > initial.expires_on());
    assert!(emulator.is_token_valid(fresh.token()));
    assert_eq!(calls.count(), 1);
    assert_eq!(bounded(credential.get_token()).await.unwrap(), fresh);
    assert_eq!(calls.count(), 1);
}

#[tokio::test]
async fn proactive_refresh_exchanges_again_before_a_short_lived_token_expires() {
    let (emulator, client) = setup(true).await;
    // Entra tokens of four seconds: the exchanged token lives as long, so
    // the background task refreshes at half its remaining lifetime.
    let (builder, mut calls) = credential(&emulator, client, Duration::from_secs(4));
    let credential = builder.refresh_proactively(true).build().unwrap();

    // The task's first refresh and this call share one exchange.
    let first = bounded(credential.get_token()).await.unwrap();
    assert_eq!(calls.count(), 1);
    assert!(emulator.is_token_valid(first.token()));

    calls.reach(2).await;
    assert!(
        chrono::Utc::now() < first.expires_on(),
        "refreshed before the first token expired"
    );
}

#[tokio::test]
async fn a_failing_source_and_a_refused_exchange_are_credential_errors() {
    let (emulator, client) = setup(false).await;

    let failing = CommunicationTokenCredential::entra_user(client.clone(), || async {
        Err::<String, _>(std::io::Error::other("no user is signed in"))
    })
    .build()
    .unwrap();
    let err = bounded(failing.get_token()).await.unwrap_err();
    assert!(matches!(err, Error::Credential { .. }), "{err:?}");
    assert!(err.to_string().contains("no user is signed in"), "{err}");

    // No assignment lets the user in: the service's 403 is the cause.
    let (builder, calls) = credential(&emulator, client, Duration::from_secs(3600));
    let refused = builder.build().unwrap();
    let err = bounded(refused.get_token()).await.unwrap_err();
    assert!(matches!(err, Error::Credential { .. }), "{err:?}");
    assert!(err.to_string().contains("403"), "{err}");
    assert_eq!(calls.count(), 1);
    // The next call tries again.
    assert!(bounded(refused.get_token()).await.is_err());
    assert_eq!(calls.count(), 2);
}

#[tokio::test]
async fn debug_and_errors_never_show_the_entra_or_the_acs_token() {
    let (emulator, client) = setup(true).await;
    let users_token = entra_token(&emulator, Duration::from_secs(3600));
    let source_token = users_token.clone();
    let credential = CommunicationTokenCredential::entra_user(client, move || {
        let token = source_token.clone();
        async move { Ok::<_, std::io::Error>(token) }
    })
    .build()
    .unwrap();
    let token = bounded(credential.get_token()).await.unwrap();
    let debug = format!("{credential:?}");
    assert!(!debug.contains(claims_of(&users_token)), "{debug}");
    assert!(!debug.contains(claims_of(token.token())), "{debug}");

    // An expired Entra token: refused by the exchange, not echoed.
    let (_, client) = setup(true).await;
    let expired = emulator.entra_token(json!({"oid": OBJECT, "tid": TENANT, "appid": APP, "exp": chrono::Utc::now().timestamp() - 60}));
    let shown = expired.clone();
    let refused = CommunicationTokenCredential::entra_user(client, move || {
        let token = shown.clone();
        async move { Ok::<_, std::io::Error>(token) }
    })
    .build()
    .unwrap();
    let err = bounded(refused.get_token()).await.unwrap_err();
    assert!(
        !format!("{err} {err:?}").contains(claims_of(&expired)),
        "{err:?}"
    );
}
