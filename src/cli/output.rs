//! Standard output for reports and summaries. A reader that goes away
//! (`invmon snapshots list | head -n 1`) must not stop the work or make it
//! panic: once stdout is closed, the rest of the output is dropped.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout; after a broken pipe, silently nothing.
pub fn print(text: &str) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CLOSED.store(true, Ordering::Relaxed);
        } else {
            tracing::warn!("Cannot write to standard output: {e}.");
            CLOSED.store(true, Ordering::Relaxed);
        }
    }
}

/// The log target of report lines: kept in `all.log` at any log level, never
/// repeated on the console (they are on stdout already).
pub const REPORT: &str = "invmon::report";

/// A report (a run's summary, what was shipped, what was deleted): stdout,
/// and line by line into `all.log`, so that runs under cron leave them.
pub fn report(text: &str) {
    print(text);
    for line in text.lines().filter(|l| !l.is_empty()) {
        tracing::info!(target: REPORT, "{line}");
    }
}

/// `println!` that survives a closed pipe.
macro_rules! outln {
    () => { $crate::cli::output::print("\n") };
    ($($arg:tt)*) => { $crate::cli::output::print(&format!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use outln;

/// `outln!` for report lines, which `all.log` keeps too.
macro_rules! reportln {
    ($($arg:tt)*) => { $crate::cli::output::report(&format!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use reportln;
