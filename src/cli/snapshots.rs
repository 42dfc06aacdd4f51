//! `invmon snapshots list|show`: read snapshots without zstd tools.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tracing_subscriber::filter::LevelFilter;

use crate::snapshot::checkin::INVENTORY_SOURCE;
use crate::snapshot::codec;
use crate::snapshot::store::{Selector, Store};

#[derive(Subcommand)]
pub enum SnapshotsCommand {
    /// Devices in the store, or one device's snapshots
    List {
        /// Device name
        device: Option<String>,
        #[command(flatten)]
        store: super::StoreArg,
    },
    /// Delete old snapshots (and their raw walks), keeping recent ones and each device's newest complete one
    Prune {
        /// Keep this many newest snapshots per device
        #[arg(long, value_name = "N", default_value = "0")]
        keep_last: usize,
        /// Keep snapshots younger than this (e.g. 30d, 12h, 2w)
        #[arg(long, value_name = "DURATION")]
        keep_within: Option<String>,
        /// Only list what would be deleted
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: super::StoreArg,
    },
    /// One snapshot as pretty JSON on stdout
    Show {
        /// Device name
        device: String,
        /// latest, latest~N, a snapshot timestamp, an RFC 3339 time or a date
        #[arg(long, value_name = "WHEN", default_value = "latest")]
        at: String,
        #[command(flatten)]
        store: super::StoreArg,
    },
}

pub fn run(command: SnapshotsCommand, level: LevelFilter) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(level, None).map_err(anyhow::Error::msg)?;
    match command {
        SnapshotsCommand::List {
            device: None,
            store,
        } => {
            let store = Store::new(store.dir);
            for device in store.devices()? {
                let list = store.list(&device)?;
                let Some(last) = list.last() else { continue };
                let status = codec::read(&last.path).map_or_else(
                    |e| format!("unreadable: {e}"),
                    |s| s.outcome.status.to_string(),
                );
                println!(
                    "{device}\tsnapshots: {}\tlatest: {} {status}",
                    list.len(),
                    last.stamp()
                );
            }
        }
        SnapshotsCommand::List {
            device: Some(device),
            store,
        } => {
            let store = Store::new(store.dir);
            let list = store.list(&device)?;
            if list.is_empty() {
                anyhow::bail!(
                    "no snapshots of device {device:?} in {}",
                    store.root().display()
                );
            }
            for entry in list {
                match codec::read(&entry.path) {
                    Ok(s) => {
                        let items = s
                            .checkin
                            .sources
                            .get(INVENTORY_SOURCE)
                            .map_or(0, |src| src.managed_items.len());
                        let reason = s
                            .outcome
                            .reason
                            .map(|r| format!("\t{r}"))
                            .unwrap_or_default();
                        println!(
                            "{}\t{}\t{items} items{reason}",
                            entry.stamp(),
                            s.outcome.status
                        );
                    }
                    Err(e) => println!("{}\tunreadable\t{e}", entry.stamp()),
                }
            }
        }
        SnapshotsCommand::Prune {
            keep_last,
            keep_within,
            dry_run,
            store,
        } => {
            let within = keep_within.as_deref().map(parse_duration).transpose()?;
            if keep_last == 0 && within.is_none() {
                anyhow::bail!("give --keep-last N and/or --keep-within DURATION");
            }
            let store = Store::new(store.dir);
            let now = chrono::Utc::now();
            let ledgers = crate::ship::ledger::Ledger::all(store.root())?;
            let (mut removed, mut kept) = (0usize, 0usize);
            for device in store.devices()? {
                // Keep what some destination has not received yet.
                let shipped = ledgers.iter().map(|l| l.shipped(&device)).min();
                let plan = store.prune_plan(&device, keep_last, within, now, shipped.as_deref())?;
                kept += store.list(&device)?.len() - plan.len();
                for entry in plan {
                    if !dry_run {
                        store.remove(&entry)?;
                    }
                    println!(
                        "{} {}",
                        if dry_run { "would delete" } else { "deleted" },
                        entry.path.display()
                    );
                    removed += 1;
                }
            }
            println!(
                "{removed} snapshots {}, {kept} kept",
                if dry_run { "to delete" } else { "deleted" }
            );
        }
        SnapshotsCommand::Show { device, at, store } => {
            let selector: Selector = at
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--at {e}"))?;
            let store = Store::new(store.dir);
            let entry = store.select(&device, &selector)?;
            let snapshot = codec::read(&entry.path)?;
            let text = serde_json::to_string_pretty(&snapshot).context("rendering JSON")?;
            println!("{text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `30d`, `12h`, `90m`, `2w`, `45s`.
fn parse_duration(text: &str) -> anyhow::Result<chrono::TimeDelta> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = number.parse().map_err(|_| {
        anyhow::anyhow!("--keep-within {text:?}: expected a number and a unit (s, m, h, d, w)")
    })?;
    Ok(match unit {
        "s" => chrono::TimeDelta::seconds(n),
        "m" => chrono::TimeDelta::minutes(n),
        "h" => chrono::TimeDelta::hours(n),
        "d" | "" => chrono::TimeDelta::days(n),
        "w" => chrono::TimeDelta::weeks(n),
        _ => anyhow::bail!("--keep-within {text:?}: unknown unit {unit:?} (s, m, h, d, w)"),
    })
}
