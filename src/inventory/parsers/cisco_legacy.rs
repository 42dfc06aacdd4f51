//! OLD-CISCO-CHASSIS-MIB: chassisSerialNumberString and cardTable, for Cisco
//! devices without ENTITY-MIB serials.

use super::{int, short_view, text};
use crate::inventory::{Item, Parsed, serial};
use crate::walk::oid::oid;
use crate::walk::{Walk, index_text};

const CHASSIS_SERIAL: &str = "1.3.6.1.4.1.9.3.6.3";
const CARD_ENTRY: &str = "1.3.6.1.4.1.9.3.6.11.1";
pub const SUBTREES: [&str; 2] = [CHASSIS_SERIAL, CARD_ENTRY];
pub const TABLES: [(&str, &str); 2] = [
    (
        "OLD-CISCO-CHASSIS-MIB chassisSerialNumberString",
        CHASSIS_SERIAL,
    ),
    ("cardTable", CARD_ENTRY),
];

pub fn parse(walk: &Walk) -> Parsed {
    let mut parsed = Parsed::default();
    if let Some(value) = walk.get(&oid(CHASSIS_SERIAL).child(&[0])) {
        let mut item = Item {
            index: "chassis".into(),
            class: "chassis".into(),
            name: "Chassis".into(),
            serial: serial::clean(&value.render()),
            ..Item::default()
        };
        item.ent_physical = short_view(&item);
        parsed.items.push(item);
    }
    for (index, row) in &walk.table(&oid(CARD_ENTRY)) {
        // cardSerial (column 4) is an INTEGER; 0 means the card has none.
        let serial = int(row, 4)
            .filter(|&n| n != 0)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let mut item = Item {
            index: index_text(index),
            class: "module".into(),
            name: format!("Slot {}", text(row, 7)),
            description: text(row, 3),
            serial,
            hw_rev: text(row, 5),
            sw_rev: text(row, 6),
            parent: int(row, 8).filter(|&p| p > 0).map(|p| p.to_string()),
            ..Item::default()
        };
        item.ent_physical = short_view(&item);
        parsed.items.push(item);
    }
    parsed
}
