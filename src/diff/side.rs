//! The part of a snapshot a diff compares, read without the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::inventory::Item;
use crate::snapshot::checkin::{INVENTORY_SOURCE, ItemStatus};
use crate::snapshot::codec::{self, CodecError, Stored};
use crate::snapshot::{Device, Outcome, Status};

#[derive(Deserialize)]
struct Lean {
    #[serde(default)]
    format: String,
    #[serde(default)]
    schema: u32,
    collected_at: DateTime<Utc>,
    device: Device,
    outcome: Outcome,
    checkin: LeanCheckin,
}

impl Stored for Lean {
    fn header(&self) -> (&str, u32) {
        (&self.format, self.schema)
    }
}

#[derive(Deserialize)]
struct LeanCheckin {
    #[serde(rename = "SNMP Inventory", default)]
    inventory: Option<LeanSource>,
}

#[derive(Deserialize)]
struct LeanSource {
    #[serde(default)]
    managed_items: BTreeMap<String, LeanManaged>,
}

#[derive(Deserialize)]
struct LeanManaged {
    status: ItemStatus,
    data: Item,
}

/// One side of a comparison: a snapshot's identity, outcome and present items.
#[derive(Clone, Debug)]
pub struct Side {
    pub path: PathBuf,
    pub device: String,
    pub collected_at: DateTime<Utc>,
    pub status: Status,
    pub reason: Option<String>,
    /// Present items by managed-item key (the serial, or a position for
    /// items without a usable serial).
    pub items: BTreeMap<String, Item>,
}

impl Side {
    pub fn read(path: &Path) -> Result<Side, CodecError> {
        let lean: Lean = codec::read_as(path)?;
        debug_assert_eq!(INVENTORY_SOURCE, "SNMP Inventory");
        let items = lean
            .checkin
            .inventory
            .map(|s| {
                s.managed_items
                    .into_iter()
                    .filter(|(_, m)| m.status == ItemStatus::Present)
                    .map(|(k, m)| (k, m.data))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Side {
            path: path.to_owned(),
            device: lean.device.name,
            collected_at: lean.collected_at,
            status: lean.outcome.status,
            reason: lean.outcome.reason,
            items,
        })
    }
}
