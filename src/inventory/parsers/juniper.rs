//! JUNIPER-MIB jnxBoxAnatomy: the box serial and jnxContentsTable.

use super::{short_view, text};
use crate::inventory::{Item, Parsed, serial};
use crate::walk::oid::oid;
use crate::walk::{Walk, index_text};

const BOX_DESCR: &str = "1.3.6.1.4.1.2636.3.1.2";
const BOX_SERIAL: &str = "1.3.6.1.4.1.2636.3.1.3";
const CONTENTS_ENTRY: &str = "1.3.6.1.4.1.2636.3.1.8.1";
pub const SUBTREES: [&str; 3] = [BOX_DESCR, BOX_SERIAL, CONTENTS_ENTRY];
pub const TABLES: [(&str, &str); 2] = [
    ("JUNIPER-MIB jnxBoxSerialNo", BOX_SERIAL),
    ("jnxContentsTable", CONTENTS_ENTRY),
];

pub fn parse(walk: &Walk) -> Parsed {
    let mut parsed = Parsed::default();
    let scalar = |base: &str| {
        walk.get(&oid(base).child(&[0]))
            .map(|v| v.render().trim().to_owned())
            .unwrap_or_default()
    };
    let box_serial = serial::clean(&scalar(BOX_SERIAL));
    if !box_serial.is_empty() {
        let mut chassis = Item {
            index: "box".into(),
            class: "chassis".into(),
            name: scalar(BOX_DESCR),
            serial: box_serial,
            ..Item::default()
        };
        chassis.ent_physical = short_view(&chassis);
        chassis
            .ent_physical
            .insert("entPhysicalClass".into(), "chassis".into());
        parsed.items.push(chassis);
    }
    // The index is container.L1.L2.L3; all four parts identify the row.
    for (index, row) in &walk.table(&oid(CONTENTS_ENTRY)) {
        let name = text(row, 6);
        let mut item = Item {
            index: index_text(index),
            class: class_from_description(&name).into(),
            description: name.clone(),
            name,
            model: text(row, 10),
            serial: serial::clean(&text(row, 7)),
            hw_rev: text(row, 8),
            ..Item::default()
        };
        item.ent_physical = short_view(&item);
        // The seed files every contents row as a module.
        item.ent_physical
            .insert("entPhysicalClass".into(), "module".into());
        parsed.items.push(item);
    }
    parsed
}

/// jnxContentsDescr carries the component kind in words; map it to the
/// ENTITY-MIB vocabulary so all vendors share one class list.
fn class_from_description(descr: &str) -> &'static str {
    let d = descr.to_ascii_lowercase();
    if d.contains("midplane") || d.contains("backplane") {
        "backplane"
    } else if d.starts_with("pem")
        || d.contains("power")
        || d.starts_with("pdm")
        || d.starts_with("psu")
    {
        "powerSupply"
    } else if d.contains("fan") {
        "fan"
    } else if d.contains("xcvr") || d.contains("sfp") || d.contains("optic") || d.contains("qsfp") {
        "port"
    } else {
        "module"
    }
}

#[cfg(test)]
mod tests {
    use super::class_from_description;

    #[test]
    fn classes_from_words() {
        assert_eq!(class_from_description("PEM 0"), "powerSupply");
        assert_eq!(class_from_description("Top Tray Fan 3"), "fan");
        assert_eq!(class_from_description("Xcvr 0"), "port");
        assert_eq!(class_from_description("midplane"), "backplane");
        assert_eq!(
            class_from_description("FPC: MPC7E 3D 40XGE @ 0/*/*"),
            "module"
        );
    }
}
