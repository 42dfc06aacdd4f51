//! The part of a snapshot a diff compares, read without the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::inventory::Item;
use crate::snapshot::checkin::{INVENTORY_SOURCE, ItemStatus};
use crate::snapshot::codec::Stored;
use crate::snapshot::{Device, Outcome, Status};

/// The fields of a snapshot a comparison needs.
#[derive(Deserialize)]
pub struct Lean {
    #[serde(default)]
    format: String,
    #[serde(default)]
    schema: u32,
    collected_at: DateTime<Utc>,
    device: Device,
    outcome: Outcome,
    checkin: LeanCheckin,
    #[serde(default)]
    tool: LeanTool,
}

#[derive(Default, Deserialize)]
struct LeanTool {
    #[serde(default)]
    collector: String,
}

impl Stored for Lean {
    fn header(&self) -> (&str, u32) {
        (&self.format, self.schema)
    }
    fn device_name(&self) -> &str {
        &self.device.name
    }
    fn collector(&self) -> &str {
        &self.tool.collector
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
    data: Box<RawValue>,
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
    /// items without a usable serial), as their JSON text: most items are
    /// unchanged, and comparing text is far cheaper than parsing it.
    pub items: BTreeMap<String, Box<RawValue>>,
}

/// The item behind a raw `data` value. Snapshots are validated on read, so
/// a value that does not parse becomes an empty item rather than an abort.
pub fn parse(raw: &RawValue) -> Item {
    serde_json::from_str(raw.get()).unwrap_or_default()
}

impl Side {
    /// A side from items in memory (tests, tools).
    pub fn from_items(
        path: &str,
        device: &str,
        collected_at: DateTime<Utc>,
        items: BTreeMap<String, Item>,
    ) -> Side {
        let items = items
            .into_iter()
            .map(|(k, i)| {
                // Items are plain strings and numbers: they always serialize.
                let raw = serde_json::value::to_raw_value(&i)
                    .unwrap_or_else(|_| RawValue::NULL.to_owned());
                (k, raw)
            })
            .collect();
        Side {
            path: path.into(),
            device: device.into(),
            collected_at,
            status: Status::Ok,
            reason: None,
            items,
        }
    }

    pub fn from_lean(path: &Path, lean: Lean) -> Side {
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
        Side {
            path: path.to_owned(),
            device: lean.device.name,
            collected_at: lean.collected_at,
            status: lean.outcome.status,
            reason: lean.outcome.reason,
            items,
        }
    }

    pub fn status(lean: &Lean) -> Status {
        lean.outcome.status
    }
}
