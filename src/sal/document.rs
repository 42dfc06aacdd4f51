//! The document Sal receives for a snapshot: the snapshot's checkin, made to
//! fit how Sal really stores and shows it.
//!
//! * Every status change of an item carries a `date_managed` later than the
//!   item's date in the last document sent: Sal's item history is unique on
//!   (machine, item, source, date), and a repeated date fails that checkin and
//!   every later one (a device collected twice in a second before 0.2 is
//!   stuck that way; its next document un-sticks it).
//! * `operating_system` is one short line without `/`, `&` or `%` (Sal's OS
//!   panel builds URLs from it), `machine_model` is never empty, and
//!   `os_family` is one Sal's dashboards know.
//! * Item `data` is flat strings (Sal shows nested values as Python reprs).
//! * The whole stays under Sal's 5 MiB limit.
//!
//! The machine-group key goes in only at send time ([`body`]).

use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::sal::contract::MAX_BODY;
use crate::snapshot::Snapshot;
use crate::snapshot::checkin::{INVENTORY_SOURCE, sal_time};

/// Room kept below the limit for the trimming message and rounding.
const BUDGET: usize = MAX_BODY - 64 * 1024;

/// The families Sal's dashboards count (its Machine model's choices); any
/// other value breaks its OS widget.
pub const OS_FAMILIES: [&str; 4] = ["Darwin", "Windows", "Linux", "ChromeOS"];

/// What would be sent, without the key.
#[derive(Clone, Debug, Serialize)]
pub struct Document {
    pub checkin: Json,
    pub bytes: usize,
    /// What had to be left out to fit, if anything.
    pub trimmed: Option<String>,
    /// Status dates moved past the last document's.
    pub bumped: usize,
}

/// `data` as Sal shows it well: strings only, lists joined, nested objects
/// (the seed's entPhysical view, which NetBox needs and Sal does not) left out.
fn flat(data: &Json) -> Json {
    let Some(map) = data.as_object() else {
        return json!({ "value": data.to_string() });
    };
    let mut out = Map::new();
    for (k, v) in map {
        let text = match v {
            Json::String(s) => s.clone(),
            Json::Null | Json::Object(_) => continue,
            Json::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(if k == "path" { " > " } else { ", " }),
            other => other.to_string(),
        };
        out.insert(k.clone(), Json::String(text));
    }
    Json::Object(out)
}

fn millis_after(date: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(date).ok()?;
    Some(sal_time(
        t.with_timezone(&chrono::Utc) + chrono::TimeDelta::milliseconds(1),
    ))
}

/// Moves a status change's date past the same item's date in the last
/// document sent, when the snapshot's clock did not.
fn bump_dates(doc: &mut Json, last_sent: &Json) -> usize {
    let mut bumped = 0;
    let Some(sources) = doc.as_object_mut() else {
        return 0;
    };
    for (name, source) in sources.iter_mut() {
        // plugin_results is a list, not a source.
        let Some(items) = source
            .get_mut("managed_items")
            .and_then(Json::as_object_mut)
        else {
            continue;
        };
        for (key, item) in items.iter_mut() {
            let before = &last_sent[name]["managed_items"][key];
            let (Some(old_status), Some(old_date)) =
                (before["status"].as_str(), before["date_managed"].as_str())
            else {
                continue;
            };
            let changed = item["status"].as_str() != Some(old_status);
            let not_later = item["date_managed"]
                .as_str()
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                .zip(chrono::DateTime::parse_from_rfc3339(old_date).ok())
                .is_none_or(|(new, old)| new <= old);
            if changed
                && not_later
                && let Some(later) = millis_after(old_date)
            {
                item["date_managed"] = Json::String(later);
                bumped += 1;
            }
        }
    }
    bumped
}

/// Machine fields Sal builds URLs and dashboards from, made safe.
fn machine_fields(doc: &mut Json) {
    let sys_descr = doc[INVENTORY_SOURCE]["facts"]["sysDescr"]
        .as_str()
        .map(crate::inventory::os::short);
    let extra = &mut doc["Machine"]["extra_data"];
    if let Some(os) = sys_descr.filter(|s| !s.is_empty()) {
        extra["operating_system"] = Json::String(os);
    }
    if let Some(os) = extra["operating_system"].as_str() {
        let safe: String = os
            .chars()
            .filter(|c| !matches!(c, '/' | '&' | '%' | '"'))
            .collect();
        extra["operating_system"] = Json::String(safe);
    }
    if extra["machine_model"]
        .as_str()
        .is_none_or(|m| m.trim().is_empty())
    {
        extra["machine_model"] = Json::String("unknown model".into());
    }
    let family = extra["os_family"].as_str().unwrap_or("");
    if !OS_FAMILIES.contains(&family) {
        extra["os_family"] = Json::String("Linux".into());
    }
}

/// The document for `snapshot`, after `last_sent` (the last one Sal got).
pub fn document(snapshot: &Snapshot, last_sent: Option<&Snapshot>) -> Document {
    let mut doc = serde_json::to_value(&snapshot.checkin).unwrap_or_else(|_| json!({}));
    machine_fields(&mut doc);
    let bumped = match last_sent.and_then(|s| serde_json::to_value(&s.checkin).ok()) {
        Some(last) => bump_dates(&mut doc, &last),
        None => 0,
    };
    if let Some(sources) = doc.as_object_mut() {
        for source in sources.values_mut() {
            if let Some(items) = source
                .get_mut("managed_items")
                .and_then(Json::as_object_mut)
            {
                for item in items.values_mut() {
                    item["data"] = flat(&item["data"]);
                }
            }
        }
    }
    let trimmed = trim(&mut doc);
    let bytes = serde_json::to_vec(&doc).map_or(0, |b| b.len());
    Document {
        checkin: doc,
        bytes,
        trimmed,
        bumped,
    }
}

/// Leaves out whole items, non-FRU parts first, until the document fits.
fn trim(doc: &mut Json) -> Option<String> {
    let size = |doc: &Json| serde_json::to_vec(doc).map_or(usize::MAX, |b| b.len());
    let original = size(doc);
    if original <= BUDGET {
        return None;
    }
    let mut managed = doc[INVENTORY_SOURCE]["managed_items"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut order: Vec<(bool, String)> = managed
        .iter()
        .map(|(k, v)| (v["data"]["is_fru"].as_str() == Some("true"), k.clone()))
        .collect();
    order.sort();
    let total = order.len();
    let mut dropped = 0;
    doc[INVENTORY_SOURCE]["managed_items"] = Json::Object(managed.clone());
    // Remove in chunks to keep this linear-ish on huge documents.
    while size(doc) > BUDGET && !order.is_empty() {
        let n = (order.len() / 10).max(1);
        for (_, key) in order.drain(..n) {
            managed.remove(&key);
            dropped += 1;
        }
        doc[INVENTORY_SOURCE]["managed_items"] = Json::Object(managed.clone());
    }
    let text = format!(
        "checkin trimmed from {original} bytes to fit Sal's 5 MiB limit: left out {dropped} of {total} items (non-FRU parts first); the snapshot has everything"
    );
    if let Some(messages) = doc[INVENTORY_SOURCE]["messages"].as_array_mut() {
        messages.push(
            json!({"text": text, "message_type": "WARNING", "date": sal_time(chrono::Utc::now())}),
        );
    }
    Some(text)
}

/// The bytes posted: the document with the machine-group key.
pub fn body(document: &Document, key: &str) -> Vec<u8> {
    let mut doc = document.checkin.clone();
    doc["Sal"]["extra_data"]["key"] = Json::from(key);
    serde_json::to_vec(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_flat_and_dates_move_past_the_last_sent() {
        let item = |status: &str, date: &str| {
            json!({"date_managed": date, "status": status,
                   "data": {"type": "Transceiver", "path": ["Chassis", "Slot 1"], "is_fru": true, "entPhysical": {"x": "y"}, "parent": null}})
        };
        let mut doc = json!({"SNMP Inventory": {"managed_items": {
            "AGC1": item("PRESENT", "2026-12-01T20:18:11Z"),
            "AGC2": item("PRESENT", "2026-12-01T20:18:11Z"),
        }}});
        let last = json!({"SNMP Inventory": {"managed_items": {
            "AGC1": item("ABSENT", "2026-12-01T20:18:11Z"),
            "AGC2": item("PRESENT", "2026-12-01T20:00:00Z"),
        }}});
        assert_eq!(bump_dates(&mut doc, &last), 1);
        assert_eq!(
            doc["SNMP Inventory"]["managed_items"]["AGC1"]["date_managed"],
            "2026-12-01T20:18:11.001Z"
        );
        assert_eq!(
            doc["SNMP Inventory"]["managed_items"]["AGC2"]["date_managed"], "2026-12-01T20:18:11Z",
            "no status change, no new date"
        );
        let f = flat(&doc["SNMP Inventory"]["managed_items"]["AGC1"]["data"]);
        assert_eq!(
            f,
            json!({"type": "Transceiver", "path": "Chassis > Slot 1", "is_fru": "true"})
        );
    }

    /// Found by replaying the fuzz corpus: `plugin_results` is a list, not a source.
    #[test]
    fn plugin_results_are_not_taken_for_a_source() {
        let mut doc = json!({"plugin_results": [{"plugin": "x", "data": {}}],
                             "SNMP Inventory": {"managed_items": {}}});
        let last = doc.clone();
        assert_eq!(bump_dates(&mut doc, &last), 0);
    }

    #[test]
    fn machine_fields_are_what_sal_can_show() {
        let mut doc = json!({"Machine": {"extra_data": {"operating_system": "\"TiMOS-C-23.10.R3 cpm/hops64", "os_family": "Network"}},
                             "SNMP Inventory": {"facts": {"sysDescr": "\"TiMOS-C-23.10.R3 cpm/hops64 Nokia 7750 SR"}}});
        machine_fields(&mut doc);
        let extra = &doc["Machine"]["extra_data"];
        assert_eq!(extra["operating_system"], "TiMOS-C-23.10.R3");
        assert_eq!(extra["os_family"], "Linux");
        assert_eq!(extra["machine_model"], "unknown model");
    }
}
