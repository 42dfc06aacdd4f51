//! Hardware inventory: items as the vendor parsers report them, serial hygiene,
//! and the vendor dispatch.

pub mod os;
pub mod parsers;
pub mod serial;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One physical component with a serial number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The vendor-native identity of the row (entPhysicalIndex,
    /// jnxContents `container.L1.L2.L3`, TiMOS `chassis.hwIndex`, …).
    pub index: String,
    /// ENTITY-MIB class vocabulary: chassis, backplane, container,
    /// powerSupply, fan, sensor, module, port, stack, cpu, other, unknown.
    pub class: String,
    pub name: String,
    pub description: String,
    pub model: String,
    pub serial: String,
    pub hw_rev: String,
    pub fw_rev: String,
    pub sw_rev: String,
    pub mfg: String,
    pub is_fru: Option<bool>,
    /// Index of the containing item, when the MIB says.
    pub parent: Option<String>,
    /// Names of the containing items, outermost first.
    pub path: Vec<String>,
    /// Why `serial` is not a trustworthy identity (placeholder, duplicate, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_issue: Option<String>,
    /// The seed tool's `entPhysical*` view of the item (what `ship` puts
    /// into NetBox's `discovered_data`), with its documented errors fixed.
    #[serde(rename = "entPhysical")]
    pub ent_physical: BTreeMap<String, String>,
}

impl Item {
    /// True when the seed tool would have kept this item (serial of at
    /// least 4 characters, not `BUILTIN`).
    pub fn seed_eligible(&self) -> bool {
        serial::seed_accepts(&self.serial)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Error,
    Warning,
    Debug,
    Other,
}

/// Something a parser or the collector noticed that the reader should know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub severity: Severity,
    pub text: String,
}

impl Notice {
    pub fn warning(text: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            text: text.into(),
        }
    }

    pub fn debug(text: impl Into<String>) -> Self {
        Self {
            severity: Severity::Debug,
            text: text.into(),
        }
    }
}

/// What a parser made of a walk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub items: Vec<Item>,
    pub notices: Vec<Notice>,
    /// No inventory table answered at all (not even an empty one can be told
    /// from a missing one over SNMP): nothing here proves a part absent.
    pub no_tables: bool,
}

/// ENTITY-MIB PhysicalClass names, 1-based.
pub const ENTITY_CLASSES: [&str; 12] = [
    "other",
    "unknown",
    "chassis",
    "backplane",
    "container",
    "powerSupply",
    "fan",
    "sensor",
    "module",
    "port",
    "stack",
    "cpu",
];

pub fn entity_class_name(number: i64) -> Option<&'static str> {
    usize::try_from(number)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| ENTITY_CLASSES.get(i))
        .copied()
}

/// Fills `path` from `parent` links, guarding against cycles. `node` gives
/// an index's name and parent: looked up only for the ancestors of reported
/// items, so a parser need not name every row of a large table.
pub(crate) fn resolve_paths(
    items: &mut [Item],
    node: impl Fn(&str) -> Option<(String, Option<String>)>,
) {
    for item in items.iter_mut() {
        let mut path = Vec::new();
        let mut cursor = item.parent.clone();
        while let Some(index) = cursor {
            let Some((name, parent)) = node(&index) else {
                break;
            };
            if path.len() >= 32 {
                break;
            }
            if !name.is_empty() {
                path.push(name);
            }
            cursor = parent;
        }
        path.reverse();
        item.path = path;
    }
}
