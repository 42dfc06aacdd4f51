//! Turning a snapshot into the body Sal receives: the machine-group key
//! injected, and the document kept under Sal's 5 MiB limit.

use serde_json::{Value as Json, json};

use crate::sal::contract::MAX_BODY;
use crate::snapshot::Snapshot;
use crate::snapshot::checkin::{INVENTORY_SOURCE, sal_time};

/// Room kept below the limit for the trimming message and rounding.
const BUDGET: usize = MAX_BODY - 64 * 1024;

/// The checkin body for `snapshot`, and what had to be left out to fit.
pub fn body(snapshot: &Snapshot, key: &str) -> (Vec<u8>, Option<String>) {
    let mut doc = serde_json::to_value(&snapshot.checkin).expect("checkins serialize");
    doc["Sal"]["extra_data"]["key"] = Json::from(key);
    let bytes = serde_json::to_vec(&doc).expect("checkins serialize");
    if bytes.len() <= BUDGET {
        return (bytes, None);
    }
    let original = bytes.len();
    let items = |doc: &mut Json| {
        doc[INVENTORY_SOURCE]["managed_items"]
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    };
    // First the seed-compatible views (NetBox needs them, Sal does not) ...
    let mut managed = items(&mut doc);
    for item in managed.values_mut() {
        if let Some(data) = item.get_mut("data").and_then(Json::as_object_mut) {
            data.remove("entPhysical");
        }
    }
    let mut note = "the entPhysical view of every item".to_owned();
    doc[INVENTORY_SOURCE]["managed_items"] = Json::Object(managed.clone());
    let size = |doc: &Json| serde_json::to_vec(doc).map_or(usize::MAX, |b| b.len());
    // ... then whole items, non-FRU parts first, until it fits.
    if size(&doc) > BUDGET {
        let mut order: Vec<(bool, String)> = managed
            .iter()
            .map(|(k, v)| (v["data"]["is_fru"].as_bool() == Some(true), k.clone()))
            .collect();
        order.sort();
        let total = order.len();
        let mut dropped = 0;
        // Remove in chunks to keep this linear-ish on huge documents.
        while size(&doc) > BUDGET && !order.is_empty() {
            let n = (order.len() / 10).max(1);
            for (_, key) in order.drain(..n) {
                managed.remove(&key);
                dropped += 1;
            }
            doc[INVENTORY_SOURCE]["managed_items"] = Json::Object(managed.clone());
        }
        note = format!("{note} and {dropped} of {total} items (non-FRU parts first)");
    }
    let text = format!(
        "checkin trimmed from {original} bytes to fit Sal's 5 MiB limit: left out {note}; the snapshot has everything"
    );
    if let Some(messages) = doc[INVENTORY_SOURCE]["messages"].as_array_mut() {
        messages.push(
            json!({"text": text, "message_type": "WARNING", "date": sal_time(chrono::Utc::now())}),
        );
    }
    (
        serde_json::to_vec(&doc).expect("checkins serialize"),
        Some(text),
    )
}
