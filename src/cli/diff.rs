//! `invmon diff`: what changed between snapshots, offline.
//!
//! Exit codes as diff(1): 0 no differences, 1 differences, 2 trouble
//! (including snapshots that could not be read; the rest is still compared).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Context, Outcome};
use crate::config::ConfigError;
use crate::diff::render::{self, Format};
use crate::diff::select::{self, Window};
use crate::snapshot::store::Selector;

#[derive(Args)]
pub struct DiffArgs {
    /// A device name, or two snapshot files to compare
    #[arg(value_name = "DEVICE | FILE FILE", num_args = 0..=2)]
    what: Vec<String>,
    /// The device to compare (as the other commands name one; same as DEVICE)
    #[arg(short = 'd', long, value_name = "NAME", conflicts_with_all = ["what", "all"])]
    device: Option<String>,
    /// Every device in the store, each as of --from and as of --to
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    window: WindowArgs,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    store: super::StoreArg,
    #[command(flatten)]
    trust: super::TrustArg,
}

/// The two ends of a comparison, as `diff` and `report` take them.
#[derive(Args)]
pub struct WindowArgs {
    /// Older side: latest, latest~N, a timestamp or its prefix, an RFC 3339 time, a date, or a file [default: latest~1]
    #[arg(long, value_name = "SEL")]
    from: Option<Written>,
    /// Newer side, as --from [default: latest]
    #[arg(long, value_name = "SEL")]
    to: Option<Written>,
    /// Compare with the newest complete snapshot instead of a failed or partial one
    #[arg(long)]
    skip_failed: bool,
}

impl WindowArgs {
    pub fn window(&self) -> Window {
        let side = |w: &Option<Written>, default: Selector, text: &str| match w {
            Some(w) => (w.selector.clone(), w.text.clone()),
            None => (default, text.to_owned()),
        };
        let (from, from_label) = side(&self.from, Selector::Latest(1), "latest~1");
        let (to, to_label) = side(&self.to, Selector::Latest(0), "latest");
        Window {
            from,
            to,
            skip_failed: self.skip_failed,
            from_label,
            to_label,
        }
    }
}

/// A selector and how it was written, for the report's header.
#[derive(Clone, Debug)]
struct Written {
    text: String,
    selector: Selector,
}

impl std::str::FromStr for Written {
    type Err = crate::snapshot::store::SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Written {
            text: s.to_owned(),
            selector: s.parse()?,
        })
    }
}

/// What to compare.
enum Request {
    Device(String),
    All,
    Files(PathBuf, PathBuf),
}

impl DiffArgs {
    fn request(&self) -> Result<Request, ConfigError> {
        let usage = |why: &str| ConfigError::Unusable(why.to_owned());
        if let Some(device) = &self.device {
            return Ok(Request::Device(device.clone()));
        }
        match (self.all, self.what.as_slice()) {
            (true, []) => Ok(Request::All),
            (true, _) => Err(usage(
                "--all compares the whole store: give no device or files",
            )),
            (false, [device]) if Path::new(device).is_file() => Err(ConfigError::Unusable(
                format!("{device} is a file: give two snapshot files, or a device name"),
            )),
            (false, [device]) => Ok(Request::Device(device.clone())),
            (false, [a, b]) => Ok(Request::Files(a.into(), b.into())),
            (false, _) => Err(usage("give a device name, two snapshot files, or --all")),
        }
    }
}

pub fn run(args: DiffArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(false)?;
    let request = args.request()?;
    let window = args.window.window();
    let store = args.trust.store(&args.store.dir)?;
    let report = match request {
        Request::All => select::all(&store, &window)?,
        Request::Device(device) => select::device(&store, &device, &window)?,
        Request::Files(a, b) => select::files(&store, &a, &b)?,
    };
    let color = args.format == Format::Text && std::io::stdout().is_terminal();
    super::output::print(&render::render(&report, args.format, color));
    for e in &report.errors {
        eprintln!("invmon: skipped unreadable snapshot: {e}");
    }
    Ok(if !report.errors.is_empty() {
        Outcome::Incomplete
    } else if report.has_changes() {
        Outcome::Differences
    } else {
        Outcome::Done
    })
}
