//! `ship --to netbox`: every snapshot not yet shipped to this NetBox, oldest
//! first per device, planned against the device's latest probes and applied
//! in bulk. The ledger moves only after NetBox confirmed a snapshot's writes,
//! and planning against live probes makes a re-run after an interruption
//! write exactly what is still missing.

use serde_json::Value as Json;

use super::apply::{self, PROBES};
use super::client::{Client, NetboxError};
use super::plan::{self, DevicePlan, DeviceRef};
use crate::inventory::Item;
use crate::ship::ledger::Ledger;
use crate::snapshot::checkin::{INVENTORY_SOURCE, ItemStatus};
use crate::snapshot::store::Store;
use crate::snapshot::{Snapshot, Status, codec};

pub struct Options {
    pub model_excludes: Vec<String>,
    pub dry_run: bool,
}

/// One snapshot's outcome, for the report.
#[derive(Debug, serde::Serialize)]
pub struct Shipped {
    pub device: String,
    pub snapshot: String,
    pub status: Status,
    pub plan: DevicePlan,
    pub requests: usize,
}

/// Where a snapshot's device is in NetBox: by its netbox_id, else by exact name.
pub fn find_device(client: &Client, snapshot: &Snapshot) -> Result<DeviceRef, String> {
    let name = &snapshot.device.name;
    let found = match snapshot.device.netbox_id {
        Some(id) => client
            .request("GET", &format!("api/dcim/devices/{id}/"), None)
            .map(|d| vec![d]),
        None => client
            .get_all(&format!(
                "api/dcim/devices/?name={}&limit=1000",
                super::targets::encode(name)
            ))
            .map(|list| {
                list.into_iter()
                    .filter(|d| d["name"].as_str() == Some(name))
                    .collect()
            }),
    };
    let found = found.map_err(|e| match e {
        NetboxError::Refused { status: 404, .. } => format!(
            "NetBox has no device with id {:?} (snapshot device {name:?})",
            snapshot.device.netbox_id
        ),
        other => other.to_string(),
    })?;
    match found.as_slice() {
        [one] => DeviceRef::from_api(one)
            .ok_or_else(|| format!("NetBox device {name:?} has no id or name")),
        [] => Err(format!("NetBox has no device named {name:?}")),
        _ => Err(format!(
            "NetBox has several devices named {name:?}; give targets a netbox_id"
        )),
    }
}

fn present_items(snapshot: &Snapshot) -> Vec<Item> {
    snapshot
        .checkin
        .sources
        .get(INVENTORY_SOURCE)
        .map(|s| {
            s.managed_items
                .values()
                .filter(|m| m.status == ItemStatus::Present)
                .filter_map(|m| m.item())
                .collect()
        })
        .unwrap_or_default()
}

/// Ships one device's backlog; stops at its first error (later snapshots
/// must not overtake an unshipped earlier one).
pub fn ship_device(
    client: &Client,
    store: &Store,
    ledger: &std::sync::Mutex<Ledger>,
    device_dir: &str,
    options: &Options,
) -> Result<Vec<Shipped>, (Vec<Shipped>, String)> {
    let mut done = Vec::new();
    let entries = store
        .list(device_dir)
        .map_err(|e| (Vec::new(), e.to_string()))?;
    let mut device: Option<DeviceRef> = None;
    for entry in entries {
        let stamp = entry.stamp();
        let snapshot = match codec::read(&entry.path) {
            Ok(s) => s,
            Err(e) => return Err((done, e.to_string())),
        };
        let last = ledger
            .lock()
            .expect("ledger lock")
            .devices
            .get(&snapshot.device.name)
            .map(|s| s.snapshot.clone())
            .unwrap_or_default();
        if stamp <= last {
            continue;
        }
        let mut shipped = Shipped {
            device: snapshot.device.name.clone(),
            snapshot: stamp.clone(),
            status: snapshot.outcome.status,
            plan: DevicePlan::default(),
            requests: 0,
        };
        // A failed collection says nothing about the hardware: nothing to write.
        if snapshot.outcome.status != Status::Failed {
            if device.is_none() {
                device = Some(
                    find_device(client, &snapshot).map_err(|e| (std::mem::take(&mut done), e))?,
                );
            }
            let dev = device.as_ref().expect("found above");
            let items = present_items(&snapshot);
            let rows = plan::merge(&items, &options.model_excludes);
            let probes: Vec<Json> = client
                .get_all(&format!("{PROBES}?device_id={}&latest_only_per_device=true&limit=1000&omit=discovered_data", dev.id))
                .map_err(|e| (std::mem::take(&mut done), e.to_string()))?;
            shipped.plan = plan::plan_device(&rows, &probes, dev, snapshot.collected_at);
            shipped.requests = 1;
            if options.dry_run {
                done.push(shipped);
                // Later snapshots would be planned against probes this one has not written.
                break;
            }
            shipped.requests += apply::apply(client, &shipped.plan)
                .map_err(|e| (std::mem::take(&mut done), e.to_string()))?;
        }
        if !options.dry_run {
            ledger
                .lock()
                .expect("ledger lock")
                .record(&snapshot.device.name, &stamp)
                .map_err(|e| (std::mem::take(&mut done), e.to_string()))?;
        }
        done.push(shipped);
    }
    Ok(done)
}
