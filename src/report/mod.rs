//! The audit report: what changed in a window across the whole store (the
//! diff of `diff --all`) beside the inventory as of the window's end, with
//! the serials that cannot identify a part and the serials found on several
//! devices at once. Rendered as one self-contained HTML page or the
//! inventory as CSV.

pub mod csv;
pub mod html;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::diff::select::{self, Window};
use crate::diff::{DeviceEvent, Report};
use crate::snapshot::checkin::{INVENTORY_SOURCE, ItemStatus};
use crate::snapshot::store::{Store, StoreError};
use crate::snapshot::{Snapshot, Status};

/// One present item as of the window's end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub device: String,
    pub site: String,
    /// The vendor parser that read the device (cisco, juniper, nokia, generic).
    pub vendor: String,
    pub class: String,
    pub model: String,
    pub name: String,
    pub description: String,
    pub serial: String,
    /// Why the serial cannot identify the part; empty when it can.
    pub serial_issue: String,
    pub mfg: String,
    pub hw_rev: String,
    pub fw_rev: String,
    pub sw_rev: String,
    /// Containing items, outermost first, joined by " / ".
    pub path: String,
    pub collected_at: DateTime<Utc>,
    pub snapshot_status: Status,
}

impl Row {
    /// The fields that hold text a device reported or a name an operator gave.
    pub(crate) fn text_mut(&mut self) -> [&mut String; 14] {
        [
            &mut self.device,
            &mut self.site,
            &mut self.vendor,
            &mut self.class,
            &mut self.model,
            &mut self.name,
            &mut self.description,
            &mut self.serial,
            &mut self.serial_issue,
            &mut self.mfg,
            &mut self.hw_rev,
            &mut self.fw_rev,
            &mut self.sw_rev,
            &mut self.path,
        ]
    }
}

/// Items of one vendor, model and class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub vendor: String,
    pub model: String,
    pub class: String,
    pub items: usize,
    pub devices: usize,
    /// Items whose serial cannot identify them.
    pub serial_issues: usize,
}

/// A usable serial present on more than one device at the window's end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Duplicate {
    pub serial: String,
    /// `device: item name` for every place it is.
    pub places: Vec<String>,
}

/// A device whose record for the window cannot be taken at face value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attention {
    pub device: String,
    /// `failed`, `partial` or `missing`.
    pub state: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Audit {
    pub generated_at: DateTime<Utc>,
    pub store: String,
    pub diff: Report,
    pub rows: Vec<Row>,
    pub groups: Vec<Group>,
    /// Serial problems by kind (the text before any `:` or quoted value).
    pub serial_issues: BTreeMap<String, usize>,
    pub duplicates: Vec<Duplicate>,
    pub attention: Vec<Attention>,
}

impl Audit {
    /// True when part of the store could not be read: the report is incomplete.
    pub fn has_errors(&self) -> bool {
        !self.diff.errors.is_empty()
    }
}

/// Compares the window across the store and reads each device's newer side
/// for the inventory. Devices missing at the window's end are listed, not
/// counted in the inventory: nothing vouches for their present.
pub fn audit(store: &Store, window: &Window) -> Result<Audit, StoreError> {
    let mut diff = select::all(store, window)?;
    let sides: Vec<(&str, &str)> = diff
        .devices
        .iter()
        .filter_map(|d| d.to.as_ref().map(|t| (d.device.as_str(), t.path.as_str())))
        .collect();
    let read = crate::pool::map(&sides, crate::pool::cpus(), |(device, path)| {
        store
            .read_file_as::<Snapshot>(Path::new(path))
            .map(|s| rows_of(device, &s))
    });
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for r in read {
        match r {
            Ok(r) => rows.extend(r),
            Err(e) => errors.push(e.to_string()),
        }
    }
    diff.errors.extend(errors);
    let attention = attention(&diff);
    Ok(Audit {
        generated_at: Utc::now(),
        store: store.root().display().to_string(),
        groups: groups(&rows),
        serial_issues: issue_kinds(&rows),
        duplicates: duplicates(&rows),
        attention,
        rows,
        diff,
    })
}

fn rows_of(device: &str, snapshot: &Snapshot) -> Vec<Row> {
    let Some(source) = snapshot.checkin.sources.get(INVENTORY_SOURCE) else {
        return Vec::new();
    };
    let vendor = source
        .facts
        .get("vendor_parser")
        .cloned()
        .unwrap_or_default();
    source
        .managed_items
        .values()
        .filter(|m| m.status == ItemStatus::Present)
        .filter_map(|m| m.item())
        .map(|i| Row {
            device: device.to_owned(),
            site: snapshot.device.site.clone(),
            vendor: vendor.clone(),
            class: i.class,
            model: i.model,
            name: i.name,
            description: i.description,
            serial: i.serial,
            serial_issue: i.serial_issue.unwrap_or_default(),
            mfg: i.mfg,
            hw_rev: i.hw_rev,
            fw_rev: i.fw_rev,
            sw_rev: i.sw_rev,
            path: i.path.join(" / "),
            collected_at: snapshot.collected_at,
            snapshot_status: snapshot.outcome.status,
        })
        .collect()
}

fn groups(rows: &[Row]) -> Vec<Group> {
    let mut by: BTreeMap<(&str, &str, &str), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by.entry((&r.vendor, &r.model, &r.class))
            .or_default()
            .push(r);
    }
    by.into_iter()
        .map(|((vendor, model, class), rows)| {
            let mut devices: Vec<&str> = rows.iter().map(|r| r.device.as_str()).collect();
            devices.sort_unstable();
            devices.dedup();
            Group {
                vendor: vendor.to_owned(),
                model: model.to_owned(),
                class: class.to_owned(),
                items: rows.len(),
                devices: devices.len(),
                serial_issues: rows.iter().filter(|r| !r.serial_issue.is_empty()).count(),
            }
        })
        .collect()
}

/// "duplicate serial: also on 7 (PSU 1)" and "known placeholder serial
/// \"N/A\"" count as "duplicate serial" and "known placeholder serial".
fn issue_kind(issue: &str) -> &str {
    let end = issue.find([':', '"', '(']).unwrap_or(issue.len());
    issue[..end].trim_end()
}

fn issue_kinds(rows: &[Row]) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.serial_issue.is_empty()) {
        *kinds
            .entry(issue_kind(&r.serial_issue).to_owned())
            .or_default() += 1;
    }
    kinds
}

/// Serials on several devices at once: a part cannot be in two chassis, so
/// one of the records is wrong (a cloned serial, a mislabelled device).
fn duplicates(rows: &[Row]) -> Vec<Duplicate> {
    let mut by: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.serial_issue.is_empty()) {
        by.entry(r.serial.to_ascii_uppercase()).or_default().push(r);
    }
    by.into_values()
        .filter(|rs| rs.iter().any(|r| r.device != rs[0].device))
        .map(|rs| Duplicate {
            serial: rs[0].serial.clone(),
            places: rs
                .iter()
                .map(|r| format!("{}: {}", r.device, r.name))
                .collect(),
        })
        .collect()
}

fn attention(diff: &Report) -> Vec<Attention> {
    let mut out = Vec::new();
    for d in &diff.devices {
        for e in &d.events {
            let state = match e {
                DeviceEvent::New => continue,
                DeviceEvent::Missing { .. } => "missing".to_owned(),
                DeviceEvent::Incomplete { status, .. } => status.to_string(),
            };
            out.push(Attention {
                device: d.device.clone(),
                state,
                detail: crate::diff::render::event_text(e),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(device: &str, serial: &str, issue: &str) -> Row {
        Row {
            device: device.into(),
            site: String::new(),
            vendor: "cisco".into(),
            class: "module".into(),
            model: "M".into(),
            name: format!("slot of {serial}"),
            description: String::new(),
            serial: serial.into(),
            serial_issue: issue.into(),
            mfg: String::new(),
            hw_rev: String::new(),
            fw_rev: String::new(),
            sw_rev: String::new(),
            path: String::new(),
            collected_at: DateTime::UNIX_EPOCH,
            snapshot_status: Status::Ok,
        }
    }

    #[test]
    fn serials_on_two_devices_are_duplicates_but_flagged_ones_and_one_device_are_not() {
        let rows = [
            row("a", "FOX1", ""),
            row("b", "fox1", ""),
            row("a", "SAME", ""),
            row("a", "SAME", ""),
            row("a", "N/A", "known placeholder serial \"N/A\""),
            row("b", "N/A", "known placeholder serial \"N/A\""),
        ];
        let d = duplicates(&rows);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].places, ["a: slot of FOX1", "b: slot of fox1"]);
        let kinds = issue_kinds(&rows);
        assert_eq!(kinds.get("known placeholder serial"), Some(&2));
        let g = groups(&rows);
        assert_eq!((g[0].items, g[0].devices, g[0].serial_issues), (6, 2, 2));
    }

    #[test]
    fn issue_kinds_drop_the_particulars() {
        assert_eq!(
            issue_kind("duplicate serial: also on 7 (PSU)"),
            "duplicate serial"
        );
        assert_eq!(
            issue_kind("placeholder serial \"000\" (one repeated character)"),
            "placeholder serial"
        );
        assert_eq!(issue_kind("no serial"), "no serial");
    }
}
