//! Fault injection, for testing how clients cope.
//!
//! A spec is a list of rules separated by `;`:
//!
//! ```text
//! RULE    := [OPERATION ':'] ACTION [TRIGGER]
//! ACTION  := 429 | 500 | 503 | <any 4xx/5xx> ['/retry-after=' SECS | '/retry-after-ms=' MS]
//!          | 'latency=' DURATION          (e.g. 200ms, 2s, 0.5ms, 1500ns; at most one
//!                                          hour; delays the answer, then goes on)
//!          | 'drop'                       (closes the connection without answering)
//! TRIGGER := 'x' COUNT                    (the next COUNT matching requests)
//!          | '@' RATE                     (each matching request with probability RATE, 0..=1)
//!                                         (none: every matching request)
//! ```
//!
//! `OPERATION` is a method name of the raw client (`create_identity`,
//! `issue_access_token`, …); without one a rule applies to every operation.
//! Examples: `503x2` (the next two requests get 503), `create_identity:500x1`,
//! `429/retry-after-ms=300@0.5`, `latency=150ms`, `issue_access_token:dropx1`.
//!
//! Bounds are checked when a spec is parsed: a latency over
//! [`MAX_LATENCY`], a `Retry-After` over [`MAX_RETRY_AFTER_SECS`] seconds (or
//! the same in milliseconds) or a count over `u32::MAX` is an error, and the
//! latencies of several rules add up to at most [`MAX_LATENCY`]. What a spec
//! prints ([`Faults`]' `Display`, the `GET /_emulator/faults` answer) parses
//! back to the same rules.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest latency a rule may ask for, and the most the latencies of one
/// request add up to.
///
/// # Examples
///
/// ```
/// use acs_identity_emulator::faults::{Faults, MAX_LATENCY};
///
/// assert_eq!(MAX_LATENCY.as_secs(), 3600);
/// assert!("latency=3600s".parse::<Faults>().is_ok());
/// assert!("latency=3601s".parse::<Faults>().is_err());
/// ```
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// The largest `Retry-After` (seconds) a rule may send: one day.
///
/// # Examples
///
/// ```
/// use acs_identity_emulator::faults::{Faults, MAX_RETRY_AFTER_SECS};
///
/// assert_eq!(MAX_RETRY_AFTER_SECS, 86_400);
/// assert!("429/retry-after=86401".parse::<Faults>().is_err());
/// ```
pub const MAX_RETRY_AFTER_SECS: u64 = 86_400;

/// A set of fault rules, applied in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The operation it applies to (all when `None`).
    pub operation: Option<String>,
    /// What happens.
    pub action: Action,
    /// When it happens.
    pub trigger: Trigger,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer with this status (and the service's error body).
    Status {
        /// The status.
        status: u16,
        /// A `Retry-After` (seconds) header.
        retry_after: Option<u64>,
        /// A `retry-after-ms` header.
        retry_after_ms: Option<u64>,
    },
    /// Wait this long before handling the request.
    Latency(Duration),
    /// Close the connection without an answer.
    Drop,
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Every matching request.
    Always,
    /// The next N matching requests.
    Next(u32),
    /// Each matching request with this probability.
    Rate(f64),
}

/// The fault decided for one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// Wait first.
    pub latency: Duration,
    /// Then answer with this instead of handling the request.
    pub outcome: Option<Action>,
}

/// A spec that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault rule {rule:?}: {reason}")]
pub struct FaultSpecError {
    /// The rule.
    pub rule: String,
    /// What is wrong.
    pub reason: String,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Adds a rule.
    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// Decides the fault for one request to `operation`, counting down
    /// `Next` triggers that fire.
    pub fn decide(&mut self, operation: &str) -> Decision {
        let mut decision = Decision::default();
        for rule in &mut self.rules {
            if rule.operation.as_deref().is_some_and(|op| op != operation) {
                continue;
            }
            if decision.outcome.is_some() && !matches!(rule.action, Action::Latency(_)) {
                continue;
            }
            let fires = match &mut rule.trigger {
                Trigger::Always => true,
                Trigger::Next(0) => false,
                Trigger::Next(n) => {
                    *n -= 1;
                    true
                }
                Trigger::Rate(p) => fastrand::f64() < *p,
            };
            if !fires {
                continue;
            }
            match &rule.action {
                // Rules built in code (not parsed) are not bounded: saturate.
                Action::Latency(d) => {
                    decision.latency = decision.latency.saturating_add(*d).min(MAX_LATENCY);
                }
                other => decision.outcome = Some(other.clone()),
            }
        }
        self.rules.retain(|r| r.trigger != Trigger::Next(0));
        decision
    }
}

impl FromStr for Faults {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut faults = Faults::none();
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            faults.push(part.parse()?);
        }
        Ok(faults)
    }
}

impl FromStr for Rule {
    type Err = FaultSpecError;

    fn from_str(rule: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| FaultSpecError {
            rule: rule.to_string(),
            reason: reason.to_string(),
        };
        let (operation, rest) = match rule.split_once(':') {
            Some((op, rest))
                if !op.is_empty() && op.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
            {
                (Some(op.to_string()), rest)
            }
            Some(_) => return Err(err("the operation must be a snake_case method name")),
            None => (None, rule),
        };
        let (action, trigger) = if let Some((a, rate)) = rest.split_once('@') {
            let rate: f64 = rate
                .parse()
                .map_err(|_| err("the rate after `@` must be a number"))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(err("the rate must be between 0 and 1"));
            }
            (a, Trigger::Rate(rate))
        } else if let Some(pos) = rest
            .rfind('x')
            .filter(|&p| rest[p + 1..].chars().all(|c| c.is_ascii_digit()) && p + 1 < rest.len())
        {
            let n: u32 = rest[pos + 1..]
                .parse()
                .map_err(|_| err("the count after `x` must be a whole number"))?;
            (&rest[..pos], Trigger::Next(n))
        } else {
            (rest, Trigger::Always)
        };
        let action = if action == "drop" {
            Action::Drop
        } else if let Some(d) = action.strip_prefix("latency=") {
            let d = parse_duration(d)
                .ok_or_else(|| err("latency takes a duration such as 150ms, 2s or 1500ns"))?;
            if d > MAX_LATENCY {
                return Err(err("latency must be at most 3600s"));
            }
            Action::Latency(d)
        } else {
            // STATUS, then options separated by `/` (both may be given).
            let mut parts = action.split('/');
            let status: u16 = parts
                .next()
                .unwrap_or_default()
                .parse()
                .map_err(|_| err("the action must be a status, latency=… or drop"))?;
            if !(400..=599).contains(&status) {
                return Err(err("the status must be 4xx or 5xx"));
            }
            let (mut retry_after, mut retry_after_ms) = (None, None);
            for option in parts {
                match option.split_once('=') {
                    Some(("retry-after", v)) if retry_after.is_none() => {
                        retry_after = Some(
                            v.parse()
                                .ok()
                                .filter(|s| *s <= MAX_RETRY_AFTER_SECS)
                                .ok_or_else(|| {
                                    err("retry-after takes whole seconds, at most 86400")
                                })?,
                        );
                    }
                    Some(("retry-after-ms", v)) if retry_after_ms.is_none() => {
                        retry_after_ms = Some(
                            v.parse()
                                .ok()
                                .filter(|ms| *ms <= MAX_RETRY_AFTER_SECS * 1000)
                                .ok_or_else(|| {
                                    err("retry-after-ms takes whole milliseconds, at most 86400000")
                                })?,
                        );
                    }
                    _ => {
                        return Err(err(
                            "the status options are retry-after=SECS and retry-after-ms=MS, once each",
                        ));
                    }
                }
            }
            Action::Status {
                status,
                retry_after,
                retry_after_ms,
            }
        };
        Ok(Rule {
            operation,
            action,
            trigger,
        })
    }
}

/// `1500ns` (whole nanoseconds), `150ms` or `0.5ms`, `2s` or `1.25s`; never
/// panics, whatever the number (too large or not finite: `None`).
fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ns) = s.strip_suffix("ns") {
        return ns.parse().ok().map(Duration::from_nanos);
    }
    let (number, nanos_per_unit) = match s.strip_suffix("ms") {
        Some(ms) => (ms, 1e6),
        None => (s.strip_suffix('s')?, 1e9),
    };
    let value: f64 = number.parse().ok()?;
    let nanos = (value * nanos_per_unit).round();
    // Checked before converting: `as u64` would saturate silently.
    if !(0.0..=MAX_LATENCY.as_nanos() as f64 * 2.0).contains(&nanos) {
        return None;
    }
    Some(Duration::from_nanos(nanos as u64))
}

/// Whole milliseconds as `Nms`, anything finer as `Nns`: both parse back
/// exactly.
fn write_duration(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        write!(f, "{}ms", d.as_millis())
    } else {
        write!(f, "{}ns", d.as_nanos())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = &self.operation {
            write!(f, "{op}:")?;
        }
        match &self.action {
            Action::Drop => write!(f, "drop")?,
            Action::Latency(d) => {
                f.write_str("latency=")?;
                write_duration(f, *d)?;
            }
            Action::Status {
                status,
                retry_after,
                retry_after_ms,
            } => {
                write!(f, "{status}")?;
                if let Some(s) = retry_after {
                    write!(f, "/retry-after={s}")?;
                }
                if let Some(ms) = retry_after_ms {
                    write!(f, "/retry-after-ms={ms}")?;
                }
            }
        }
        match self.trigger {
            Trigger::Always => Ok(()),
            Trigger::Next(n) => write!(f, "x{n}"),
            Trigger::Rate(p) => write!(f, "@{p}"),
        }
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(";"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for spec in [
            "503x2",
            "create_identity:500x1",
            "429/retry-after-ms=300@0.5",
            "429/retry-after=2",
            "503/retry-after=1/retry-after-ms=1500x2",
            "latency=150ms",
            "issue_access_token:dropx1",
            "503x1;latency=20ms;drop@0",
        ] {
            let faults: Faults = spec.parse().unwrap();
            assert_eq!(faults.to_string(), spec);
        }
        let f: Faults = "latency=2s".parse().unwrap();
        assert_eq!(f.rules()[0].action, Action::Latency(Duration::from_secs(2)));
    }

    #[test]
    fn bad_specs_say_why() {
        for bad in [
            "200",
            "abc",
            "503@2",
            "503xq",
            "latency=fast",
            "Create:500",
            "429/wait=1",
            "latency=1e30s",
            "latency=1.8e19s",
            "latency=NaNs",
            "latency=-1s",
            "latency=3600.001s",
            "latency=18446744073709551615ms",
            "latency=99999999999999999999ns",
            "429/retry-after=86401",
            "429/retry-after-ms=86400001",
            "429/retry-after=1/retry-after=2",
            "503x4294967296",
        ] {
            assert!(bad.parse::<Faults>().is_err(), "{bad}");
        }
    }

    #[test]
    fn latencies_add_up_to_the_bound_and_no_further() {
        let mut f: Faults = "latency=3600s;latency=3600s".parse().unwrap();
        assert_eq!(f.decide("create_identity").latency, MAX_LATENCY);
        let mut built = Faults::none();
        for _ in 0..2 {
            built.push(Rule {
                operation: None,
                action: Action::Latency(Duration::MAX),
                trigger: Trigger::Always,
            });
        }
        assert_eq!(built.decide("create_identity").latency, MAX_LATENCY);
    }

    #[test]
    fn fine_latencies_print_in_nanoseconds_and_parse_back_exactly() {
        for (spec, printed) in [
            ("latency=0.5ms", "latency=500000ns"),
            ("latency=1.25s", "latency=1250ms"),
            ("latency=0.000000001s", "latency=1ns"),
            ("latency=3600s", "latency=3600000ms"),
        ] {
            let f: Faults = spec.parse().unwrap();
            assert_eq!(f.to_string(), printed);
            assert_eq!(printed.parse::<Faults>().unwrap(), f);
        }
    }

    #[test]
    fn next_n_counts_down_per_operation() {
        let mut f: Faults = "create_identity:500x1;503x2".parse().unwrap();
        let status = |d: Decision| match d.outcome {
            Some(Action::Status { status, .. }) => status,
            _ => 200,
        };
        assert_eq!(status(f.decide("issue_access_token")), 503);
        assert_eq!(status(f.decide("create_identity")), 500);
        assert_eq!(status(f.decide("create_identity")), 503);
        assert_eq!(status(f.decide("create_identity")), 200);
        assert!(f.rules().is_empty(), "spent rules are removed");
    }

    #[test]
    fn latency_adds_up_and_rates_of_zero_and_one_are_exact() {
        let mut f: Faults = "latency=10ms;latency=5ms;drop@0;503@1".parse().unwrap();
        let d = f.decide("get_identity");
        assert_eq!(d.latency, Duration::from_millis(15));
        assert!(matches!(
            d.outcome,
            Some(Action::Status { status: 503, .. })
        ));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn rule() -> impl Strategy<Value = Rule> {
        let operation = proptest::option::of("[a-z_]{1,20}");
        let action = prop_oneof![
            Just(Action::Drop),
            (0..=MAX_LATENCY.as_nanos() as u64)
                .prop_map(|n| Action::Latency(Duration::from_nanos(n))),
            (
                400u16..=599,
                proptest::option::of(0..=MAX_RETRY_AFTER_SECS),
                proptest::option::of(0..=MAX_RETRY_AFTER_SECS * 1000)
            )
                .prop_map(|(status, retry_after, retry_after_ms)| Action::Status {
                    status,
                    retry_after,
                    retry_after_ms,
                }),
        ];
        let trigger = prop_oneof![
            Just(Trigger::Always),
            any::<u32>().prop_map(Trigger::Next),
            (0.0f64..=1.0).prop_map(Trigger::Rate),
        ];
        (operation, action, trigger).prop_map(|(operation, action, trigger)| Rule {
            operation,
            action,
            trigger,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// What `GET /_emulator/faults` returns can always be PUT back, and
        /// means the same rules.
        #[test]
        fn printed_specs_parse_back_to_the_same_rules(rules in proptest::collection::vec(rule(), 0..5)) {
            let mut faults = Faults::none();
            for r in rules {
                faults.push(r);
            }
            let printed = faults.to_string();
            let parsed: Faults = printed.parse().map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
            prop_assert_eq!(&parsed, &faults, "{}", printed);
            prop_assert_eq!(parsed.to_string(), printed);
        }

        /// Any text: an error or rules, never a panic; rules print back.
        #[test]
        fn any_text_parses_or_fails_without_panicking(spec in "[a-z0-9_:;@x=./e+-]{0,40}") {
            if let Ok(faults) = spec.parse::<Faults>() {
                let printed = faults.to_string();
                prop_assert_eq!(printed.parse::<Faults>().ok(), Some(faults));
                let mut f: Faults = printed.parse().unwrap();
                let d = f.decide("create_identity");
                prop_assert!(d.latency <= MAX_LATENCY);
            }
        }
    }
}
