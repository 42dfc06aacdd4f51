//! ENTITY-MIB (RFC 6933) entPhysicalTable: one item per physical entity.

use std::collections::{BTreeMap, HashMap};

use super::{int, serial_of, text};
use crate::inventory::{Item, Notice, Parsed, entity_class_name, resolve_paths};
use crate::walk::oid::oid;
use crate::walk::{Row, Walk, index_text};

pub const ENTRY: &str = "1.3.6.1.2.1.47.1.1.1.1";
pub const TABLE: (&str, &str) = ("ENTITY-MIB entPhysicalTable", ENTRY);

/// Column number → the seed's key, for the 15 columns it reports.
const COLUMNS: [(u32, &str); 15] = [
    (2, "entPhysicalDescr"),
    (3, "entPhysicalVendorType"),
    (4, "entPhysicalContainedIn"),
    (5, "entPhysicalClass"),
    (6, "entPhysicalParentRelPos"),
    (7, "entPhysicalName"),
    (8, "entPhysicalHardwareRev"),
    (9, "entPhysicalFirmwareRev"),
    (10, "entPhysicalSoftwareRev"),
    (11, "entPhysicalSerialNum"),
    (12, "entPhysicalMfgName"),
    (13, "entPhysicalModelName"),
    (14, "entPhysicalAlias"),
    (15, "entPhysicalAssetID"),
    (16, "entPhysicalIsFRU"),
];

/// True when any entity has a non-empty serial (without parsing the table).
pub fn has_serial(walk: &Walk) -> bool {
    walk.subtree(&oid(ENTRY).child(&[11]))
        .any(|(_, v)| !serial_of(Some(v)).is_empty())
}

pub fn parse(walk: &Walk) -> Parsed {
    let table = walk.table(&oid(ENTRY));
    let mut parsed = Parsed::default();
    // Rows without a serial are not reported (sensors, ports, empty slots:
    // most rows of a large chassis), but their names may be on a reported
    // part's path: looked up by entPhysicalIndex when one is.
    let mut rows = HashMap::new();
    let mut any_serial_column = false;
    for (index, row) in &table {
        if let [single] = index {
            rows.insert(*single, row);
        }
        any_serial_column |= row.has(11);
        let serial = serial_of(row.get(11));
        if serial.is_empty() {
            continue;
        }
        let index = index_text(index);
        let parent = parent_of(row);
        // The seed shows a missing class column as "" and an unknown number as "-".
        let class_number = int(row, 5);
        let seed_class = match class_number {
            Some(n) => entity_class_name(n).unwrap_or("-"),
            None => "",
        };
        let class = class_number
            .and_then(entity_class_name)
            .unwrap_or("unknown")
            .to_owned();
        let is_fru = int(row, 16).map(|v| v == 1);
        let mut view: BTreeMap<String, String> = COLUMNS
            .iter()
            .map(|&(col, key)| (key.to_owned(), text(row, col)))
            .collect();
        view.insert("entPhysicalClass".into(), seed_class.into());
        view.insert("entPhysicalSerialNum".into(), serial.clone());
        view.insert(
            "entPhysicalIsFRU".into(),
            if is_fru == Some(true) {
                "true"
            } else {
                "false"
            }
            .into(),
        );
        parsed.items.push(Item {
            index,
            class,
            name: text(row, 7),
            description: text(row, 2),
            model: text(row, 13),
            serial,
            hw_rev: text(row, 8),
            fw_rev: text(row, 9),
            sw_rev: text(row, 10),
            mfg: text(row, 12),
            is_fru,
            parent,
            path: Vec::new(),
            serial_issue: None,
            ent_physical: view,
        });
    }
    if !table.is_empty() && !any_serial_column {
        parsed.notices.push(Notice::warning(format!(
            "ENTITY-MIB lists {} physical entities but the agent returns no entPhysicalSerialNum column: no serials to report",
            table.len()
        )));
    }
    resolve_paths(&mut parsed.items, |index| {
        let row = rows.get(&index.parse::<u32>().ok()?)?;
        Some((text(*row, 7), parent_of(*row)))
    });
    parsed
}

/// entPhysicalContainedIn, when the entity is inside another.
fn parent_of(row: Row<'_>) -> Option<String> {
    int(row, 4).filter(|&p| p > 0).map(|p| p.to_string())
}
