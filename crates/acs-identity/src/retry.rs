//! When to try a request again, and how long to wait first.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// Statuses worth another try: timeout, throttling and server errors.
///
/// # Examples
///
/// ```
/// use acs_identity::RETRY_STATUSES;
///
/// assert!(RETRY_STATUSES.contains(&429));
/// assert!(!RETRY_STATUSES.contains(&404));
/// ```
pub const RETRY_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// Retry settings. The defaults are those of .NET's Azure.Core (used by the
/// official .NET identity SDK): 3 retries, exponential backoff from 0.8 s
/// with jitter, at most 60 s between tries. azure_core for Rust defaults to
/// 8 retries from 200 ms, at most 30 s apart.
///
/// A wait the service asks for (`Retry-After`, `retry-after-ms`,
/// `x-ms-retry-after-ms`) is honoured up to [`max_delay`](Self::max_delay):
/// when the service asks for a longer one, or for one that would pass the
/// call's deadline, the client does not wait and returns the service's
/// answer at once.
///
/// # Examples
///
/// ```
/// use acs_identity::RetryOptions;
/// use std::time::Duration;
///
/// let retry = RetryOptions::default().max_retries(5).initial_delay(Duration::from_millis(200));
/// assert_eq!(retry.get_max_retries(), 5);
/// let none = RetryOptions::none();
/// assert_eq!(none.get_max_retries(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOptions {
    max_retries: u32,
    initial_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryOptions {
    /// No retries at all.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # emulator.set_faults("create_identity:503x1".parse()?);
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, RetryOptions};
    ///
    /// // The next create gets 503 Service Unavailable; without retries, so does the call.
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(AccessKey::new(emulator.access_key())?)
    ///     .retry(RetryOptions::none())
    ///     .build()?;
    /// assert_eq!(client.create_user().await.unwrap_err().status(), Some(503));
    /// # Ok(())
    /// # }
    /// ```
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// How many times a call is tried again after the first try.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # emulator.set_faults("create_identity:503x2".parse()?);
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, RetryOptions};
    /// use std::time::Duration;
    ///
    /// // The next two creates get 503 Service Unavailable; the third try succeeds.
    /// let retry = RetryOptions::default().max_retries(2).initial_delay(Duration::from_millis(10));
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(AccessKey::new(emulator.access_key())?)
    ///     .retry(retry)
    ///     .build()?;
    /// assert!(client.create_user().await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The wait before the first retry (doubled for each later one).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::RetryOptions;
    /// use std::time::Duration;
    ///
    /// // Waits of about 0.2 s, 0.4 s, 0.8 s (± 20 %).
    /// let retry = RetryOptions::default().initial_delay(Duration::from_millis(200));
    /// assert_ne!(retry, RetryOptions::default());
    /// ```
    pub fn initial_delay(mut self, d: Duration) -> Self {
        self.initial_delay = d;
        self
    }

    /// The longest wait between tries, computed by backoff or asked for by
    /// the service. An answer that asks for a longer wait ends the retries
    /// at once, with that answer as the call's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::RetryOptions;
    /// use std::time::Duration;
    ///
    /// // Never wait more than 5 s between tries, however many there are.
    /// let retry = RetryOptions::default().max_retries(10).max_delay(Duration::from_secs(5));
    /// assert_eq!(retry.get_max_retries(), 10);
    /// ```
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The configured number of retries.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::RetryOptions;
    ///
    /// assert_eq!(RetryOptions::default().get_max_retries(), 3);
    /// assert_eq!(RetryOptions::none().get_max_retries(), 0);
    /// ```
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The longest wait between tries.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::RetryOptions;
    /// use std::time::Duration;
    ///
    /// assert_eq!(RetryOptions::default().get_max_delay(), Duration::from_secs(60));
    /// ```
    pub fn get_max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The backoff before retry number `retry` (0 for the first retry):
    /// `initial · 2^retry`, capped at `max_delay`, then scaled by a random
    /// factor in [0.8, 1.2) (and capped again).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .initial_delay
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        // Scaled through f64 seconds without panicking: a `max_delay` near
        // `Duration::MAX` times 1.2 does not fit in a `Duration`.
        Duration::try_from_secs_f64(capped.as_secs_f64() * (0.8 + 0.4 * fastrand::f64()))
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// Whether a call may be sent again once it may have reached the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Sending twice does no harm (gets, puts, deletes, token issuance,
    /// creates with a custom id).
    Safe,
    /// Sending twice may act twice (creating a user without custom id): only
    /// retried when the service cannot have acted (connect failures, 408,
    /// 429, 503).
    NotAfterSend,
}

/// What one try came to, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response with this status.
    Status(u16),
    /// No connection was made.
    ConnectFailed,
    /// The try timed out.
    TimedOut,
    /// The connection failed after the request may have been sent (reset,
    /// closed before a response).
    Broken,
}

/// What a retry notice says about the try: `503`, `timed out`, …
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Status(status) => write!(f, "{status}"),
            Outcome::ConnectFailed => f.write_str("could not connect"),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::Broken => f.write_str("connection broken"),
        }
    }
}

/// Whether `outcome` is worth another try for a call of this idempotency.
pub(crate) fn should_retry(outcome: Outcome, idempotency: Idempotency) -> bool {
    match (outcome, idempotency) {
        (Outcome::Status(s), Idempotency::Safe) => RETRY_STATUSES.contains(&s),
        // The service did not process the request for these.
        (Outcome::Status(s), Idempotency::NotAfterSend) => matches!(s, 408 | 429 | 503),
        (Outcome::ConnectFailed, _) => true,
        (Outcome::TimedOut | Outcome::Broken, Idempotency::Safe) => true,
        (Outcome::TimedOut | Outcome::Broken, Idempotency::NotAfterSend) => false,
    }
}

/// The wait a response asks for: `x-ms-retry-after-ms`, then
/// `retry-after-ms` (milliseconds), then `Retry-After` (seconds, or an HTTP
/// date measured against `now`; a past date means no wait).
///
/// Any header value is read without panicking: a value that is not a
/// non-negative number or an HTTP date is ignored, and one too large for a
/// `Duration` reads as `Duration::MAX` (longer than any client waits).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = header_str(headers, name).and_then(|v| v.trim().parse::<f64>().ok())
            && !ms.is_nan()
            && ms >= 0.0
        {
            return Some(Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX));
        }
    }
    let value = header_str(headers, "retry-after")?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is still a (very long) wait.
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const NOW: Duration = Duration::from_secs(1_704_067_200); // Mon, 01 Jan 2024 00:00:00 GMT

    #[test]
    fn retry_after_headers_in_order_of_precedence() {
        let now = SystemTime::UNIX_EPOCH + NOW;
        let h = headers(&[
            ("x-ms-retry-after-ms", "150"),
            ("retry-after-ms", "900"),
            ("retry-after", "7"),
        ]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(150)));
        let h = headers(&[("retry-after-ms", "900"), ("retry-after", "7")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(900)));
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_http_date_is_measured_against_the_injected_clock() {
        let now = SystemTime::UNIX_EPOCH + NOW;
        let h = headers(&[("retry-after", "Mon, 01 Jan 2024 00:00:05 GMT")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(5)));
        let later = now + Duration::from_secs(60);
        assert_eq!(
            retry_after(&h, later),
            Some(Duration::ZERO),
            "a past date means no wait"
        );
    }

    #[test]
    fn malformed_retry_after_values_are_ignored() {
        let now = SystemTime::UNIX_EPOCH + NOW;
        for bad in ["soon", "-5", ""] {
            assert_eq!(
                retry_after(&headers(&[("retry-after", bad)]), now),
                None,
                "{bad}"
            );
        }
        let h = headers(&[("retry-after-ms", "NaN"), ("retry-after", "2")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(2)));
    }

    #[test]
    fn absurd_retry_after_values_never_panic() {
        let now = SystemTime::UNIX_EPOCH + NOW;
        let far = Duration::from_secs(60 * 60 * 24 * 365);
        // Values that ask for longer than any client waits.
        for long in ["1e300", "1e20", "1.8e19", "inf", "+inf", "1e308"] {
            for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
                let got = retry_after(&headers(&[(name, long)]), now);
                assert!(got.is_some_and(|d| d > far), "{name}: {long} gave {got:?}");
            }
        }
        for long in [
            "99999999",
            "99999999999999999999999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let got = retry_after(&headers(&[("retry-after", long)]), now);
            assert!(got.is_some_and(|d| d > far), "{long} gave {got:?}");
        }
        // Values that ask for nothing readable are ignored.
        for junk in [
            "NaN", "-inf", "-1", "-0.5e3", "0x10", "1e", "", " ", "1 000",
        ] {
            for name in ["x-ms-retry-after-ms", "retry-after-ms", "retry-after"] {
                assert_eq!(
                    retry_after(&headers(&[(name, junk)]), now),
                    None,
                    "{name}: {junk:?}"
                );
            }
        }
        // Bytes that are not visible ASCII.
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_bytes(b"\xff\xfe 12").unwrap(),
        );
        h.insert(
            "retry-after-ms",
            HeaderValue::from_bytes("\u{661}\u{662}".as_bytes()).unwrap(),
        );
        assert_eq!(retry_after(&h, now), None);
        // A date before the epoch, or long past, is no wait.
        let h = headers(&[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")]);
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_never_panics_on_extreme_options() {
        let r = RetryOptions::default()
            .initial_delay(Duration::MAX)
            .max_delay(Duration::MAX);
        for retry in [0, 1, 31, 32, u32::MAX] {
            assert!(r.backoff(retry) <= Duration::MAX);
        }
        let zero = RetryOptions::default()
            .initial_delay(Duration::ZERO)
            .max_delay(Duration::ZERO);
        assert_eq!(zero.backoff(3), Duration::ZERO);
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let r = RetryOptions::default();
        for retry in 0..4 {
            let base = Duration::from_millis(800) * 2u32.pow(retry);
            for _ in 0..50 {
                let d = r.backoff(retry);
                assert!(
                    d >= base.mul_f64(0.8) && d < base.mul_f64(1.2),
                    "retry {retry}: {d:?}"
                );
            }
        }
        for _ in 0..50 {
            assert!(r.backoff(30) <= Duration::from_secs(60));
        }
    }

    #[test]
    fn classification_by_idempotency() {
        use Idempotency::*;
        use Outcome::*;
        for s in RETRY_STATUSES {
            assert!(should_retry(Status(s), Safe), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 413] {
            assert!(!should_retry(Status(s), Safe), "{s}");
        }
        for s in [408, 429, 503] {
            assert!(should_retry(Status(s), NotAfterSend), "{s}");
        }
        for s in [500, 502, 504] {
            assert!(!should_retry(Status(s), NotAfterSend), "{s}");
        }
        assert!(should_retry(ConnectFailed, NotAfterSend));
        assert!(!should_retry(TimedOut, NotAfterSend));
        assert!(!should_retry(Broken, NotAfterSend));
        assert!(should_retry(TimedOut, Safe) && should_retry(Broken, Safe));
    }
}
