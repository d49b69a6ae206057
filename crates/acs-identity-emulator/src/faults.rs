//! Fault injection, for testing how clients cope.
//!
//! A spec is a list of rules separated by `;`:
//!
//! ```text
//! RULE    := [OPERATION ':'] ACTION [TRIGGER]
//! ACTION  := 429 | 500 | 503 | <any 4xx/5xx> ['/retry-after=' SECS | '/retry-after-ms=' MS]
//!          | 'latency=' DURATION          (e.g. 200ms, 2s; delays the answer, then goes on)
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

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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
                Action::Latency(d) => decision.latency += *d,
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
            Action::Latency(
                parse_duration(d)
                    .ok_or_else(|| err("latency takes a duration such as 150ms or 2s"))?,
            )
        } else {
            let (status, option) = match action.split_once('/') {
                Some((s, o)) => (s, Some(o)),
                None => (action, None),
            };
            let status: u16 = status
                .parse()
                .map_err(|_| err("the action must be a status, latency=… or drop"))?;
            if !(400..=599).contains(&status) {
                return Err(err("the status must be 4xx or 5xx"));
            }
            let (mut retry_after, mut retry_after_ms) = (None, None);
            match option.map(|o| o.split_once('=')) {
                None => {}
                Some(Some(("retry-after", v))) => {
                    retry_after = Some(
                        v.parse()
                            .map_err(|_| err("retry-after takes whole seconds"))?,
                    )
                }
                Some(Some(("retry-after-ms", v))) => {
                    retry_after_ms = Some(
                        v.parse()
                            .map_err(|_| err("retry-after-ms takes whole milliseconds"))?,
                    )
                }
                Some(_) => {
                    return Err(err(
                        "the status option must be retry-after=SECS or retry-after-ms=MS",
                    ));
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

fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    s.strip_suffix('s')
        .and_then(|secs| secs.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = &self.operation {
            write!(f, "{op}:")?;
        }
        match &self.action {
            Action::Drop => write!(f, "drop")?,
            Action::Latency(d) => write!(f, "latency={}ms", d.as_millis())?,
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
        ] {
            assert!(bad.parse::<Faults>().is_err(), "{bad}");
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
