//! Logging: the console (stderr, above any progress bar) plus `all.log` and
//! `errors.log` in the log directory, rotated at 10 MB and kept a week.

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendTimestamp, FileLimit};
use file_rotate::{ContentLimit, FileRotate};
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter::LevelFilter};

const ROTATE_BYTES: usize = 10 * 1024 * 1024;

struct Console;

impl Write for Console {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        super::progress::suspend(|| io::stderr().write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[derive(Clone)]
struct Rotating(Arc<Mutex<FileRotate<AppendTimestamp>>>);

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("log file lock"))?
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("log file lock"))?
            .flush()
    }
}

impl<'a> MakeWriter<'a> for Rotating {
    type Writer = Rotating;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn rotating(path: &Path) -> Rotating {
    let keep = FileLimit::Age(chrono::Duration::weeks(1));
    Rotating(Arc::new(Mutex::new(FileRotate::new(
        path,
        AppendTimestamp::default(keep),
        ContentLimit::BytesSurpassed(ROTATE_BYTES),
        Compression::None,
        None,
    ))))
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log directory {path}: {cause}")]
    LogDir {
        path: std::path::PathBuf,
        cause: io::Error,
    },
    #[error("logging: {0}")]
    Init(String),
}

/// Sets up logging; with `log_dir`, also the two log files.
pub fn init(level: LevelFilter, log_dir: Option<&Path>) -> Result<(), TelemetryError> {
    let console = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(|| Console)
        .with_target(false)
        .with_filter(
            EnvFilter::builder()
                .with_default_directive(level.into())
                .from_env_lossy()
                .add_directive(
                    format!("{}=off", super::output::REPORT)
                        .parse()
                        .expect("a valid directive"),
                ),
        );
    let registry = tracing_subscriber::registry().with(console);
    match log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|cause| TelemetryError::LogDir {
                path: dir.to_owned(),
                cause,
            })?;
            let all = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(rotating(&dir.join("all.log")))
                .with_filter(
                    tracing_subscriber::filter::Targets::new()
                        .with_default(level)
                        .with_target(super::output::REPORT, LevelFilter::INFO),
                );
            let errors = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(rotating(&dir.join("errors.log")))
                .with_filter(LevelFilter::from_level(Level::ERROR));
            registry
                .with(all)
                .with(errors)
                .try_init()
                .map_err(|e| TelemetryError::Init(e.to_string()))
        }
        None => registry
            .try_init()
            .map_err(|e| TelemetryError::Init(e.to_string())),
    }
}
