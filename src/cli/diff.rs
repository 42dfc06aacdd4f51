//! `invmon diff`: what changed between snapshots, offline.
//!
//! Exit codes as diff(1): 0 no differences, 1 differences, 2 trouble
//! (including snapshots that could not be read; the rest is still compared).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use tracing_subscriber::filter::LevelFilter;

use crate::diff::render::{self, Format};
use crate::diff::{self, DeviceEvent, Pair, Side};
use crate::snapshot::Status;
use crate::snapshot::store::{Entry, Selector, Store, StoreError};

#[derive(Args)]
pub struct DiffArgs {
    /// A device name, or two snapshot files to compare
    #[arg(value_name = "DEVICE | FILE FILE", num_args = 0..=2)]
    what: Vec<String>,
    /// Every device in the store, each as of --from and as of --to
    #[arg(long)]
    all: bool,
    /// Older side: latest, latest~N, a timestamp or its prefix, an RFC 3339 time, a date, or a file [default: latest~1]
    #[arg(long, value_name = "SEL")]
    from: Option<String>,
    /// Newer side, as --from [default: latest]
    #[arg(long, value_name = "SEL")]
    to: Option<String>,
    /// Compare with the newest complete snapshot instead of a failed or partial one
    #[arg(long)]
    skip_failed: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    store: super::StoreArg,
}

const DIFF_TROUBLE: u8 = 2;

/// `None` when the selector finds nothing (the device is new, or gone).
fn pick(store: &Store, device: &str, selector: &Selector) -> Result<Option<Entry>, String> {
    match store.select(device, selector) {
        Ok(e) => Ok(Some(e)),
        Err(
            StoreError::NoSnapshots { .. }
            | StoreError::OutOfRange { .. }
            | StoreError::NothingBefore { .. },
        ) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads a side; with `skip_failed`, an incomplete one is replaced by the
/// newest complete snapshot before it, and noted.
fn side(
    store: &Store,
    device: &str,
    entry: &Entry,
    skip_failed: bool,
    label: &'static str,
    skipped: &mut Vec<DeviceEvent>,
) -> Result<Side, String> {
    let side = Side::read(&entry.path).map_err(|e| e.to_string())?;
    if !skip_failed || side.status == Status::Ok {
        return Ok(side);
    }
    let older = store.list(device).map_err(|e| e.to_string())?;
    for candidate in older.iter().rev().filter(|e| e.taken < entry.taken) {
        if let Ok(ok) = Side::read(&candidate.path)
            && ok.status == Status::Ok
        {
            skipped.push(DeviceEvent::Incomplete {
                side: label,
                status: side.status,
                reason: side.reason.clone().unwrap_or_default(),
                replaced_by: Some(candidate.stamp()),
            });
            return Ok(ok);
        }
    }
    Ok(side)
}

fn resolve(
    store: &Store,
    device: &str,
    from: &Selector,
    to: &Selector,
    skip_failed: bool,
) -> Result<Pair, String> {
    let mut events = Vec::new();
    let (from_entry, to_entry) = (pick(store, device, from)?, pick(store, device, to)?);
    if let (Some(f), Some(t)) = (&from_entry, &to_entry)
        && f.path == t.path
        && from != to
    {
        // Both points in time land on the same snapshot: nothing newer was collected.
        let side = Side::read(&f.path).map_err(|e| e.to_string())?;
        events.push(DeviceEvent::Missing {
            last_seen: side.collected_at,
        });
        return Ok(Pair {
            device: side.device.clone(),
            from: Some(side),
            to: None,
            events,
        });
    }
    let from_side = match from_entry {
        Some(e) => Some(side(store, device, &e, skip_failed, "from", &mut events)?),
        None => None,
    };
    let to_side = match to_entry {
        Some(e) => Some(side(store, device, &e, skip_failed, "to", &mut events)?),
        None => None,
    };
    let name = to_side
        .as_ref()
        .or(from_side.as_ref())
        .map_or_else(|| device.to_owned(), |s| s.device.clone());
    Ok(Pair {
        device: name,
        from: from_side,
        to: to_side,
        events,
    })
}

fn selector(text: &Option<String>, default: &str, flag: &str) -> anyhow::Result<Selector> {
    text.as_deref()
        .unwrap_or(default)
        .parse()
        .map_err(|e: String| anyhow::anyhow!("{flag} {e}"))
}

fn build(args: &DiffArgs) -> anyhow::Result<diff::Report> {
    let store = Store::new(&args.store.dir);
    let from_text = args.from.clone().unwrap_or_else(|| "latest~1".into());
    let to_text = args.to.clone().unwrap_or_else(|| "latest".into());
    let from = selector(&args.from, "latest~1", "--from")?;
    let to = selector(&args.to, "latest", "--to")?;
    match (args.all, args.what.as_slice()) {
        (true, []) => {
            let devices = store.devices()?;
            Ok(diff::compare_streaming(
                devices,
                |d| resolve(&store, d, &from, &to, args.skip_failed),
                &from_text,
                &to_text,
            ))
        }
        (true, _) => bail!("--all compares the whole store: give no device or files"),
        (false, [device]) => {
            if Path::new(device).is_file() {
                bail!("{device} is a file: give two snapshot files, or a device name");
            }
            if store.list(device)?.is_empty() {
                bail!(
                    "no snapshots of device {device:?} in {}",
                    store.root().display()
                );
            }
            let pair = resolve(&store, device, &from, &to, args.skip_failed)
                .map_err(anyhow::Error::msg)?;
            Ok(diff::compare(vec![pair], &from_text, &to_text, Vec::new()))
        }
        (false, [a, b]) => {
            let (a_side, b_side) = (Side::read(Path::new(a))?, Side::read(Path::new(b))?);
            let device = if a_side.device == b_side.device {
                b_side.device.clone()
            } else {
                format!("{} → {}", a_side.device, b_side.device)
            };
            let pair = Pair {
                device,
                from: Some(a_side),
                to: Some(b_side),
                events: Vec::new(),
            };
            Ok(diff::compare(vec![pair], a, b, Vec::new()))
        }
        (false, _) => bail!("give a device name, two snapshot files, or --all"),
    }
}

pub fn run(args: DiffArgs, level: LevelFilter) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(level, None).map_err(anyhow::Error::msg)?;
    let report = match build(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("invmon: {e:#}");
            return Ok(ExitCode::from(DIFF_TROUBLE));
        }
    };
    let color = args.format == Format::Text && std::io::stdout().is_terminal();
    print!("{}", render::render(&report, args.format, color));
    for e in &report.errors {
        eprintln!("invmon: skipped unreadable snapshot: {e}");
    }
    Ok(ExitCode::from(if !report.errors.is_empty() {
        DIFF_TROUBLE
    } else if report.has_changes() {
        1
    } else {
        0
    }))
}
