//! The credential's behaviour on a paused clock.

use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::time::{Instant, sleep};

use super::builder::CommunicationTokenCredentialBuilder;
use super::*;
use std::sync::Mutex;

/// The wall-clock time at the start of every test (whole seconds).
pub(super) const ANCHOR: i64 = 1_900_000_000;

fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// A clock that follows Tokio's (paused) time from `ANCHOR`.
fn paused_clock() -> Clock {
    let start = Instant::now();
    Arc::new(move || (anchor() + TimeDelta::from_std(start.elapsed()).unwrap()).into())
}

fn anchor() -> DateTime<Utc> {
    DateTime::from_timestamp(ANCHOR, 0).unwrap()
}

pub(super) fn jwt_with_payload(payload: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode("signature")
    )
}

/// A JWT expiring `seconds` after the anchor.
pub(super) fn jwt_at(seconds: i64) -> String {
    jwt_with_payload(&format!(
        r#"{{"skypeid":"acs:test","scp":1792,"exp":{}}}"#,
        ANCHOR + seconds
    ))
}

/// A JWT expiring `lifetime` after `clock`'s now.
fn jwt_in(clock: &Clock, lifetime: Duration) -> String {
    let exp = utc(clock) + TimeDelta::from_std(lifetime).unwrap();
    jwt_with_payload(&format!(r#"{{"exp":{}}}"#, exp.timestamp()))
}

/// The seconds since the anchor at each refresher call.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<f64>>>);

impl Calls {
    fn record(&self, clock: &Clock) {
        let since = (utc(clock) - anchor()).num_milliseconds() as f64 / 1000.0;
        self.0.lock().unwrap().push(since);
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn times(&self) -> Vec<f64> {
        self.0.lock().unwrap().clone()
    }
}

/// A builder on the paused clock whose refresher records its calls and
/// returns `token(clock)`.
fn counting(
    clock: &Clock,
    calls: &Calls,
    token: impl Fn(&Clock) -> String + Send + Sync + 'static,
) -> CommunicationTokenCredentialBuilder {
    let (refresher_clock, calls) = (Arc::clone(clock), calls.clone());
    let mut builder = CommunicationTokenCredential::builder(move || {
        calls.record(&refresher_clock);
        let token = token(&refresher_clock);
        async move { Ok::<_, String>(token) }
    });
    builder.clock = Arc::clone(clock);
    builder
}

pub(super) fn invalid_token_of(err: &Error) -> Option<&InvalidToken> {
    StdError::source(err).and_then(|s| s.downcast_ref::<InvalidToken>())
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn a_static_token_is_returned_until_it_expires() {
    let clock = paused_clock();
    let token = jwt_at(3600);
    let credential =
        CommunicationTokenCredential::from_token_at(&token, Arc::clone(&clock)).unwrap();
    let got = credential.get_token().await.unwrap();
    assert_eq!(got.token(), token);
    assert_eq!(got.expires_on().timestamp(), ANCHOR + 3600);

    // Inside the refresh window it is still returned: there is nothing to refresh with.
    sleep(Duration::from_secs(3599)).await;
    assert_eq!(credential.get_token().await.unwrap().token(), token);

    sleep(Duration::from_secs(1)).await;
    let err = credential.get_token().await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(matches!(
        invalid_token_of(&err),
        Some(InvalidToken::Expired { .. })
    ));

    // An expired token is refused up front.
    let err = CommunicationTokenCredential::from_token_at(&jwt_at(3600), clock).unwrap_err();
    assert!(matches!(
        invalid_token_of(&err),
        Some(InvalidToken::Expired { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn get_token_refreshes_within_the_window_and_not_before() {
    let (clock, calls) = (paused_clock(), Calls::default());
    let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
        .initial_token(jwt_at(10 * 60))
        .build()
        .unwrap();
    assert_eq!(
        credential.get_token().await.unwrap().token(),
        jwt_at(10 * 60)
    );

    // 2 min 1 s before expiry: still cached.
    sleep(Duration::from_secs(8 * 60 - 1)).await;
    assert_eq!(
        credential.get_token().await.unwrap().token(),
        jwt_at(10 * 60)
    );
    assert_eq!(calls.count(), 0);

    // 1 min 59 s before expiry: refreshed first.
    sleep(Duration::from_secs(2)).await;
    let fresh = credential.get_token().await.unwrap();
    assert_eq!(calls.count(), 1);
    assert_eq!(
        fresh.expires_on().timestamp(),
        ANCHOR + 8 * 60 + 1 + 60 * 60
    );
    assert_eq!(credential.get_token().await.unwrap(), fresh);
    assert_eq!(calls.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_window_is_configurable_and_an_expired_initial_token_is_ignored() {
    let (clock, calls) = (paused_clock(), Calls::default());
    let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
        .initial_token(jwt_at(10 * 60))
        .refresh_window(minutes(15))
        .build()
        .unwrap();
    credential.get_token().await.unwrap();
    assert_eq!(calls.count(), 1);

    let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
        .initial_token(jwt_at(-1))
        .build()
        .unwrap();
    let token = credential.get_token().await.unwrap();
    assert_eq!(calls.count(), 2);
    assert_eq!(token.expires_on(), utc(&clock) + TimeDelta::minutes(60));
}

#[tokio::test(start_paused = true)]
async fn proactive_refresh_happens_ten_minutes_before_expiry_not_before() {
    let (clock, calls) = (paused_clock(), Calls::default());
    let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
        .initial_token(jwt_at(30 * 60))
        .refresh_proactively(true)
        .build()
        .unwrap();

    sleep(Duration::from_secs(20 * 60 - 1)).await;
    assert_eq!(calls.count(), 0, "refreshed before exp - 10 min");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(calls.times(), [20.0 * 60.0]);
    // Callers get the new token without waiting for a refresh.
    let token = credential.get_token().await.unwrap();
    assert_eq!(token.expires_on().timestamp(), ANCHOR + 80 * 60);
    assert_eq!(calls.count(), 1);

    // The next one is 10 minutes before the new token expires.
    sleep(Duration::from_secs(50 * 60 - 2)).await;
    assert_eq!(calls.count(), 1);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(calls.times(), [20.0 * 60.0, 70.0 * 60.0]);
}

#[tokio::test(start_paused = true)]
async fn the_same_soon_expiring_token_backs_off_by_half_its_lifetime() {
    // The refresher keeps returning the same token, 6 minutes from expiry
    // at the start (the MSAL cache case): no refresh storm.
    let (clock, calls) = (paused_clock(), Calls::default());
    let _credential = counting(&clock, &calls, |_| jwt_at(6 * 60))
        .initial_token(jwt_at(6 * 60))
        .refresh_proactively(true)
        .build()
        .unwrap();

    sleep(Duration::from_secs(3 * 60 - 1)).await;
    assert_eq!(calls.count(), 0);
    sleep(minutes(60)).await;
    let times = calls.times();
    assert_eq!(
        times[..3],
        [180.0, 270.0, 315.0],
        "after 3 min, then 1.5, then 0.75"
    );
    // Each wait is half the remaining lifetime, until the 1 s floor.
    for pair in times.windows(2) {
        let remaining = 360.0 - pair[0];
        let expected = (remaining / 2.0).max(1.0);
        assert!((pair[1] - pair[0] - expected).abs() < 0.01, "{times:?}");
    }
    // Then the token expires, the refresher's copy is refused, and the
    // task waits for a new token instead of looping.
    assert!(times.len() <= 12, "{times:?}");
    assert!(*times.last().unwrap() <= 361.0, "{times:?}");
}

#[tokio::test(start_paused = true)]
async fn fresh_short_lived_tokens_are_refreshed_at_half_life() {
    // Each new token lives 6 minutes, less than the 10-minute margin:
    // one refresh every 3 minutes, 20 in an hour.
    let (clock, calls) = (paused_clock(), Calls::default());
    let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(6)))
        .initial_token(jwt_at(6 * 60))
        .refresh_proactively(true)
        .build()
        .unwrap();
    sleep(minutes(60) + Duration::from_secs(30)).await;
    assert_eq!(calls.count(), 20, "{:?}", calls.times());
    for (i, at) in calls.times().into_iter().enumerate() {
        assert_eq!(at, 180.0 * (i + 1) as f64);
    }
    assert!(credential.get_token().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn one_refresh_for_100_concurrent_callers() {
    let clock = paused_clock();
    let calls = Arc::new(AtomicU32::new(0));
    let (counter, refresher_clock) = (Arc::clone(&calls), Arc::clone(&clock));
    let mut builder = CommunicationTokenCredential::builder(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let token = jwt_in(&refresher_clock, minutes(60 + u64::from(n)));
        async move {
            sleep(Duration::from_secs(5)).await;
            Ok::<_, std::io::Error>(token)
        }
    });
    builder.clock = Arc::clone(&clock);
    let credential = builder.build().unwrap();

    let callers: Vec<_> = (0..100)
        .map(|_| {
            let credential = credential.clone();
            tokio::spawn(async move { credential.get_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(credential.get_token().await.unwrap(), tokens[0]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[derive(Debug, thiserror::Error)]
#[error("token service unavailable")]
struct Unavailable;

#[tokio::test(start_paused = true)]
async fn a_refresher_error_reaches_every_waiter_and_a_later_call_retries() {
    let clock = paused_clock();
    let calls = Arc::new(AtomicU32::new(0));
    let (counter, refresher_clock) = (Arc::clone(&calls), Arc::clone(&clock));
    let mut builder = CommunicationTokenCredential::builder(move || {
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        let token = jwt_in(&refresher_clock, minutes(60));
        async move {
            sleep(Duration::from_secs(1)).await;
            if first { Err(Unavailable) } else { Ok(token) }
        }
    });
    builder.clock = Arc::clone(&clock);
    let credential = builder.build().unwrap();

    let results = futures_util::future::join_all((0..100).map(|_| credential.get_token())).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for result in results {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Credential { .. }));
        assert_eq!(
            err.to_string(),
            "credential failed: the token refresher failed: token service unavailable"
        );
        let source = StdError::source(&err).unwrap();
        assert_eq!(source.to_string(), "token service unavailable");
    }

    let token = credential.get_token().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        token.expires_on(),
        utc(&clock) - TimeDelta::seconds(1) + TimeDelta::minutes(60)
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_or_malformed_token_from_the_refresher_is_an_error() {
    let (clock, calls) = (paused_clock(), Calls::default());
    let credential = counting(&clock, &calls, |_| jwt_at(-1)).build().unwrap();
    let err = credential.get_token().await.unwrap_err();
    assert_eq!(
        invalid_token_of(&err),
        Some(&InvalidToken::Expired {
            expires_on: anchor() - TimeDelta::seconds(1)
        })
    );
    assert!(
        err.to_string()
            .contains("the token returned from the token refresher is expired"),
        "{err}"
    );
    // Expiring exactly now is expired too.
    let credential = counting(&clock, &calls, |c| jwt_in(c, Duration::ZERO))
        .build()
        .unwrap();
    assert!(credential.get_token().await.is_err());

    let credential = counting(&clock, &calls, |_| "a.b".into()).build().unwrap();
    let err = credential.get_token().await.unwrap_err();
    assert_eq!(
        invalid_token_of(&err),
        Some(&InvalidToken::NotAJwt { parts: 2 })
    );
    assert!(
        err.to_string().contains("returned an invalid token"),
        "{err}"
    );

    // A refresher may give the expiry itself, for tokens it cannot be read from.
    let mut builder = CommunicationTokenCredential::builder(|| async {
        Ok::<_, String>(AccessToken::new("opaque", anchor() + TimeDelta::hours(1)))
    });
    builder.clock = Arc::clone(&clock);
    assert_eq!(
        builder.build().unwrap().get_token().await.unwrap().token(),
        "opaque"
    );
    let mut builder = CommunicationTokenCredential::builder(|| async {
        Ok::<_, String>(AccessToken::new("opaque", anchor()))
    });
    builder.clock = clock;
    assert!(builder.build().unwrap().get_token().await.is_err());
}

#[tokio::test(start_paused = true)]
async fn the_same_soon_expiring_token_is_not_refreshed_on_every_call() {
    let (clock, calls) = (paused_clock(), Calls::default());
    let credential = counting(&clock, &calls, |_| jwt_at(90)).build().unwrap();
    assert_eq!(credential.get_token().await.unwrap().token(), jwt_at(90));
    assert_eq!(credential.get_token().await.unwrap().token(), jwt_at(90));
    assert_eq!(calls.count(), 1);
    // After half its remaining lifetime, the next call tries again.
    sleep(Duration::from_secs(44)).await;
    credential.get_token().await.unwrap();
    assert_eq!(calls.count(), 1);
    sleep(Duration::from_secs(1)).await;
    credential.get_token().await.unwrap();
    assert_eq!(calls.times(), [0.0, 45.0]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_clone_stops_the_background_task() {
    let (clock, calls) = (paused_clock(), Calls::default());
    let guard = Arc::new(());
    let held = Arc::clone(&guard);
    let credential = counting(&clock, &calls, move |c| {
        let _ = &held;
        jwt_in(c, minutes(11))
    })
    .initial_token(jwt_at(11 * 60))
    .refresh_proactively(true)
    .build()
    .unwrap();
    assert_eq!(alive_tasks(), 1);

    // A clone keeps the task alive.
    let clone = credential.clone();
    drop(credential);
    sleep(Duration::from_secs(61)).await;
    assert_eq!(calls.times(), [60.0]);

    drop(clone);
    sleep(minutes(60)).await;
    assert_eq!(
        calls.count(),
        1,
        "refreshed after the last clone was dropped"
    );
    assert_eq!(alive_tasks(), 0);
    assert_eq!(Arc::strong_count(&guard), 1, "the refresher is still held");
}

#[tokio::test(start_paused = true)]
async fn dropping_during_a_background_refresh_cancels_it() {
    let clock = paused_clock();
    let started = Arc::new(AtomicU32::new(0));
    let guard = Arc::new(());
    let (counter, held) = (Arc::clone(&started), Arc::clone(&guard));
    let mut builder = CommunicationTokenCredential::builder(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let held = Arc::clone(&held);
        async move {
            let _held = held;
            sleep(minutes(5)).await;
            Ok::<_, String>(jwt_at(3600))
        }
    });
    builder.clock = clock;
    // No initial token: the task fetches one at once.
    let credential = builder.refresh_proactively(true).build().unwrap();
    sleep(Duration::from_secs(1)).await;
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert_eq!(Arc::strong_count(&guard), 3, "refresher and its future");

    drop(credential);
    sleep(Duration::from_secs(1)).await;
    assert_eq!(alive_tasks(), 0);
    assert_eq!(Arc::strong_count(&guard), 1, "the refresh was not dropped");
}

#[tokio::test(start_paused = true)]
async fn dispose_stops_the_task_and_later_calls_fail() {
    let (clock, calls) = (paused_clock(), Calls::default());
    let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
        .initial_token(jwt_at(11 * 60))
        .refresh_proactively(true)
        .build()
        .unwrap();
    let clone = credential.clone();
    assert!(clone.get_token().await.is_ok());

    credential.dispose();
    sleep(minutes(60)).await;
    assert_eq!(calls.count(), 0, "refreshed after dispose");
    assert_eq!(alive_tasks(), 0);
    for c in [&credential, &clone] {
        let err = c.get_token().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "credential failed: the credential is disposed"
        );
    }
    assert_eq!(calls.count(), 0);
    credential.dispose(); // twice is fine

    let static_credential =
        CommunicationTokenCredential::from_token(&jwt_in(&system_clock(), minutes(60))).unwrap();
    static_credential.dispose();
    assert!(static_credential.get_token().await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_background_failure_is_retried_at_half_the_remaining_lifetime() {
    let clock = paused_clock();
    let calls = Calls::default();
    let (recorder, refresher_clock) = (calls.clone(), Arc::clone(&clock));
    let mut builder = CommunicationTokenCredential::builder(move || {
        recorder.record(&refresher_clock);
        async { Err::<String, _>("down") }
    });
    builder.clock = Arc::clone(&clock);
    let credential = builder
        .initial_token(jwt_at(20 * 60))
        .refresh_proactively(true)
        .build()
        .unwrap();
    sleep(minutes(15) + Duration::from_secs(1)).await;
    // At 10 min (exp - 10), then 5 min later (half of the 10 left).
    assert_eq!(calls.times(), [600.0, 900.0]);
    // The cached token is still returned: it is outside the window.
    assert_eq!(
        credential.get_token().await.unwrap().token(),
        jwt_at(20 * 60)
    );
}

#[test]
fn proactive_refresh_needs_a_runtime() {
    let err = CommunicationTokenCredential::builder(|| async { Ok::<_, String>(jwt_at(60)) })
        .refresh_proactively(true)
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidArgument {
            name: "refresh_proactively",
            ..
        }
    ));
}

#[test]
fn debug_hides_the_token_and_the_types_are_shareable() {
    fn check<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
    check::<CommunicationTokenCredential>();
    let token = jwt_in(&system_clock(), minutes(60));
    let credential = CommunicationTokenCredential::from_token(&token).unwrap();
    let debug = format!("{credential:?}");
    assert!(!debug.contains(&token[..20]), "{debug}");
    assert!(
        debug.contains("***") && debug.contains("expires_on"),
        "{debug}"
    );
    let builder = CommunicationTokenCredential::builder(|| async { Ok::<_, String>(jwt_at(60)) })
        .initial_token(&token);
    assert!(!format!("{builder:?}").contains(&token[..20]));
}
