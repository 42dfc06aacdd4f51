//! TIMETRA-CHASSIS-MIB tmnxHwTable and TIMETRA-PORT-MIB tmnxPortTable (SR OS).

use std::collections::BTreeMap;

use super::{int, serial_of, short_view, text};
use crate::inventory::{Item, Parsed, resolve_paths};
use crate::walk::oid::oid;
use crate::walk::{Walk, index_text};

const HW_ENTRY: &str = "1.3.6.1.4.1.6527.3.1.2.2.1.8.1";
const PORT_ENTRY: &str = "1.3.6.1.4.1.6527.3.1.2.2.4.2.1";
pub const SUBTREES: [&str; 2] = [HW_ENTRY, PORT_ENTRY];
pub const TABLES: [(&str, &str); 2] = [
    ("TIMETRA-CHASSIS-MIB tmnxHwTable", HW_ENTRY),
    ("TIMETRA-PORT-MIB tmnxPortTable", PORT_ENTRY),
];

/// tmnxHwClass → (ENTITY-MIB class, class the seed tool reports).
/// The seed reports chassis (3) and I/O, CPM, fabric and MDA cards (8–11,
/// as `-`) and drops every other class; invmon keeps them all.
fn hw_class(n: i64) -> (&'static str, &'static str) {
    match n {
        3 => ("chassis", "chassis"),
        4 => ("backplane", "backplane"),
        5 => ("powerSupply", "powerSupply"),
        6 => ("fan", "fan"),
        7 => ("sensor", "sensor"),
        8..=11 => ("module", "-"),
        12 => ("module", "module"), // flash disk
        13 => ("port", "port"),
        21 => ("container", "container"), // power shelf
        _ => ("module", "module"),        // power shelf controllers, CPM carriers, XIOMs, …
    }
}

/// tmnxPortTransceiverType → description. 1–14 as the seed tool names them;
/// later codes it calls "(unknown transceiver)".
fn transceiver(code: Option<i64>) -> String {
    let name = match code {
        Some(1) => "GBIC",
        Some(3) => "SFP",
        Some(4) => "XBI",
        Some(5) => "XENPAK",
        Some(6) => "XFP",
        Some(7) => "XFF",
        Some(8) => "XFP-E",
        Some(9) => "XPAK",
        Some(10) => "X2",
        Some(11) => "DWDM SFP",
        Some(12) => "QSFP",
        Some(13) => "QSFP+",
        Some(14) => "CFP",
        Some(17) => "QSFP28",
        Some(24) => "QSFP-DD",
        Some(25) => "CFP2-DCO",
        Some(n) if n > 0 => return format!("transceiver (type {n})"),
        _ => return "(unknown transceiver)".into(),
    };
    format!("{name} transceiver")
}

pub fn parse(walk: &Walk) -> Parsed {
    let mut parsed = Parsed::default();
    let mut names = BTreeMap::new();
    for (index, row) in &walk.table(&oid(HW_ENTRY)) {
        // Index is chassis.hwIndex; containment (column 13) is a hwIndex in the same chassis.
        let chassis = index.first().copied().unwrap_or(1);
        let key = index_text(index);
        let parent = int(row, 13)
            .filter(|&p| p > 0)
            .map(|p| format!("{chassis}.{p}"));
        names.insert(key.clone(), (text(row, 8), parent.clone()));
        let serial = serial_of(row.get(5));
        if serial.is_empty() {
            continue;
        }
        let (class, seed_class) = hw_class(int(row, 7).unwrap_or(0));
        let mut item = Item {
            index: key,
            class: class.into(),
            name: text(row, 8),
            model: text(row, 4),
            serial,
            is_fru: int(row, 12).map(|v| v == 1),
            parent,
            ..Item::default()
        };
        item.ent_physical = short_view(&item);
        item.ent_physical
            .insert("entPhysicalClass".into(), seed_class.into());
        parsed.items.push(item);
    }
    for (index, row) in &walk.table(&oid(PORT_ENTRY)) {
        // Only ports with a transceiver serial describe hardware.
        let serial = serial_of(row.get(45));
        if serial.is_empty() {
            continue;
        }
        let mut item = Item {
            index: format!("port.{}", index_text(index)),
            class: "port".into(),
            name: text(row, 6),
            description: transceiver(int(row, 25)),
            model: text(row, 46),
            serial,
            is_fru: Some(true),
            ..Item::default()
        };
        item.ent_physical = short_view(&item);
        parsed.items.push(item);
    }
    resolve_paths(&mut parsed.items, |index| names.get(index).cloned());
    parsed
}
