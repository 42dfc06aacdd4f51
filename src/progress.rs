//! The run's progress bar, drawn only on a terminal, with log lines printed
//! above it instead of through it.

use std::io::IsTerminal;
use std::sync::RwLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static ACTIVE: RwLock<Option<ProgressBar>> = RwLock::new(None);

pub fn start(len: u64, wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} devices (eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    *ACTIVE.write().expect("progress lock") = Some(bar.clone());
    bar
}

pub fn finish(bar: &ProgressBar) {
    bar.finish_and_clear();
    *ACTIVE.write().expect("progress lock") = None;
}

/// Runs `f` with the bar (if any) lifted off the terminal.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match ACTIVE.read().ok().and_then(|g| g.clone()) {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}
