//! Shipping snapshots to destinations, plan first, then apply: the plan says
//! which snapshot goes where (shown by `--dry-run`); applying sends it and
//! records it in the destination's ledger, so a re-run sends nothing new.

pub mod ledger;
pub mod sal;

use crate::snapshot::Status;
use crate::snapshot::store::{Entry, Store};
use crate::snapshot::{Snapshot, codec};
use ledger::Ledger;

/// What to do for one device.
#[derive(Debug)]
pub enum Step {
    /// Send this snapshot (the newest complete one, newer than the last sent).
    Send {
        device: String,
        entry: Entry,
        snapshot: Box<Snapshot>,
    },
    /// The newest complete snapshot was already sent.
    UpToDate { device: String, stamp: String },
    /// No complete snapshot to send: sending an incomplete one would make
    /// the destination forget parts that were simply not read.
    NothingComplete { device: String },
    /// A snapshot that should be considered could not be read.
    Unreadable { device: String, error: String },
}

/// Plans one shipment per device (optionally only `only`). Never picks an
/// older snapshot than the one the ledger records.
pub fn plan(
    store: &Store,
    ledger: &Ledger,
    only: Option<&str>,
) -> Result<Vec<Step>, crate::snapshot::store::StoreError> {
    let devices = match only {
        Some(d) => vec![d.to_owned()],
        None => store.devices()?,
    };
    let mut steps = Vec::new();
    for dir in devices {
        let list = store.list(&dir)?;
        let mut step = Step::NothingComplete {
            device: dir.clone(),
        };
        for entry in list.iter().rev() {
            match codec::read(&entry.path) {
                Ok(s) if s.outcome.status == Status::Ok => {
                    let device = s.device.name.clone();
                    step = match ledger.devices.get(&device) {
                        Some(sent) if sent.snapshot >= entry.stamp() => Step::UpToDate {
                            device,
                            stamp: sent.snapshot.clone(),
                        },
                        _ => Step::Send {
                            device,
                            entry: entry.clone(),
                            snapshot: Box::new(s),
                        },
                    };
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    step = Step::Unreadable {
                        device: dir.clone(),
                        error: e.to_string(),
                    };
                    break;
                }
            }
        }
        steps.push(step);
    }
    Ok(steps)
}
