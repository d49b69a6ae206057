//! Prometheus metrics, served at `GET /metrics` (OpenMetrics text):
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `acs_token_service_tokens_issued_total` | `source` = `minted` or `cache` | tokens answered |
//! | `acs_token_service_identities_created_total` | – | ACS identities created for new app users |
//! | `acs_token_service_identities_possibly_orphaned_total` | – | claims taken over after their creator died or was cut off: each may have left one ACS identity that nothing maps to |
//! | `acs_token_service_refusals_total` | `reason` | requests refused (the sign-in token's [`Refusal`](crate::Refusal) reason, `scope`, `rate_limit`, `body`) |
//! | `acs_token_service_acs_request_duration_seconds` | – | time of each call to Communication Services |
//! | `acs_token_service_acs_failures_total` | – | calls to Communication Services that failed |

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Source {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// The service's counters.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    issued: Family<Source, Counter>,
    created: Counter,
    orphaned: Counter,
    refusals: Family<Reason, Counter>,
    acs_latency: Histogram,
    acs_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("acs_token_service");
        let issued = Family::<Source, Counter>::default();
        let created = Counter::default();
        let orphaned = Counter::default();
        let refusals = Family::<Reason, Counter>::default();
        // 5 ms to about 20 s.
        let acs_latency = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        let acs_failures = Counter::default();
        registry.register("tokens_issued", "Tokens answered", issued.clone());
        registry.register(
            "identities_created",
            "ACS identities created for new app users",
            created.clone(),
        );
        registry.register(
            "identities_possibly_orphaned",
            "Claims taken over after their creator died or was cut off, each of which may have left one unmapped ACS identity",
            orphaned.clone(),
        );
        registry.register("refusals", "Requests refused, by reason", refusals.clone());
        registry.register(
            "acs_request_duration_seconds",
            "Time of each call to Communication Services",
            acs_latency.clone(),
        );
        registry.register(
            "acs_failures",
            "Calls to Communication Services that failed",
            acs_failures.clone(),
        );
        Self {
            registry,
            issued,
            created,
            orphaned,
            refusals,
            acs_latency,
            acs_failures,
        }
    }
}

impl Metrics {
    /// A token answered, from the cache or minted.
    pub fn issued(&self, cached: bool) {
        let source = if cached { "cache" } else { "minted" };
        self.issued.get_or_create(&Source { source }).inc();
    }

    /// A stale claim taken over: its creator may have made an identity
    /// that nothing maps to.
    pub fn possibly_orphaned(&self) {
        self.orphaned.inc();
    }

    /// An identity created.
    pub fn created(&self) {
        self.created.inc();
    }

    /// A refused request.
    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&Reason { reason }).inc();
    }

    /// A call to Communication Services and whether it worked.
    pub fn acs_call(&self, took: Duration, ok: bool) {
        self.acs_latency.observe(took.as_secs_f64());
        if !ok {
            self.acs_failures.inc();
        }
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
