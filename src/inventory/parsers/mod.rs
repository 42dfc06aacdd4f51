//! Which parser reads a device, and which subtrees it needs.
//!
//! Chosen like the seed tool by NetBox platform (`sros` → Nokia, `junos` →
//! Juniper, other known Cisco platforms → ENTITY-MIB with the legacy MIB as
//! fallback); with no or an unknown platform, by sysObjectID's enterprise.
//! Vendor tables come first; ENTITY-MIB rows are always read beside them and
//! add what they lack (Junos Evolved keeps its hardware only there).

mod cisco_legacy;
mod entity;
mod juniper;
mod nokia;

use std::fmt;

use serde::{Deserialize, Serialize};

use std::collections::HashSet;

use super::{Item, Notice, Parsed, serial};
use crate::walk::{Oid, Value};
use crate::walk::{Row, Walk};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// ENTITY-MIB, falling back to OLD-CISCO-CHASSIS-MIB.
    Cisco,
    Juniper,
    Nokia,
    /// ENTITY-MIB only.
    Generic,
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::Cisco => "cisco",
            Vendor::Juniper => "juniper",
            Vendor::Nokia => "nokia",
            Vendor::Generic => "generic",
        })
    }
}

/// Platform names (NetBox platform slug or name, lower-cased) known to be Cisco.
const CISCO_PLATFORMS: [&str; 9] = [
    "ios", "iosxe", "ios-xe", "iosxr", "ios-xr", "nxos", "nx-os", "asa", "catos",
];

impl Vendor {
    /// The parser a platform name selects, or `None` when the platform is
    /// empty or unknown (then sysObjectID decides).
    pub fn from_platform(platform: &str) -> Option<Vendor> {
        let p = platform.trim().to_ascii_lowercase();
        match p.as_str() {
            "" => None,
            "sros" | "timos" | "nokia" | "nokia_sros" => Some(Vendor::Nokia),
            "junos" | "juniper" | "juniper_junos" => Some(Vendor::Juniper),
            _ if p.contains("cisco")
                || CISCO_PLATFORMS
                    .iter()
                    .any(|c| p == *c || p.starts_with(&format!("{c}_"))) =>
            {
                Some(Vendor::Cisco)
            }
            _ => None,
        }
    }

    /// The parser for an agent's sysObjectID (`1.3.6.1.4.1.<enterprise>…`).
    pub fn from_sys_object_id(oid: Option<&Oid>) -> Vendor {
        match oid.map(Oid::arcs) {
            Some([1, 3, 6, 1, 4, 1, 9, ..]) => Vendor::Cisco,
            Some([1, 3, 6, 1, 4, 1, 2636, ..]) => Vendor::Juniper,
            Some([1, 3, 6, 1, 4, 1, 6527, ..]) => Vendor::Nokia,
            _ => Vendor::Generic,
        }
    }

    pub fn choose(platform: &str, sys_object_id: Option<&Oid>) -> Vendor {
        Vendor::from_platform(platform).unwrap_or_else(|| Vendor::from_sys_object_id(sys_object_id))
    }

    /// Subtrees to walk first.
    pub fn subtrees(self) -> &'static [&'static str] {
        match self {
            Vendor::Cisco | Vendor::Generic => &[entity::ENTRY],
            Vendor::Juniper => &JUNIPER_SUBTREES,
            Vendor::Nokia => &NOKIA_SUBTREES,
        }
    }

    /// Every inventory table this parser may read, named for messages.
    fn tables(self) -> Vec<(&'static str, &'static str)> {
        let mut tables = match self {
            Vendor::Juniper => juniper::TABLES.to_vec(),
            Vendor::Nokia => nokia::TABLES.to_vec(),
            Vendor::Cisco | Vendor::Generic => Vec::new(),
        };
        tables.push(entity::TABLE);
        if self == Vendor::Cisco {
            tables.extend(cisco_legacy::TABLES);
        }
        tables
    }

    /// Subtrees to walk when the first ones yield no serials.
    pub fn fallback_subtrees(self) -> &'static [&'static str] {
        match self {
            Vendor::Cisco => &cisco_legacy::SUBTREES,
            _ => &[],
        }
    }

    /// Parses what was walked. Pure: the same walk always gives the same result.
    pub fn parse(self, walk: &Walk) -> Parsed {
        let tables = self.tables();
        if !tables.iter().any(|(_, oid)| has_any(walk, &[oid])) {
            let tried: Vec<String> = tables
                .iter()
                .map(|(name, oid)| format!("{name} ({oid})"))
                .collect();
            return Parsed {
                items: Vec::new(),
                notices: vec![Notice::warning(format!(
                    "the device answered but no inventory table did: tried {}",
                    tried.join(", ")
                ))],
                no_tables: true,
            };
        }
        let mut parsed = match self {
            Vendor::Cisco => {
                let primary = entity::parse(walk);
                if primary.items.iter().any(|i| !i.serial.is_empty())
                    || !has_any(walk, &cisco_legacy::SUBTREES)
                {
                    primary
                } else {
                    let mut legacy = cisco_legacy::parse(walk);
                    legacy.notices.splice(0..0, primary.notices);
                    legacy
                }
            }
            Vendor::Generic => entity::parse(walk),
            Vendor::Juniper => with_entity(juniper::parse(walk), walk),
            Vendor::Nokia => with_entity(nokia::parse(walk), walk),
        };
        parsed.items.retain(|i| !i.serial.is_empty());
        serial::flag_issues(&mut parsed.items);
        parsed
    }

    /// True when the primary walk gave no serial, so the fallback is worth walking.
    pub fn needs_fallback(self, walk: &Walk) -> bool {
        !self.fallback_subtrees().is_empty() && !entity::has_serial(walk)
    }
}

const JUNIPER_SUBTREES: [&str; 4] = [
    juniper::SUBTREES[0],
    juniper::SUBTREES[1],
    juniper::SUBTREES[2],
    entity::ENTRY,
];
const NOKIA_SUBTREES: [&str; 3] = [nokia::SUBTREES[0], nokia::SUBTREES[1], entity::ENTRY];

/// Adds ENTITY-MIB's items to a vendor parser's: all of them when the
/// vendor tables gave no more than a chassis (Junos Evolved has no
/// jnxContentsTable), else those with a serial the vendor tables lack (on
/// classic Junos, ENTITY-MIB also lists optics jnxContentsTable leaves out).
/// A serial is never reported twice; ENTITY-MIB indexes get an `entity.`
/// prefix so they cannot be mistaken for the vendor's.
fn with_entity(mut vendor: Parsed, walk: &Walk) -> Parsed {
    let entity = entity::parse(walk);
    if entity.items.is_empty() {
        return vendor;
    }
    let only_chassis = vendor.items.iter().all(|i| i.class == "chassis");
    if only_chassis {
        let listed: HashSet<&str> = entity.items.iter().map(|i| i.serial.as_str()).collect();
        vendor.items.retain(|i| !listed.contains(i.serial.as_str()));
    }
    let known: HashSet<String> = vendor.items.iter().map(|i| i.serial.clone()).collect();
    let mut added = 0;
    for mut item in entity.items {
        if item.serial.is_empty() || known.contains(&item.serial) {
            continue;
        }
        item.index = format!("entity.{}", item.index);
        item.parent = item.parent.map(|p| format!("entity.{p}"));
        vendor.items.push(item);
        added += 1;
    }
    // ENTITY-MIB's own warnings matter only where it is the inventory.
    if only_chassis {
        vendor.notices.extend(entity.notices);
    }
    if added > 0 {
        vendor.notices.push(Notice::debug(format!(
            "{added} items from ENTITY-MIB that the vendor tables do not list"
        )));
    }
    vendor
}

fn has_any(walk: &Walk, subtrees: &[&str]) -> bool {
    subtrees.iter().any(|s| {
        // Subtrees are literals of this module; one that does not parse has no rows.
        s.parse::<Oid>()
            .is_ok_and(|prefix| walk.subtree(&prefix).next().is_some())
    })
}

/// A column as trimmed display text ("" when absent), the seed's `stripper()`.
fn text(row: Row<'_>, column: u32) -> String {
    let Some(value) = row.get(column) else {
        return String::new();
    };
    let text = value.render();
    // Most cells need no trimming: keep the rendered string rather than copy it.
    if text.trim().len() == text.len() {
        text
    } else {
        text.trim().to_owned()
    }
}

fn int(row: Row<'_>, column: u32) -> Option<i64> {
    row.get(column).and_then(Value::as_i64)
}

/// The serial column, cleaned; binary octets stay visible as hex.
fn serial_of(value: Option<&Value>) -> String {
    value
        .map(|v| serial::clean(&v.render()))
        .unwrap_or_default()
}

/// The five-key view the seed tool builds for its non-Cisco handlers.
fn short_view(item: &Item) -> std::collections::BTreeMap<String, String> {
    [
        ("entPhysicalSerialNum", &item.serial),
        ("entPhysicalModelName", &item.model),
        ("entPhysicalName", &item.name),
        ("entPhysicalClass", &item.class),
        ("entPhysicalDescr", &item.description),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.clone()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_follows_platform_then_enterprise() {
        let oid = |s: &str| s.parse::<Oid>().unwrap();
        assert_eq!(Vendor::choose("SROS", None), Vendor::Nokia);
        assert_eq!(
            Vendor::choose("junos", Some(&oid("1.3.6.1.4.1.9.1.1"))),
            Vendor::Juniper
        );
        assert_eq!(Vendor::choose("ios-xe", None), Vendor::Cisco);
        assert_eq!(
            Vendor::choose("", Some(&oid("1.3.6.1.4.1.2636.1.1.1.2.21"))),
            Vendor::Juniper
        );
        assert_eq!(
            Vendor::choose("eos", Some(&oid("1.3.6.1.4.1.30065.1"))),
            Vendor::Generic
        );
        assert_eq!(
            Vendor::choose("", Some(&oid("1.3.6.1.4.1.6527.1.3.17"))),
            Vendor::Nokia
        );
        assert_eq!(
            Vendor::choose("", Some(&oid("1.3.6.1.4.1.9.1.366"))),
            Vendor::Cisco
        );
        assert_eq!(Vendor::choose("", None), Vendor::Generic);
    }
}

#[cfg(test)]
mod seed_fix_tests {
    //! The seed tool's documented mistakes, fixed on purpose (docs/seed-differences.md).

    use super::*;
    use crate::walk::snmprec;

    fn parse(vendor: Vendor, text: &str) -> Vec<Item> {
        vendor.parse(&snmprec::parse(text, "test").unwrap()).items
    }

    #[test]
    fn juniper_rows_differing_only_in_the_last_index_stay_apart() {
        let items = parse(
            Vendor::Juniper,
            "1.3.6.1.4.1.2636.3.1.8.1.6.7.1.0.1|4|Xcvr 1\n1.3.6.1.4.1.2636.3.1.8.1.6.7.1.0.2|4|Xcvr 2\n\
             1.3.6.1.4.1.2636.3.1.8.1.7.7.1.0.1|4|XCVR00001\n1.3.6.1.4.1.2636.3.1.8.1.7.7.1.0.2|4|XCVR00002\n",
        );
        let ids: Vec<(&str, &str)> = items
            .iter()
            .map(|i| (i.index.as_str(), i.serial.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![("7.1.0.1", "XCVR00001"), ("7.1.0.2", "XCVR00002")]
        );
        assert!(
            items
                .iter()
                .all(|i| i.class == "port" && i.ent_physical["entPhysicalClass"] == "module")
        );
    }

    #[test]
    fn nokia_reads_every_chassis_and_ignores_ports_without_optics() {
        let items = parse(
            Vendor::Nokia,
            "1.3.6.1.4.1.6527.3.1.2.2.1.8.1.5.2.50331649|4|NS00000002\n1.3.6.1.4.1.6527.3.1.2.2.1.8.1.7.2.50331649|2|3\n\
             1.3.6.1.4.1.6527.3.1.2.2.1.8.1.8.2.50331649|4|Chassis 2\n\
             1.3.6.1.4.1.6527.3.1.2.2.4.2.1.25.1.35684352|2|0\n1.3.6.1.4.1.6527.3.1.2.2.4.2.1.45.1.35684352|4|\n\
             1.3.6.1.4.1.6527.3.1.2.2.4.2.1.25.1.35684353|2|17\n1.3.6.1.4.1.6527.3.1.2.2.4.2.1.45.1.35684353|4|QSFP28SN01\n",
        );
        assert_eq!(items.len(), 2);
        assert_eq!(
            (
                items[0].index.as_str(),
                items[0].class.as_str(),
                items[0].name.as_str()
            ),
            ("2.50331649", "chassis", "Chassis 2")
        );
        assert_eq!(items[1].description, "QSFP28 transceiver");
    }

    #[test]
    fn entity_serials_are_cleaned() {
        let items = parse(
            Vendor::Generic,
            "1.3.6.1.2.1.47.1.1.1.1.5.1|2|3\n1.3.6.1.2.1.47.1.1.1.1.11.1|4x|2246444f32353331305a58560a22\n\
             1.3.6.1.2.1.47.1.1.1.1.5.2|2|6\n1.3.6.1.2.1.47.1.1.1.1.11.2|4x|4c49543136313430545238000000\n\
             1.3.6.1.2.1.47.1.1.1.1.5.3|2|9\n1.3.6.1.2.1.47.1.1.1.1.11.3|4x|00ff10e9\n\
             1.3.6.1.2.1.47.1.1.1.1.5.4|2|9\n1.3.6.1.2.1.47.1.1.1.1.11.4|4|BUILTIN\n",
        );
        let serials: Vec<&str> = items.iter().map(|i| i.serial.as_str()).collect();
        assert_eq!(
            serials,
            vec!["FDO25310ZXV", "LIT16140TR8", "0x00ff10e9", "BUILTIN"]
        );
        assert_eq!(items[0].ent_physical["entPhysicalSerialNum"], "FDO25310ZXV");
        assert!(items[2].serial_issue.as_deref().unwrap().contains("binary"));
        assert!(
            items[3]
                .serial_issue
                .as_deref()
                .unwrap()
                .contains("BUILTIN")
        );
        assert!(!items[3].seed_eligible());
    }

    #[test]
    fn legacy_cisco_chassis_serial_is_reported() {
        let walk = "1.3.6.1.4.1.9.3.6.3.0|4|CAT0625X0DP\n1.3.6.1.4.1.9.3.6.11.1.3.5|4|NM-1FE\n1.3.6.1.4.1.9.3.6.11.1.4.5|2|0\n\
                    1.3.6.1.4.1.9.3.6.11.1.7.5|2|1\n1.3.6.1.4.1.9.3.6.11.1.3.6|4|NM-4T\n1.3.6.1.4.1.9.3.6.11.1.4.6|2|12345678\n\
                    1.3.6.1.4.1.9.3.6.11.1.7.6|2|2\n";
        let items = parse(Vendor::Cisco, walk);
        let got: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|i| (i.name.as_str(), i.serial.as_str(), i.class.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Chassis", "CAT0625X0DP", "chassis"),
                ("Slot 2", "12345678", "module")
            ]
        );
    }

    #[test]
    fn missing_serial_column_is_a_warning_not_silence() {
        let parsed = Vendor::Generic
            .parse(&snmprec::parse("1.3.6.1.2.1.47.1.1.1.1.7.1|4|Chassis\n", "t").unwrap());
        assert!(parsed.items.is_empty());
        assert!(
            parsed.notices[0]
                .text
                .contains("no entPhysicalSerialNum column")
        );
    }
}
