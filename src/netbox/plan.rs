//! What `ship --to netbox` will write, decided without touching NetBox: the
//! seed tool's merge by serial, then a comparison with the probes NetBox has.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::inventory::Item;

/// Class priority of the seed tool's merge, lowest first; a later class
/// replaces an earlier one with the same serial, and classes not listed lose
/// to every listed one.
const PRIORITY: [&str; 13] = [
    "backplane",
    "container",
    "fan",
    "fans",
    "other",
    "powerSupply",
    "powerSupplies",
    "sensor",
    "sensors",
    "-",
    "module",
    "port",
    "chassis",
];

fn priority(seed_class: &str) -> i32 {
    PRIORITY
        .iter()
        .position(|c| *c == seed_class)
        .map_or(-1, |p| p as i32)
}

/// One row per serial, as the seed uploads them: items the seed would keep
/// (serial ≥ 4 characters, not BUILTIN), merged by serial with its class
/// priority, minus excluded models. Among equal classes the first item (the
/// outer one: the fan tray, not its last fan) keeps the serial, where the
/// seed let the last row read win.
pub fn merge<'a>(items: &'a [Item], model_excludes: &[String]) -> BTreeMap<String, &'a Item> {
    let mut ranked: Vec<(i32, usize, &Item)> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.seed_eligible())
        .map(|(n, i)| {
            (
                priority(
                    i.ent_physical
                        .get("entPhysicalClass")
                        .map_or("", String::as_str),
                ),
                n,
                i,
            )
        })
        .collect();
    // Stable by priority, and within a priority later rows first, so that
    // inserting in order leaves the first row of the highest class.
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut merged = BTreeMap::new();
    for (_, _, item) in ranked {
        merged.insert(item.serial.clone(), item);
    }
    merged.retain(|_, item| !model_excludes.iter().any(|m| m == &item.model));
    merged
}

/// The NetBox device a snapshot belongs to, with what probes describe it by.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRef {
    pub id: u64,
    pub name: String,
    pub site: Option<(u64, String)>,
    pub location: Option<(u64, String)>,
}

impl DeviceRef {
    /// From a `dcim/devices` object.
    pub fn from_api(device: &Json) -> Option<DeviceRef> {
        let named = |v: &Json| {
            v["id"]
                .as_u64()
                .map(|id| (id, v["name"].as_str().unwrap_or("").to_owned()))
        };
        Some(DeviceRef {
            id: device["id"].as_u64()?,
            name: device["name"].as_str()?.to_owned(),
            site: named(&device["site"]),
            location: named(&device["location"]),
        })
    }
}

/// The probe fields the seed compares: any difference means a new probe.
const COMPARED: [&str; 7] = [
    "device_descriptor",
    "site_descriptor",
    "location_descriptor",
    "part",
    "name",
    "description",
    "category",
];

fn cut(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// The probe the seed would write for `item` (with the model's length limits
/// rather than the seed's tighter cuts, and never a blank name).
pub fn probe_fields(item: &Item, device: &DeviceRef) -> serde_json::Map<String, Json> {
    let view = |k: &str| {
        item.ent_physical
            .get(k)
            .map_or("", String::as_str)
            .trim()
            .to_owned()
    };
    let name = [view("entPhysicalName"), view("entPhysicalMfgName")]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or_else(|| "Unknown".to_owned());
    let class = view("entPhysicalClass");
    let mut fields = serde_json::Map::new();
    fields.insert("serial".into(), json!(cut(&item.serial, 255)));
    fields.insert("name".into(), json!(cut(&name, 255)));
    fields.insert(
        "part".into(),
        json!(cut(&view("entPhysicalModelName"), 255)),
    );
    fields.insert("description".into(), json!(view("entPhysicalDescr")));
    fields.insert(
        "category".into(),
        json!(cut(if class.is_empty() { "unknown" } else { &class }, 255)),
    );
    fields.insert("device_descriptor".into(), json!(cut(&device.name, 100)));
    fields.insert(
        "site_descriptor".into(),
        device
            .site
            .as_ref()
            .map_or(Json::Null, |(_, n)| json!(cut(n, 100))),
    );
    fields.insert(
        "location_descriptor".into(),
        device
            .location
            .as_ref()
            .map_or(Json::Null, |(_, n)| json!(cut(n, 100))),
    );
    fields.insert("device".into(), json!(device.id));
    fields.insert(
        "site".into(),
        device.site.as_ref().map_or(Json::Null, |(id, _)| json!(id)),
    );
    fields.insert(
        "location".into(),
        device
            .location
            .as_ref()
            .map_or(Json::Null, |(id, _)| json!(id)),
    );
    let discovered: serde_json::Map<String, Json> = item
        .ent_physical
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    fields.insert("discovered_data".into(), Json::Object(discovered));
    fields
}

/// What one snapshot means for one device's probes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DevicePlan {
    /// New probe bodies (`time` = when the part was seen).
    pub creates: Vec<Json>,
    /// `{id, time}` bodies moving an unchanged probe's time forward.
    pub updates: Vec<Json>,
    /// Probes already at this snapshot's time (a re-run, or an interrupted run).
    pub unchanged: usize,
    /// Parts whose latest probe is newer than this snapshot (a snapshot
    /// shipped late, after a lost ledger): older news writes nothing.
    pub superseded: usize,
    /// The oldest `time` among the device's probes once the plan is
    /// applied (the snapshot's when it has no rows): until that is a touch
    /// interval old, an equal snapshot needs no request.
    #[serde(skip)]
    pub touched: Option<DateTime<Utc>>,
}

impl DevicePlan {
    fn touch(&mut self, t: DateTime<Utc>) {
        self.touched = Some(self.touched.map_or(t, |o| o.min(t)));
    }
}

fn api_time(v: &Json) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Compares merged rows with the device's latest probes (any order; the
/// API's serial filter is a substring match, so serials are matched here,
/// exactly). An unchanged probe's `time` moves to `seen` when the oldest of
/// the device's unchanged probes is `touch` old (zero: on every snapshot, the
/// seed's rule); all of them move together, so a device costs one batch of
/// updates per interval. Pure: the same inputs always give the same plan.
pub fn plan_device(
    rows: &BTreeMap<String, &Item>,
    probes: &[Json],
    device: &DeviceRef,
    seen: DateTime<Utc>,
    touch: TimeDelta,
) -> DevicePlan {
    let mut latest: BTreeMap<&str, &Json> = BTreeMap::new();
    for p in probes {
        let Some(serial) = p["serial"].as_str() else {
            continue;
        };
        let newer = latest
            .get(serial)
            .is_none_or(|q| api_time(&q["time"]) < api_time(&p["time"]));
        if newer {
            latest.insert(serial, p);
        }
    }
    // NetBox keeps microseconds: compare at the precision that is sent.
    let seen = seen.trunc_subsecs(6);
    let time = json!(seen.to_rfc3339_opts(SecondsFormat::Micros, true));
    let mut plan = DevicePlan::default();
    // (probe id, time) of unchanged parts, to touch or leave as one.
    let mut kept: Vec<(&Json, Option<DateTime<Utc>>)> = Vec::new();
    for item in rows.values() {
        let fields = probe_fields(item, device);
        let existing = latest.get(fields["serial"].as_str().unwrap_or(""));
        let at = existing.and_then(|p| api_time(&p["time"]));
        if let Some(t) = at.filter(|t| *t > seen) {
            plan.superseded += 1;
            plan.touch(t);
            continue;
        }
        let same = existing.is_some_and(|p| {
            COMPARED
                .iter()
                .all(|f| normalized(&p[*f]) == normalized(&fields[*f]))
        });
        match existing {
            Some(p) if same => kept.push((&p["id"], at)),
            _ => {
                let mut body = fields;
                body.insert("time".into(), time.clone());
                body.insert("creation_time".into(), time.clone());
                plan.creates.push(Json::Object(body));
                plan.touch(seen);
            }
        }
    }
    // A probe without a readable time is due at once.
    let oldest = kept.iter().map(|(_, t)| *t).min().flatten();
    let due = kept.iter().any(|(_, t)| t.is_none()) || oldest.is_some_and(|t| t + touch <= seen);
    for (id, at) in kept {
        match at {
            Some(t) if t >= seen || !due => {
                plan.unchanged += 1;
                plan.touch(t);
            }
            _ => {
                plan.updates.push(json!({"id": id, "time": time}));
                plan.touch(seen);
            }
        }
    }
    plan.touched = plan.touched.or(Some(seen));
    plan
}

/// What a snapshot's rows say about the device's probes, whatever the
/// device's own fields: equal keys, equal plans.
pub fn row_keys(rows: &BTreeMap<String, &Item>) -> Vec<Vec<Json>> {
    let nowhere = DeviceRef {
        id: 0,
        name: String::new(),
        site: None,
        location: None,
    };
    rows.values()
        .map(|item| {
            let fields = probe_fields(item, &nowhere);
            std::iter::once(&"serial")
                .chain(COMPARED.iter())
                .map(|f| json!(normalized(&fields[*f])))
                .collect()
        })
        .collect()
}

/// NetBox returns "" and null interchangeably for empty text.
fn normalized(v: &Json) -> &str {
    v.as_str().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(serial: &str, class: &str, name: &str, model: &str) -> Item {
        let mut i = Item {
            serial: serial.into(),
            name: name.into(),
            model: model.into(),
            ..Item::default()
        };
        i.ent_physical
            .insert("entPhysicalClass".into(), class.into());
        i
    }

    #[test]
    fn higher_class_wins_and_the_outer_item_among_equals() {
        let items = vec![
            item("SSI183706KP", "stack", "Fabric", "N5K"),
            item("SSI183706KP", "chassis", "Chassis", "N5K"),
            item("ART18381116", "powerSupply", "PowerSupply-1", "PSU"),
            item("ART18381116", "fan", "PowerSupply-1 Fan-1", "PSU"),
            item("ACAD8300", "module", "Top Fan Tray", "740-031521"),
            item("ACAD8300", "module", "Top Tray Fan 1", "740-031521"),
            item("ABC", "module", "too short", "x"),
            item("XCVR0001", "port", "Xcvr 0", "EXCLUDED-MODEL"),
        ];
        let merged = merge(&items, &["EXCLUDED-MODEL".to_owned()]);
        let names: Vec<(&str, &str)> = merged
            .iter()
            .map(|(s, i)| (s.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("ACAD8300", "Top Fan Tray"),
                ("ART18381116", "PowerSupply-1"),
                ("SSI183706KP", "Chassis")
            ]
        );
    }
}
