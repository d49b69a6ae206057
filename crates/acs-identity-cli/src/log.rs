//! Where the command's diagnostics go: stderr, filtered by `RUST_LOG` (or
//! `-v`), with colour codes only when stderr is a terminal; and, on a
//! terminal, a one-line notice for each retry (`503, retrying in 0.8 s…`).

use std::io::{IsTerminal as _, Write as _};

use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, FilterExt as _, Targets, filter_fn};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// What is logged without `RUST_LOG`: the emulator's problems (a write its
/// data file refused, the connection cap), and, when it runs as
/// `acs-identity emulator` without `--quiet`, one line per request; with
/// `-v`, the client's and the emulator's debug events too.
const QUIET: &str = "acs_identity_emulator=warn";
const REQUESTS: &str = "acs_identity_emulator=warn,acs_identity_emulator::requests=info";
const VERBOSE: &str = "acs_identity=debug,acs_identity_emulator=debug";

/// The emulator's request log.
const REQUEST_TARGET: &str = "acs_identity_emulator::requests";

/// Installs the subscriber for this process. `requests`: the emulator's
/// request log is on by default. Keep the guard until the process ends:
/// dropping it writes out the request lines still queued.
pub fn init(verbose: bool, requests: bool) -> WorkerGuard {
    let terminal = std::io::stderr().is_terminal();
    let default = match (verbose, requests) {
        (true, _) => VERBOSE,
        (false, true) => REQUESTS,
        (false, false) => QUIET,
    };
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|d| EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| default.to_string());
    let filter = || EnvFilter::new(&directives);
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(terminal)
        .with_filter(filter().and(filter_fn(|m| m.target() != REQUEST_TARGET)));
    // Request lines go through a worker thread with a bounded queue: when
    // nobody reads stderr, lines are dropped, requests never wait on it.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .finish(std::io::stderr());
    let request_lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(terminal)
        .with_target(false)
        .with_filter(filter().and(filter_fn(|m| m.target() == REQUEST_TARGET)));
    // With -v the retries are in the log already.
    let notices = (terminal && !verbose).then(|| {
        RetryNotices.with_filter(
            Targets::new().with_target("acs_identity::pipeline", tracing::Level::DEBUG),
        )
    });
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(request_lines)
        .with(notices)
        .try_init();
    guard
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
