//! The run's progress bar, drawn only on a terminal, with log lines printed
//! above it instead of through it.

use std::io::IsTerminal;
use std::sync::RwLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar on screen, for the log writer to lift while it prints.
static ACTIVE: RwLock<Option<ProgressBar>> = RwLock::new(None);

/// A bar counting `unit`s (`devices`, `snapshots`) on stderr.
pub struct Bar {
    unit: &'static str,
}

impl Bar {
    pub fn new(unit: &'static str) -> Bar {
        Bar { unit }
    }
}

impl crate::progress::Progress for Bar {
    fn start(&self, total: u64) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = format!(
            "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {} (eta {{eta}})",
            self.unit
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        if let Ok(mut active) = ACTIVE.write() {
            *active = Some(bar);
        }
    }

    fn step(&self) {
        if let Some(bar) = ACTIVE.read().ok().and_then(|g| g.clone()) {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Ok(mut active) = ACTIVE.write()
            && let Some(bar) = active.take()
        {
            bar.finish_and_clear();
        }
    }
}

/// Runs `f` with the bar (if any) lifted off the terminal.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match ACTIVE.read().ok().and_then(|g| g.clone()) {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}
