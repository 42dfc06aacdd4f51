//! NetBox as a ship destination: inventory-monitor Probes. Every snapshot
//! not yet shipped, oldest first, is planned against the device's latest
//! probes (the seed's rules: a new probe when anything but the time differs,
//! else the time moves forward) and applied in bulk. Creating probes is never
//! repeated blindly: after an unknown outcome the stage re-reads the probes,
//! and the plan shows what is still missing.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value as Json;

use super::apply::{self, PROBES};
use super::client::{Client, instance_key};
use super::plan::{self, DevicePlan, DeviceRef};
use crate::inventory::Item;
use crate::ship::{Backlog, Counts, Destination, ShipError};
use crate::snapshot::Snapshot;
use crate::snapshot::checkin::{INVENTORY_SOURCE, ItemStatus};

pub struct Netbox {
    client: Client,
    instance: String,
    model_excludes: Vec<String>,
    /// The request timeout: NetBox may still be carrying out a request
    /// that long after it was sent.
    settle: std::time::Duration,
    /// How old a probe's `time` may grow before it is moved (zero: every snapshot).
    touch: TimeDelta,
}

impl Netbox {
    pub fn new(
        client: Client,
        url: &str,
        model_excludes: Vec<String>,
        settle: std::time::Duration,
        touch: TimeDelta,
    ) -> Netbox {
        Netbox {
            client,
            instance: instance_key(url),
            model_excludes,
            settle,
            touch,
        }
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

/// Where a snapshot's device is in NetBox: by its netbox_id (which must be
/// a device of that name), else by exact name.
pub async fn find_device(client: &Client, snapshot: &Snapshot) -> Result<DeviceRef, ShipError> {
    let name = &snapshot.device.name;
    let found = match snapshot.device.netbox_id {
        Some(id) => match client.get(&format!("api/dcim/devices/{id}/")).await {
            Ok(d) => vec![d],
            Err(e) if e.is_not_found() => {
                return Err(ShipError::Device(format!(
                    "NetBox has no device with id {id} (the targets row of {name:?} says netbox_id {id})"
                )));
            }
            Err(e) => return Err(e.into()),
        },
        None => client
            .get_all(&format!(
                "api/dcim/devices/?name={}&limit=1000",
                super::targets::encode(name)
            ))
            .await?
            .into_iter()
            .filter(|d| d["name"].as_str() == Some(name))
            .collect(),
    };
    match found.as_slice() {
        [one] => {
            let device = DeviceRef::from_api(one).ok_or_else(|| {
                ShipError::Device(format!("NetBox device {name:?} has no id or name"))
            })?;
            if device.name != *name {
                return Err(ShipError::Device(format!(
                    "netbox_id {} is NetBox device {:?}, not {name:?}: fix the targets row (nothing shipped)",
                    device.id, device.name
                )));
            }
            Ok(device)
        }
        [] => Err(ShipError::Device(format!(
            "NetBox has no device named {name:?}"
        ))),
        _ => Err(ShipError::Device(format!(
            "NetBox has several devices named {name:?}; give targets a netbox_id"
        ))),
    }
}

impl Destination for Netbox {
    type Device = DeviceRef;
    type Plan = DevicePlan;

    fn kind(&self) -> &'static str {
        "netbox"
    }

    fn instance(&self) -> &str {
        &self.instance
    }

    fn backlog(&self) -> Backlog {
        Backlog::Every
    }

    fn settle(&self) -> std::time::Duration {
        self.settle
    }

    /// With a touch interval, an unchanged device may need no request.
    fn needs_last_sent(&self) -> bool {
        self.touch > TimeDelta::zero()
    }

    async fn device(&self, snapshot: &Snapshot) -> Result<DeviceRef, ShipError> {
        find_device(&self.client, snapshot).await
    }

    async fn plan(
        &self,
        device: &DeviceRef,
        snapshot: &Snapshot,
        _last_sent: Option<&Snapshot>,
    ) -> Result<DevicePlan, ShipError> {
        let items = present_items(snapshot);
        let rows = plan::merge(&items, &self.model_excludes);
        let probes: Vec<Json> = self
            .client
            .get_all(&format!(
                "{PROBES}?device_id={}&latest_only_per_device=true&limit=1000&omit=discovered_data",
                device.id
            ))
            .await?;
        Ok(plan::plan_device(
            &rows,
            &probes,
            device,
            snapshot.collected_at,
            self.touch,
        ))
    }

    /// The probes NetBox has are those the last snapshot sent left, as long
    /// as nobody edits them there: between touches, equal rows need no
    /// request (docs/netbox.md says what that trusts).
    fn quiet_plan(
        &self,
        snapshot: &Snapshot,
        last_sent: &Snapshot,
        touched: DateTime<Utc>,
    ) -> Option<DevicePlan> {
        if self.touch <= TimeDelta::zero() || touched + self.touch <= snapshot.collected_at {
            return None;
        }
        let (now, then) = (present_items(snapshot), present_items(last_sent));
        let rows = plan::merge(&now, &self.model_excludes);
        (plan::row_keys(&rows) == plan::row_keys(&plan::merge(&then, &self.model_excludes))).then(
            || DevicePlan {
                unchanged: rows.len(),
                ..DevicePlan::default()
            },
        )
    }

    fn touched(plan: &DevicePlan) -> Option<DateTime<Utc>> {
        plan.touched
    }

    fn counts(plan: &DevicePlan) -> Counts {
        Counts {
            creates: plan.creates.len(),
            updates: plan.updates.len(),
            unchanged: plan.unchanged,
            superseded: plan.superseded,
            documents: 0,
        }
    }

    async fn apply(
        &self,
        _device: &DeviceRef,
        plan: &DevicePlan,
        before_once: &(dyn Fn() -> Result<(), ShipError> + Sync),
    ) -> Result<(), ShipError> {
        for batch in apply::batches(&plan.creates) {
            before_once()?;
            self.client.post(PROBES, &Json::Array(batch)).await?;
        }
        for batch in apply::batches(&plan.updates) {
            self.client.patch(PROBES, &Json::Array(batch)).await?;
        }
        Ok(())
    }

    fn requests(&self) -> (u64, u64, u64) {
        self.client.counters().get()
    }
}
