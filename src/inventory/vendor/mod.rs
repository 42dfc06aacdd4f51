//! Which parser reads a device, and which subtrees it needs.
//!
//! Chosen like the seed tool by NetBox platform (`sros` → Nokia, `junos` →
//! Juniper, other known Cisco platforms → ENTITY-MIB with the legacy MIB as
//! fallback); with no or an unknown platform, by sysObjectID's enterprise.

mod cisco_legacy;
mod entity;
mod juniper;
mod nokia;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Item, Parsed, serial};
use crate::snmp::{Oid, Value};
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
            Vendor::Juniper => &juniper::SUBTREES,
            Vendor::Nokia => &nokia::SUBTREES,
        }
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
            Vendor::Juniper => juniper::parse(walk),
            Vendor::Nokia => nokia::parse(walk),
        };
        parsed.items.retain(|i| !i.serial.is_empty());
        serial::flag_issues(&mut parsed.items);
        parsed
    }

    /// True when the primary walk gave no serial, so the fallback is worth walking.
    pub fn needs_fallback(self, walk: &Walk) -> bool {
        !self.fallback_subtrees().is_empty()
            && !entity::parse(walk)
                .items
                .iter()
                .any(|i| !i.serial.is_empty())
    }
}

fn has_any(walk: &Walk, subtrees: &[&str]) -> bool {
    subtrees.iter().any(|s| {
        let prefix: Oid = s.parse().expect("subtree literal");
        walk.subtree(&prefix).next().is_some()
    })
}

/// A column as trimmed display text ("" when absent), the seed's `stripper()`.
fn text(row: &Row<'_>, column: u32) -> String {
    row.get(&column)
        .map(|v| v.render().trim().to_owned())
        .unwrap_or_default()
}

fn int(row: &Row<'_>, column: u32) -> Option<i64> {
    row.get(&column).and_then(|v| Value::as_i64(v))
}

/// The serial column, cleaned; binary octets stay visible as hex.
fn serial_of(value: Option<&&Value>) -> String {
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
