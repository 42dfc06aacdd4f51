//! `invmon snapshots list|show|prune`: read snapshots without zstd tools,
//! and thin out old ones.

use crate::text::plural;
use anyhow::Context as _;
use chrono::TimeDelta;
use clap::Subcommand;

use super::output::{outln, reportln};
use super::{Context, Outcome};
use crate::config;
use crate::snapshot::Snapshot;
use crate::snapshot::checkin::{INVENTORY_SOURCE, ItemStatus};
use crate::snapshot::store::{Selector, Store};

#[derive(Subcommand)]
pub enum SnapshotsCommand {
    /// Devices in the store, or one device's snapshots
    List {
        /// Device name
        device: Option<String>,
        #[command(flatten)]
        store: super::StoreArg,
        #[command(flatten)]
        trust: super::TrustArg,
    },
    /// Check the store: every snapshot readable, of a known schema, in its device's directory, and signed by an allowed key
    Verify {
        /// Only this device
        device: Option<String>,
        #[command(flatten)]
        store: super::StoreArg,
        #[command(flatten)]
        trust: super::TrustArg,
    },
    /// Delete old snapshots (and their raw walks), keeping recent ones and each device's newest complete one
    Prune {
        /// Keep this many newest snapshots per device
        #[arg(long, value_name = "N")]
        keep_last: Option<usize>,
        /// Keep snapshots younger than this: a number and a unit, s, min, h, d or w (e.g. 30d, 12h, 2w)
        #[arg(long, value_name = "SPAN", value_parser = config::span)]
        keep_within: Option<TimeDelta>,
        /// Only list what would be deleted
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: super::StoreArg,
        /// Snapshots a ship or bundle ledger there has not taken are kept
        #[command(flatten)]
        state: super::StateArg,
    },
    /// One snapshot as pretty JSON on stdout
    Show {
        /// Device name
        device: String,
        /// latest, latest~N, a snapshot timestamp, an RFC 3339 time or a date
        #[arg(long, value_name = "WHEN", default_value = "latest")]
        at: Selector,
        #[command(flatten)]
        store: super::StoreArg,
        #[command(flatten)]
        trust: super::TrustArg,
    },
}

/// Items a snapshot records as present (ABSENT tombstones are not items).
fn present(snapshot: &Snapshot) -> usize {
    snapshot
        .checkin
        .sources
        .get(INVENTORY_SOURCE)
        .map_or(0, |src| {
            src.managed_items
                .values()
                .filter(|m| m.status == ItemStatus::Present)
                .count()
        })
}

pub fn run(command: SnapshotsCommand, context: &Context<'_>) -> anyhow::Result<Outcome> {
    match command {
        SnapshotsCommand::List {
            device,
            store,
            trust,
        } => {
            context.start_logging(false)?;
            list(&trust.store(&store.dir)?, device.as_deref())
        }
        SnapshotsCommand::Show {
            device,
            at,
            store,
            trust,
        } => {
            context.start_logging(false)?;
            show(&trust.store(&store.dir)?, &device, &at)
        }
        SnapshotsCommand::Verify {
            device,
            store,
            trust,
        } => {
            context.start_logging(false)?;
            let report =
                crate::provenance::check::check(&trust.store(&store.dir)?, device.as_deref())?;
            for p in &report.problems {
                outln!("{p}");
            }
            outln!("{}", report.summary());
            Ok(if report.ok() {
                Outcome::Done
            } else {
                Outcome::Incomplete
            })
        }
        SnapshotsCommand::Prune {
            keep_last,
            keep_within,
            dry_run,
            store,
            state,
        } => {
            context.start_logging(true)?;
            if keep_last.is_none() && keep_within.is_none() {
                return Err(config::ConfigError::Unusable(
                    "give --keep-last N and/or --keep-within SPAN".into(),
                )
                .into());
            }
            prune(
                &Store::new(store.dir),
                &state.state_dir,
                keep_last.unwrap_or(0),
                keep_within,
                dry_run,
            )
        }
    }
}

fn list(store: &Store, device: Option<&str>) -> anyhow::Result<Outcome> {
    let mut trouble = false;
    let Some(device) = device else {
        for device in store.devices()? {
            let list = store.list(&device)?;
            let Some(last) = list.last() else { continue };
            let latest = match store.find::<Snapshot>(&device, &Selector::Latest(0), |_| true) {
                Ok(found) if found.skipped.is_empty() => {
                    format!("{} {}", last.stamp(), found.doc.outcome.status)
                }
                Ok(found) => {
                    trouble = true;
                    format!(
                        "{} unreadable; newest readable {} {}",
                        last.stamp(),
                        found.entry.stamp(),
                        found.doc.outcome.status
                    )
                }
                Err(e) => {
                    trouble = true;
                    format!("{} unreadable: {e}", last.stamp())
                }
            };
            outln!(
                "{device}\t{}\tlatest: {latest}",
                plural(list.len(), "snapshot", "snapshots")
            );
        }
        return Ok(if trouble {
            Outcome::Incomplete
        } else {
            Outcome::Done
        });
    };
    let list = store.list(device)?;
    if list.is_empty() {
        anyhow::bail!(
            "no snapshots of device {device:?} in {}",
            store.root().display()
        );
    }
    for entry in list {
        match store.read(device, &entry) {
            Ok(s) => {
                let reason = s
                    .outcome
                    .reason
                    .as_ref()
                    .map(|r| format!("\t{r}"))
                    .unwrap_or_default();
                outln!(
                    "{}\t{}\t{}{reason}",
                    entry.stamp(),
                    s.outcome.status,
                    plural(present(&s), "item", "items")
                );
            }
            Err(e) => {
                trouble = true;
                outln!("{}\tunreadable\t{e}", entry.stamp());
            }
        }
    }
    Ok(if trouble {
        Outcome::Incomplete
    } else {
        Outcome::Done
    })
}

/// The selected snapshot, or the newest readable one before it when it
/// cannot be read (said on stderr, exit 3).
fn show(store: &Store, device: &str, at: &Selector) -> anyhow::Result<Outcome> {
    let found = store.find::<Snapshot>(device, at, |_| true)?;
    for e in &found.skipped {
        eprintln!("invmon: skipped unreadable snapshot: {e}");
    }
    if !found.skipped.is_empty() {
        eprintln!(
            "invmon: showing the newest readable one before it, {}",
            found.entry.path.display()
        );
    }
    let text = serde_json::to_string_pretty(&found.doc).context("rendering JSON")?;
    outln!("{text}");
    Ok(if found.skipped.is_empty() {
        Outcome::Done
    } else {
        Outcome::Incomplete
    })
}

fn prune(
    store: &Store,
    state: &std::path::Path,
    keep_last: usize,
    keep_within: Option<TimeDelta>,
    dry_run: bool,
) -> anyhow::Result<Outcome> {
    let now = chrono::Utc::now();
    let ledgers = crate::ship::ledger::Ledger::protecting(state, store.root())?;
    let (mut removed, mut kept) = (0usize, 0usize);
    for device in store.devices()? {
        // Keep what some destination has not received yet.
        let shipped = ledgers.iter().map(|l| l.shipped(&device)).min();
        let plan = store.prune_plan(&device, keep_last, keep_within, now, shipped.as_deref())?;
        kept += store.list(&device)?.len() - plan.len();
        for entry in plan {
            let files = if dry_run {
                let raw = entry.raw_path();
                let mut files = vec![entry.path.clone()];
                files.extend(raw.exists().then_some(raw));
                files
            } else {
                store.remove(&entry)?
            };
            for file in files {
                let verb = if dry_run { "would delete" } else { "deleted" };
                reportln!("{verb} {}", file.display());
            }
            removed += 1;
        }
    }
    reportln!(
        "{} {}, {kept} kept",
        plural(removed, "snapshot", "snapshots"),
        if dry_run { "to delete" } else { "deleted" }
    );
    Ok(Outcome::Done)
}
