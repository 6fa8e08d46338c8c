//! Log output: readable lines for a person at a terminal, JSON lines for anything that collects
//! logs (a pipe, a file, systemd, a container runtime).

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The level comes from `RUST_LOG` (e.g. `debug`,
/// `ticketd=debug,tower_http=info`), `default` without it. Logs go to stderr so stdout stays
/// free for what a command prints (the URL, the bench table).
pub fn init(default: LevelFilter) {
    // Lossy: a typo in RUST_LOG drops that directive instead of silencing every log.
    let filter = EnvFilter::builder()
        .with_default_directive(default.into())
        .from_env_lossy();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        // One object per line with the event's fields at the top level and the request span
        // once (the span list would repeat it).
        builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .init();
    }
}
