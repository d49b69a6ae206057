//! Where the command's diagnostics go: stderr, filtered by `RUST_LOG` (or
//! `-v`), with colour codes only when stderr is a terminal; and, on a
//! terminal, a one-line notice for each retry (`503, retrying in 0.8 s…`).

use std::io::{IsTerminal as _, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// What is logged without `RUST_LOG`: the emulator's problems (a write its
/// data file refused, the connection cap), or with `-v` every request.
const QUIET: &str = "acs_identity_emulator=warn";
const VERBOSE: &str = "acs_identity=debug,acs_identity_emulator=debug";

/// Installs the subscriber for this process.
pub fn init(verbose: bool) {
    let terminal = std::io::stderr().is_terminal();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(if verbose { VERBOSE } else { QUIET }));
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(terminal)
        .with_filter(filter);
    // With -v the retries are in the log already.
    let notices = (terminal && !verbose).then(|| {
        RetryNotices.with_filter(
            Targets::new().with_target("acs_identity::pipeline", tracing::Level::DEBUG),
        )
    });
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(notices)
        .try_init();
}

/// Prints the client's `retrying` events as one line each.
struct RetryNotices;

impl<S: tracing::Subscriber> Layer<S> for RetryNotices {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Retry::default();
        event.record(&mut fields);
        if fields.message.as_deref() == Some("retrying") {
            let reason = fields.reason.unwrap_or_default();
            let seconds = fields.delay_ms.unwrap_or(0) as f64 / 1000.0;
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{reason}, retrying in {seconds:.1} s…");
        }
    }
}

#[derive(Default)]
struct Retry {
    message: Option<String>,
    reason: Option<String>,
    delay_ms: Option<u64>,
}

impl Visit for Retry {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "delay_ms" {
            self.delay_ms = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Retry {
    fn record(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = Some(value),
            // Our own text (`503`, `timed out`), never the server's.
            "reason" => self.reason = Some(crate::output::terminal_safe(&value)),
            _ => {}
        }
    }
}
