//! Metrics of one run for cron, in the text format node_exporter's textfile
//! collector reads (`*.prom`): written whole or not at all, ending in a
//! newline. Values are this run's, except the times something last
//! succeeded, which carry over from the file a failed run replaces.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("metrics file {}: {cause}", path.display())]
pub struct MetricsError {
    path: std::path::PathBuf,
    cause: std::io::Error,
}

struct Family {
    name: String,
    help: String,
    samples: Vec<(String, f64)>,
}

/// The metrics of one run, every one a gauge, in the order first added.
#[derive(Default)]
pub struct Metrics {
    families: Vec<Family>,
    /// Series of the file this run replaces, by `name{labels}`.
    previous: HashMap<String, f64>,
}

/// `name{a="x",b="y"}` with the format's escapes in label values.
fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let mut out = format!("{name}{{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\"");
    }
    out.push('}');
    out
}

impl Metrics {
    /// Metrics that may carry values over from the file at `path` (a file
    /// missing or unreadable carries nothing).
    pub fn replacing(path: &Path) -> Metrics {
        let previous = std::fs::read_to_string(path)
            .map(|text| {
                text.lines()
                    .filter(|l| !l.starts_with('#'))
                    .filter_map(|l| {
                        let (s, v) = l.rsplit_once(' ')?;
                        Some((s.to_owned(), v.parse().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Metrics {
            families: Vec::new(),
            previous,
        }
    }

    pub fn gauge(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) -> &mut Self {
        let sample = (series(name, labels), value);
        match self.families.iter_mut().find(|f| f.name == name) {
            Some(f) => f.samples.push(sample),
            None => self.families.push(Family {
                name: name.to_owned(),
                help: help.to_owned(),
                samples: vec![sample],
            }),
        }
        self
    }

    /// A time that moves only when `now` is given (the thing succeeded);
    /// otherwise the value the replaced file had, if any.
    pub fn last_time(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        now: Option<f64>,
    ) -> &mut Self {
        match now.or_else(|| self.previous.get(&series(name, labels)).copied()) {
            Some(v) => self.gauge(name, help, labels, v),
            None => self,
        }
    }

    /// The four series every command writes: `<prefix>_last_run_timestamp_seconds`,
    /// `_last_success_timestamp_seconds` (moved only when `complete`),
    /// `_success` and `_duration_seconds`.
    pub fn ended(
        &mut self,
        prefix: &str,
        run: &str,
        labels: &[(&str, &str)],
        complete: bool,
        duration: std::time::Duration,
    ) -> &mut Self {
        let now = now_seconds();
        self.gauge(
            &format!("{prefix}_last_run_timestamp_seconds"),
            &format!("When the last {run} ended."),
            labels,
            now,
        )
        .last_time(
            &format!("{prefix}_last_success_timestamp_seconds"),
            &format!("When a {run} last ended having done all its work."),
            labels,
            complete.then_some(now),
        )
        .gauge(
            &format!("{prefix}_success"),
            &format!("1 when the last {run} did all its work."),
            labels,
            f64::from(u8::from(complete)),
        )
        .gauge(
            &format!("{prefix}_duration_seconds"),
            &format!("How long the last {run} took."),
            labels,
            duration.as_secs_f64(),
        )
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} gauge", f.name);
            for (s, v) in &f.samples {
                let _ = writeln!(out, "{s} {v}");
            }
        }
        out
    }

    /// Replaces the file at `path` atomically: a temporary file in the same
    /// directory (hidden, not `*.prom`, so never read half-written), renamed.
    pub fn write(&self, path: &Path) -> Result<(), MetricsError> {
        crate::atomic::write(path, self.render().as_bytes(), crate::atomic::Mode::Replace).map_err(
            |cause| MetricsError {
                path: path.to_owned(),
                cause,
            },
        )
    }
}

/// Seconds since the epoch, as the format's timestamps are given.
pub fn now_seconds() -> f64 {
    let now = chrono::Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_millis()) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_keeps_the_last_success_and_escapes_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("invmon.prom");
        let mut m = Metrics::replacing(&path);
        m.last_time("x_last_success_timestamp_seconds", "h", &[], Some(100.0))
            .last_time("x_ok", "h", &[("device", "a\"b\\c\nd")], Some(7.0))
            .gauge("x_devices", "h", &[("outcome", "ok")], 1.0)
            .gauge("x_devices", "h", &[("outcome", "failed")], 0.0);
        m.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        assert!(
            text.contains("x_ok{device=\"a\\\"b\\\\c\\nd\"} 7\n"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE x_devices gauge").count(), 1);

        let mut m = Metrics::replacing(&path);
        m.last_time("x_last_success_timestamp_seconds", "h", &[], None)
            .last_time("x_ok", "h", &[("device", "a\"b\\c\nd")], None)
            .last_time("x_never", "h", &[], None);
        let text = m.render();
        assert!(
            text.contains("x_last_success_timestamp_seconds 100\n"),
            "{text}"
        );
        assert!(text.contains("} 7\n"), "{text}");
        assert!(!text.contains("x_never"));
    }
}
