//! The Sal 4 checkin document a snapshot carries: `Machine`, `Sal`, the
//! inventory management source, further sources from checkin modules, and
//! `plugin_results`.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use super::codec::Stored;
use super::store::Whose;
use super::{Device, Outcome, Snapshot, Status};
use crate::inventory::{Item, Notice, Severity};

/// Name of the management source that holds the hardware items.
pub const INVENTORY_SOURCE: &str = "SNMP Inventory";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkin {
    #[serde(rename = "Machine")]
    pub machine: Source,
    #[serde(rename = "Sal")]
    pub sal: Source,
    /// The inventory source and any added by checkin modules, by name.
    #[serde(flatten)]
    pub sources: BTreeMap<String, Source>,
    pub plugin_results: Vec<Json>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub managed_items: BTreeMap<String, ManagedItem>,
    #[serde(default)]
    pub extra_data: Map<String, Json>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub text: String,
    pub message_type: Severity,
    pub date: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ItemStatus {
    Present,
    Absent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManagedItem {
    /// Since when the item has had this status.
    pub date_managed: String,
    pub status: ItemStatus,
    pub data: ItemData,
}

impl ManagedItem {
    /// The inventory item this entry describes.
    pub fn item(&self) -> Option<Item> {
        match &self.data {
            ItemData::Collected(item) => Some((**item).clone()),
            // Read from the tree where it is: no copy of it first.
            ItemData::Json(json) => Item::deserialize(json).ok(),
        }
    }
}

/// An item's data: the item as serialized with its Sal type added last.
/// One just collected is kept as the item itself and serialized straight
/// into the snapshot, without a JSON tree in between (most of a
/// snapshot's bytes are items); data read back or given by a module is JSON.
#[derive(Clone, Debug)]
pub enum ItemData {
    Collected(Box<Item>),
    Json(Json),
}

impl ItemData {
    pub fn to_json(&self) -> Json {
        match self {
            ItemData::Collected(_) => serde_json::to_value(self).unwrap_or_default(),
            ItemData::Json(json) => json.clone(),
        }
    }
}

impl From<Json> for ItemData {
    fn from(json: Json) -> Self {
        ItemData::Json(json)
    }
}

/// Equal when their JSON is, whichever form each is in.
impl PartialEq for ItemData {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ItemData::Collected(a), ItemData::Collected(b)) => a == b,
            (ItemData::Json(a), ItemData::Json(b)) => a == b,
            _ => self.to_json() == other.to_json(),
        }
    }
}

impl Serialize for ItemData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Typed<'a> {
            #[serde(flatten)]
            item: &'a Item,
            r#type: &'static str,
        }
        match self {
            ItemData::Collected(item) => Typed {
                item,
                r#type: type_name(&item.class),
            }
            .serialize(s),
            ItemData::Json(json) => json.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ItemData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Json::deserialize(d).map(ItemData::Json)
    }
}

/// What a new snapshot takes from the device's last complete one: each
/// item's status and date, its data as JSON text (only the items found gone
/// are read), and the machine serial. Read without the rest: a run reads one
/// per device.
#[derive(Deserialize)]
pub struct Previous {
    #[serde(flatten)]
    whose: Whose,
    pub outcome: Outcome,
    checkin: PreviousCheckin,
}

#[derive(Deserialize)]
struct PreviousCheckin {
    #[serde(rename = "Machine", default)]
    machine: PreviousMachine,
    #[serde(rename = "SNMP Inventory", default)]
    inventory: PreviousSource,
}

#[derive(Default, Deserialize)]
struct PreviousMachine {
    #[serde(default)]
    extra_data: PreviousExtra,
}

#[derive(Default, Deserialize)]
struct PreviousExtra {
    serial: Option<Json>,
}

#[derive(Default, Deserialize)]
struct PreviousSource {
    #[serde(default)]
    managed_items: BTreeMap<String, PreviousItem>,
}

#[derive(Deserialize)]
struct PreviousItem {
    date_managed: String,
    status: ItemStatus,
    data: Box<RawValue>,
}

impl Stored for Previous {
    fn header(&self) -> (&str, u32) {
        self.whose.header()
    }
    fn device_name(&self) -> &str {
        self.whose.device_name()
    }
    fn collector(&self) -> &str {
        self.whose.collector()
    }
}

impl Previous {
    /// Items it records as present.
    pub fn present_count(&self) -> usize {
        let items = self.checkin.inventory.managed_items.values();
        items.filter(|m| m.status == ItemStatus::Present).count()
    }

    fn serial(&self) -> Option<&str> {
        self.checkin.machine.extra_data.serial.as_ref()?.as_str()
    }
}

/// The same view of a snapshot in memory.
impl From<&Snapshot> for Previous {
    fn from(s: &Snapshot) -> Previous {
        let inventory = s.checkin.sources.get(INVENTORY_SOURCE);
        let managed_items = inventory
            .into_iter()
            .flat_map(|source| &source.managed_items)
            .map(|(key, m)| {
                let item = PreviousItem {
                    date_managed: m.date_managed.clone(),
                    status: m.status,
                    // A JSON value always serializes.
                    data: serde_json::value::to_raw_value(&m.data)
                        .unwrap_or_else(|_| RawValue::NULL.to_owned()),
                };
                (key.clone(), item)
            })
            .collect();
        Previous {
            whose: Whose::from(s),
            outcome: s.outcome.clone(),
            checkin: PreviousCheckin {
                machine: PreviousMachine {
                    extra_data: PreviousExtra {
                        serial: s.checkin.machine.extra_data.get("serial").cloned(),
                    },
                },
                inventory: PreviousSource { managed_items },
            },
        }
    }
}

/// Dates in checkins: milliseconds, so that two collections in one second
/// never give an item's two status changes one date (Sal's history is
/// unique on it).
pub fn sal_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The date of a status change seen at `now`: later than the item's last
/// change (`previous`), bumped by a millisecond if the clock says otherwise.
fn change_date(now: DateTime<Utc>, previous: Option<&str>) -> String {
    let previous = previous
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map(|p| p.with_timezone(&Utc));
    match previous {
        Some(p) if p >= now => sal_time(p + chrono::TimeDelta::milliseconds(1)),
        _ => sal_time(now),
    }
}

/// Everything a collection learned about one device, for the document.
pub struct Collected<'a> {
    pub device: &'a Device,
    pub at: DateTime<Utc>,
    pub status: Status,
    pub items: Vec<Item>,
    pub notices: &'a [Notice],
    /// sysName, sysDescr, … and walk statistics: the inventory source's facts.
    pub facts: BTreeMap<String, String>,
    /// Sal's `os_family` for network devices.
    pub os_family: &'a str,
    /// The device's newest complete snapshot, for ABSENT items and "since" dates.
    pub previous: Option<&'a Previous>,
}

/// Sal's Machine.serial rules: upper case, no `+` or `/`, at most 100 characters.
fn sal_serial(serial: &str) -> String {
    serial
        .to_uppercase()
        .chars()
        .filter(|c| !matches!(c, '+' | '/'))
        .take(100)
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The `type` Sal's UI groups managed items by.
fn type_name(class: &str) -> &'static str {
    match class {
        "chassis" => "Chassis",
        "backplane" => "Backplane",
        "container" => "Container",
        "powerSupply" => "PowerSupply",
        "fan" => "Fan",
        "sensor" => "Sensor",
        "module" => "Module",
        "port" => "Transceiver",
        "stack" => "Stack",
        "cpu" => "CPU",
        _ => "Other",
    }
}

/// The managed-item name: the serial when it identifies the part, else a
/// stable physical path. Unique within the document, at most 255 characters.
fn item_key(item: &Item, used: &mut HashSet<String>) -> String {
    let base = if item.serial_issue.is_none() {
        item.serial.clone()
    } else {
        let place = if item.name.is_empty() {
            &item.index
        } else {
            &item.name
        };
        format!("{}:{}", item.class, place)
    };
    let mut key = truncate(&base, 255);
    if used.contains(&key) {
        let suffix = format!("#{}", item.index);
        key = truncate(&base, 255 - suffix.chars().count()) + &suffix;
    }
    used.insert(key.clone());
    key
}

/// What the device is, never empty: the chassis model, else how the chassis
/// describes itself (Juniper's box has only a description), else what
/// sysObjectID says.
fn machine_model(chassis: Option<&Item>, facts: &BTreeMap<String, String>) -> String {
    let chassis_words = chassis
        .into_iter()
        .flat_map(|i| [&i.model, &i.description, &i.name]);
    chassis_words
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(
            || match facts.get("sysObjectID").filter(|s| !s.is_empty()) {
                Some(id) => format!("unknown model (sysObjectID {id})"),
                None => "unknown model".to_owned(),
            },
        )
}

pub fn build(c: Collected<'_>) -> Checkin {
    let now = sal_time(c.at);
    let version = env!("CARGO_PKG_VERSION").to_owned();
    let mut notices: Vec<Notice> = c.notices.to_vec();

    let chassis = c
        .items
        .iter()
        .find(|i| i.class == "chassis" && i.serial_issue.is_none())
        .or_else(|| c.items.iter().find(|i| i.serial_issue.is_none()));
    let model = truncate(&machine_model(chassis, &c.facts), 256);
    let serial = match chassis {
        Some(item) => sal_serial(&item.serial),
        None => match c.previous.and_then(Previous::serial) {
            Some(s) => s.to_owned(),
            None => {
                let synthetic =
                    sal_serial(&format!("INVMON-{}", super::name::encode(&c.device.name)));
                notices.push(Notice::warning(format!(
                    "no chassis serial known: Sal machine serial {synthetic} stands in for it"
                )));
                synthetic
            }
        },
    };

    let previous_items = c.previous.map(|p| &p.checkin.inventory.managed_items);

    let mut used = HashSet::new();
    let mut managed_items = BTreeMap::new();
    for item in c.items {
        let key = item_key(&item, &mut used);
        // An item already present keeps the date it was first seen; one that
        // comes back gets a date after the one it was found gone.
        let before = previous_items.and_then(|m| m.get(&key));
        let since = match before {
            Some(m) if m.status == ItemStatus::Present => m.date_managed.clone(),
            Some(m) => change_date(c.at, Some(&m.date_managed)),
            None => now.clone(),
        };
        managed_items.insert(
            key,
            ManagedItem {
                date_managed: since,
                status: ItemStatus::Present,
                data: ItemData::Collected(Box::new(item)),
            },
        );
    }
    // Gone since the last complete walk: recorded once as ABSENT. Only a
    // complete walk can prove absence.
    if c.status == Status::Ok
        && let Some(previous) = previous_items
    {
        for (key, old) in previous {
            if old.status == ItemStatus::Present && !managed_items.contains_key(key) {
                managed_items.insert(
                    key.clone(),
                    ManagedItem {
                        date_managed: change_date(c.at, Some(&old.date_managed)),
                        status: ItemStatus::Absent,
                        // Text that was JSON when read parses as JSON.
                        data: ItemData::Json(
                            serde_json::from_str(old.data.get()).unwrap_or_default(),
                        ),
                    },
                );
            }
        }
    }

    let mut machine_extra = Map::new();
    machine_extra.insert("serial".into(), serial.into());
    let hostname = c
        .facts
        .get("sysName")
        .filter(|s| !s.is_empty())
        .unwrap_or(&c.device.name);
    machine_extra.insert("hostname".into(), truncate(hostname, 256).into());
    machine_extra.insert("os_family".into(), c.os_family.into());
    let os = c
        .facts
        .get("sysDescr")
        .map(|d| crate::inventory::os::short(d))
        .unwrap_or_default();
    if !os.is_empty() {
        machine_extra.insert("operating_system".into(), os.into());
    }
    machine_extra.insert("machine_model".into(), model.into());

    let mut sal_extra = Map::new();
    sal_extra.insert("sal_version".into(), format!("invmon {version}").into());

    let module_facts = BTreeMap::from([("checkin_module_version".to_owned(), version.clone())]);
    let messages = notices
        .iter()
        .map(|n| Message {
            text: n.text.clone(),
            message_type: n.severity,
            date: now.clone(),
        })
        .collect();

    let mut facts = c.facts.clone();
    facts.insert("collection_status".into(), c.status.to_string());
    let inventory = Source {
        facts,
        messages,
        managed_items,
        extra_data: Map::new(),
    };

    Checkin {
        machine: Source {
            facts: module_facts.clone(),
            extra_data: machine_extra,
            ..Source::default()
        },
        sal: Source {
            facts: module_facts,
            extra_data: sal_extra,
            ..Source::default()
        },
        sources: BTreeMap::from([(INVENTORY_SOURCE.to_owned(), inventory)]),
        plugin_results: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Outcome;

    fn item(serial: &str, class: &str) -> Item {
        Item {
            index: serial.to_lowercase(),
            serial: serial.into(),
            class: class.into(),
            name: format!("n-{serial}"),
            ..Item::default()
        }
    }

    fn snapshot(checkin: Checkin, status: Status) -> Snapshot {
        Snapshot::new(
            Utc::now(),
            Device::default(),
            Outcome {
                status,
                reason: None,
                duration_ms: 0,
            },
            checkin,
        )
    }

    fn run(items: &[Item], status: Status, previous: Option<&Snapshot>, at: &str) -> Checkin {
        let previous = previous.map(Previous::from);
        let device = Device {
            name: "r1".into(),
            ..Device::default()
        };
        build(Collected {
            device: &device,
            at: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            status,
            items: items.to_vec(),
            notices: &[],
            facts: BTreeMap::from([("sysName".into(), "r1.example".into())]),
            os_family: "Network",
            previous: previous.as_ref(),
        })
    }

    /// The data kept for an item is the item as it serializes, key order
    /// included, with its Sal type added last.
    #[test]
    fn an_items_data_is_the_item_as_serialized_with_its_type() {
        let mut psu = item("PSU00001", "powerSupply");
        psu.parent = Some("1".into());
        psu.path = vec!["Chassis".into()];
        psu.ent_physical = BTreeMap::from([
            ("entPhysicalSerialNum".into(), "PSU00001".into()),
            ("entPhysicalName".into(), "PSU 1".into()),
        ]);
        let checkin = run(&[psu.clone()], Status::Ok, None, "2026-11-01T00:00:00Z");
        let data = &checkin.sources[INVENTORY_SOURCE].managed_items["PSU00001"].data;
        let mut expected = serde_json::to_value(&psu).unwrap();
        expected["type"] = "PowerSupply".into();
        assert_eq!(
            serde_json::to_string(data).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }

    #[test]
    fn absent_once_and_since_dates() {
        let day1 = run(
            &[item("CHAS0001", "chassis"), item("PSU00001", "powerSupply")],
            Status::Ok,
            None,
            "2026-11-01T00:00:00Z",
        );
        let inv = &day1.sources[INVENTORY_SOURCE];
        assert_eq!(day1.machine.extra_data["serial"], "CHAS0001");
        assert_eq!(
            inv.managed_items["PSU00001"].data.to_json()["type"],
            "PowerSupply"
        );
        let s1 = snapshot(day1, Status::Ok);

        let day2 = run(
            &[item("CHAS0001", "chassis")],
            Status::Ok,
            Some(&s1),
            "2026-11-02T00:00:00Z",
        );
        let inv = &day2.sources[INVENTORY_SOURCE];
        assert_eq!(
            inv.managed_items["CHAS0001"].date_managed,
            "2026-11-01T00:00:00.000Z"
        );
        assert_eq!(inv.managed_items["PSU00001"].status, ItemStatus::Absent);
        assert_eq!(
            inv.managed_items["PSU00001"].date_managed,
            "2026-11-02T00:00:00.000Z"
        );
        let s2 = snapshot(day2, Status::Ok);

        let day3 = run(
            &[item("CHAS0001", "chassis")],
            Status::Ok,
            Some(&s2),
            "2026-11-03T00:00:00Z",
        );
        assert!(
            !day3.sources[INVENTORY_SOURCE]
                .managed_items
                .contains_key("PSU00001"),
            "ABSENT is kept once"
        );
    }

    /// Gone and back within one millisecond: each change still gets its own,
    /// later date (Sal's item history is unique on it).
    #[test]
    fn status_changes_in_one_instant_get_later_dates() {
        let at = "2026-12-01T20:18:11.500Z";
        let both = [item("CHAS0001", "chassis"), item("AGC1424U781", "port")];
        let s1 = snapshot(run(&both, Status::Ok, None, at), Status::Ok);
        let s2 = snapshot(run(&both[..1], Status::Ok, Some(&s1), at), Status::Ok);
        let s3 = snapshot(run(&both, Status::Ok, Some(&s2), at), Status::Ok);
        let date = |s: &Snapshot| {
            let m = &s.checkin.sources[INVENTORY_SOURCE].managed_items["AGC1424U781"];
            (m.status, m.date_managed.clone())
        };
        assert_eq!(
            date(&s1),
            (ItemStatus::Present, "2026-12-01T20:18:11.500Z".into())
        );
        assert_eq!(
            date(&s2),
            (ItemStatus::Absent, "2026-12-01T20:18:11.501Z".into())
        );
        assert_eq!(
            date(&s3),
            (ItemStatus::Present, "2026-12-01T20:18:11.502Z".into())
        );
    }

    #[test]
    fn partial_walk_infers_nothing_absent() {
        let s1 = snapshot(
            run(
                &[item("CHAS0001", "chassis"), item("PSU00001", "powerSupply")],
                Status::Ok,
                None,
                "2026-11-01T00:00:00Z",
            ),
            Status::Ok,
        );
        let day2 = run(
            &[item("CHAS0001", "chassis")],
            Status::Partial,
            Some(&s1),
            "2026-11-02T00:00:00Z",
        );
        assert!(
            !day2.sources[INVENTORY_SOURCE]
                .managed_items
                .contains_key("PSU00001")
        );
        let failed = run(&[], Status::Failed, Some(&s1), "2026-11-02T00:00:00Z");
        assert!(failed.sources[INVENTORY_SOURCE].managed_items.is_empty());
        assert_eq!(
            failed.machine.extra_data["serial"], "CHAS0001",
            "a failed run keeps the machine identity"
        );
    }

    #[test]
    fn keys_for_unusable_serials_are_paths() {
        let mut dup = item("FAN00001", "fan");
        dup.serial_issue = Some("duplicate".into());
        let c = run(
            &[item("FAN00001", "fan"), dup],
            Status::Ok,
            None,
            "2026-11-01T00:00:00Z",
        );
        let keys: Vec<&String> = c.sources[INVENTORY_SOURCE].managed_items.keys().collect();
        assert_eq!(keys, vec!["FAN00001", "fan:n-FAN00001"]);
        assert!(
            c.machine.extra_data["serial"]
                .as_str()
                .unwrap()
                .starts_with("FAN")
        );
    }

    #[test]
    fn document_has_sal_shape() {
        let c = run(&[], Status::Failed, None, "2026-11-01T00:00:00Z");
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["Machine"]["extra_data"]["serial"], "INVMON-R1");
        assert_eq!(v["Machine"]["extra_data"]["os_family"], "Network");
        assert!(v["Sal"]["extra_data"].get("key").is_none());
        assert_eq!(v["plugin_results"], serde_json::json!([]));
        assert_eq!(
            v[INVENTORY_SOURCE]["messages"][0]["message_type"],
            "WARNING"
        );
        let back: Checkin = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
