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
