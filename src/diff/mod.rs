//! Offline comparison of snapshots: what appeared, disappeared, moved or
//! changed, keyed by serial so that a part is followed across devices.
//!
//! Only item fields are compared, so volatile facts (uptime, durations, walk
//! statistics, dates) never make a change. A side that was not collected
//! completely never yields "removed" or "added": what it cannot vouch for is
//! reported as unknown. A serial that leaves or arrives on several devices
//! in one window is reported on each of them and flagged, never folded into
//! one; a move is reported only when the times allow it.

pub mod render;
pub mod select;
pub mod side;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inventory::Item;
use crate::snapshot::Status;
pub use side::Side;

/// The item fields whose change is reported (position is compared apart).
const FIELDS: [&str; 9] = [
    "model",
    "name",
    "description",
    "class",
    "hw_rev",
    "fw_rev",
    "sw_rev",
    "mfg",
    "is_fru",
];

fn field(item: &Item, name: &str) -> String {
    match name {
        "model" => item.model.clone(),
        "name" => item.name.clone(),
        "description" => item.description.clone(),
        "class" => item.class.clone(),
        "hw_rev" => item.hw_rev.clone(),
        "fw_rev" => item.fw_rev.clone(),
        "sw_rev" => item.sw_rev.clone(),
        "mfg" => item.mfg.clone(),
        "is_fru" => item.is_fru.map(|b| b.to_string()).unwrap_or_default(),
        _ => unreachable!("unknown field {name}"),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

/// Where an item sits: device and containment path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Place {
    pub device: String,
    pub path: Vec<String>,
}

/// The same serial arriving on or leaving another device in the same window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sighting {
    pub device: String,
    /// `added` or `removed`.
    pub change: &'static str,
    /// When the other device's snapshot saw it (added) or last saw it (removed).
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Change {
    Added {
        key: String,
        item: Item,
        /// The serial also arrived on or left these devices: seen on several at once.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        elsewhere: Vec<Sighting>,
    },
    Removed {
        key: String,
        item: Item,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        elsewhere: Vec<Sighting>,
    },
    /// The same serial on another device or at another position.
    Moved {
        key: String,
        item: Item,
        from: Place,
        to: Place,
        fields: Vec<FieldChange>,
    },
    Changed {
        key: String,
        item: Item,
        fields: Vec<FieldChange>,
    },
    /// Not comparable because one side was not collected completely.
    Unknown {
        key: String,
        item: Item,
        reason: String,
    },
}

impl Change {
    pub fn key(&self) -> &str {
        match self {
            Change::Added { key, .. }
            | Change::Removed { key, .. }
            | Change::Moved { key, .. }
            | Change::Changed { key, .. }
            | Change::Unknown { key, .. } => key,
        }
    }

    pub fn item(&self) -> &Item {
        match self {
            Change::Added { item, .. }
            | Change::Removed { item, .. }
            | Change::Moved { item, .. }
            | Change::Changed { item, .. }
            | Change::Unknown { item, .. } => item,
        }
    }
}

/// Which snapshot a side of a device's comparison is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnapshotRef {
    pub path: String,
    pub collected_at: DateTime<Utc>,
    pub status: Status,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum DeviceEvent {
    /// No snapshot on the "from" side: the device is new in the store.
    New,
    /// No newer snapshot on the "to" side: not collected since `last_seen`.
    Missing { last_seen: DateTime<Utc> },
    /// A side's collection failed or was partial. With `--skip-failed`,
    /// `replaced_by` names the complete snapshot compared instead.
    Incomplete {
        side: &'static str,
        status: Status,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        replaced_by: Option<String>,
    },
}

impl DeviceEvent {
    /// True for events that are differences in their own right (a snapshot
    /// passed over for `--skip-failed` is a note, not a difference).
    pub fn is_difference(&self) -> bool {
        !matches!(
            self,
            DeviceEvent::Incomplete {
                replaced_by: Some(_),
                ..
            }
        )
    }
}

impl DeviceDiff {
    /// Whether the device has anything to show: a change or a difference event.
    pub fn shows_anything(&self) -> bool {
        !self.changes.is_empty() || self.events.iter().any(DeviceEvent::is_difference)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceDiff {
    pub device: String,
    pub from: Option<SnapshotRef>,
    pub to: Option<SnapshotRef>,
    pub events: Vec<DeviceEvent>,
    pub changes: Vec<Change>,
    pub unchanged: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub devices: usize,
    pub added: usize,
    pub removed: usize,
    pub moved: usize,
    pub changed: usize,
    pub unknown: usize,
    pub unchanged: usize,
    pub new_devices: usize,
    pub missing_devices: usize,
    pub incomplete_devices: usize,
    /// Serials that arrived on or left several devices in the window.
    pub on_several_devices: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub schema: u32,
    pub from: String,
    pub to: String,
    pub devices: Vec<DeviceDiff>,
    pub stats: Stats,
    /// Files that could not be read, by path; the rest was compared.
    pub errors: Vec<String>,
}

impl Report {
    /// True when anything differs (diff(1)'s "differences found").
    pub fn has_changes(&self) -> bool {
        self.devices
            .iter()
            .any(|d| !d.changes.is_empty() || d.events.iter().any(DeviceEvent::is_difference))
    }
}

/// One device to compare. A missing side means no snapshot there.
pub struct Pair {
    pub device: String,
    pub from: Option<Side>,
    pub to: Option<Side>,
    /// What choosing the snapshots found out (a device missing, incomplete
    /// snapshots passed over).
    pub events: Vec<DeviceEvent>,
}

fn snapshot_ref(side: &Side) -> SnapshotRef {
    SnapshotRef {
        path: side.path.display().to_string(),
        collected_at: side.collected_at,
        status: side.status,
    }
}

fn field_changes(old: &Item, new: &Item) -> Vec<FieldChange> {
    FIELDS
        .iter()
        .filter_map(|&f| {
            let (o, n) = (field(old, f), field(new, f));
            (o != n).then_some(FieldChange {
                field: f,
                old: o,
                new: n,
            })
        })
        .collect()
}

/// An item seen on only one side, kept until every device is compared,
/// in case the same serial shows up elsewhere (a move).
struct Loose {
    device_index: usize,
    key: String,
    item: Item,
    /// Removed: when the device last had it (its "from" snapshot).
    /// Added: when the device first had it (its "to" snapshot).
    seen: DateTime<Utc>,
    /// Removed: when it was found gone (the "to" snapshot); added: unused.
    other_side: DateTime<Utc>,
}

/// A serial identifies a part across devices; other keys are positions and
/// only mean something within their device.
fn follows_across_devices(item: &Item) -> bool {
    item.serial_issue.is_none() && !item.serial.is_empty()
}

fn incomplete(side: &Side) -> bool {
    side.status != Status::Ok
}

/// Compares one device; items seen on one side only and identified by
/// serial are returned loose for cross-device matching.
fn compare_device(index: usize, pair: Pair) -> (DeviceDiff, Vec<Loose>, Vec<Loose>) {
    let mut diff = DeviceDiff {
        device: pair.device.clone(),
        from: pair.from.as_ref().map(snapshot_ref),
        to: pair.to.as_ref().map(snapshot_ref),
        events: Vec::new(),
        changes: Vec::new(),
        unchanged: 0,
    };
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    diff.events.extend(pair.events);
    for (label, side) in [("from", &pair.from), ("to", &pair.to)] {
        if let Some(s) = side.as_ref().filter(|s| incomplete(s)) {
            diff.events.push(DeviceEvent::Incomplete {
                side: label,
                status: s.status,
                reason: s.reason.clone().unwrap_or_default(),
                replaced_by: None,
            });
        }
    }
    // A device missing from the window has nothing newer to compare: the
    // event says so once, rather than every item saying "unknown".
    if diff
        .events
        .iter()
        .any(|e| matches!(e, DeviceEvent::Missing { .. }))
    {
        diff.to = None;
        return (diff, removed, added);
    }
    let (from, to) = match (pair.from, pair.to) {
        (None, None) => return (diff, removed, added),
        (None, Some(to)) => {
            diff.events.insert(0, DeviceEvent::New);
            (None, Some(to))
        }
        (from, to) => (from, to),
    };
    let from_at = from
        .as_ref()
        .map_or(DateTime::<Utc>::MIN_UTC, |s| s.collected_at);
    let to_at = to
        .as_ref()
        .map_or(DateTime::<Utc>::MAX_UTC, |s| s.collected_at);
    let empty = std::collections::BTreeMap::new();
    let from_items = from.as_ref().map_or(&empty, |s| &s.items);
    let to_items = to.as_ref().map_or(&empty, |s| &s.items);
    // What a side cannot vouch for: a key it lacks may simply not have been read.
    let from_blind = from
        .as_ref()
        .is_some_and(incomplete)
        .then(|| reason(from.as_ref()));
    let to_blind = match &to {
        Some(s) if incomplete(s) => Some(reason(Some(s))),
        None => Some("no newer snapshot".to_owned()),
        _ => None,
    };
    for (key, old_raw) in from_items {
        match to_items.get(key) {
            // Item data holds nothing volatile: identical text is an unchanged item.
            Some(new_raw) if new_raw.get() == old_raw.get() => diff.unchanged += 1,
            Some(new_raw) => {
                let (old, new) = (side::parse(old_raw), side::parse(new_raw));
                let fields = field_changes(&old, &new);
                if old.path != new.path {
                    diff.changes.push(Change::Moved {
                        key: key.clone(),
                        from: Place {
                            device: diff.device.clone(),
                            path: old.path,
                        },
                        to: Place {
                            device: diff.device.clone(),
                            path: new.path.clone(),
                        },
                        item: new,
                        fields,
                    });
                } else if fields.is_empty() {
                    diff.unchanged += 1;
                } else {
                    diff.changes.push(Change::Changed {
                        key: key.clone(),
                        item: new,
                        fields,
                    });
                }
            }
            None => {
                let old = side::parse(old_raw);
                match &to_blind {
                    Some(why) => diff.changes.push(Change::Unknown {
                        key: key.clone(),
                        item: old,
                        reason: why.clone(),
                    }),
                    None if follows_across_devices(&old) => removed.push(Loose {
                        device_index: index,
                        key: key.clone(),
                        item: old,
                        seen: from_at,
                        other_side: to_at,
                    }),
                    None => diff.changes.push(Change::Removed {
                        key: key.clone(),
                        item: old,
                        elsewhere: Vec::new(),
                    }),
                }
            }
        }
    }
    for (key, new_raw) in to_items
        .iter()
        .filter(|(k, _)| !from_items.contains_key(*k))
    {
        let new = side::parse(new_raw);
        match &from_blind {
            Some(why) => diff.changes.push(Change::Unknown {
                key: key.clone(),
                item: new,
                reason: why.clone(),
            }),
            None if follows_across_devices(&new) => added.push(Loose {
                device_index: index,
                key: key.clone(),
                item: new,
                seen: to_at,
                other_side: from_at,
            }),
            None => diff.changes.push(Change::Added {
                key: key.clone(),
                item: new,
                elsewhere: Vec::new(),
            }),
        }
    }
    (diff, removed, added)
}

fn reason(side: Option<&Side>) -> String {
    match side {
        Some(s) => format!(
            "collection {} at {}{}",
            s.status,
            s.collected_at.format("%Y-%m-%dT%H:%M:%SZ"),
            s.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        None => "no snapshot".into(),
    }
}

type Compared = (DeviceDiff, Vec<Loose>, Vec<Loose>);

/// Compares pairs already in memory.
pub fn compare(pairs: Vec<Pair>, from: &str, to: &str, errors: Vec<String>) -> Report {
    let results = pairs
        .into_iter()
        .enumerate()
        .map(|(i, p)| compare_device(i, p))
        .collect();
    finish(results, from, to, errors)
}

/// What resolving one device gave: the pair to compare (none when the
/// device is not in the window) and problems met on the way.
pub type Resolved = Result<(Option<Pair>, Vec<String>), crate::snapshot::store::StoreError>;

/// Compares `devices`, each read by `resolve` (which picks and reads the
/// two snapshots, or says why it cannot) on worker threads. Only the results
/// are kept, so memory does not grow with the size of the store's items.
pub fn compare_streaming<D: Sync, R>(devices: &[D], resolve: R, from: &str, to: &str) -> Report
where
    R: Fn(&D) -> Resolved + Sync,
{
    let gathered = crate::pool::map(devices, crate::pool::cpus(), |device| {
        resolve(device).map(|(pair, problems)| (pair.map(|p| compare_device(0, p)), problems))
    });
    let mut errors = Vec::new();
    let mut results = Vec::new();
    for r in gathered {
        match r {
            Ok((compared, problems)) => {
                errors.extend(problems);
                let Some(mut compared) = compared else {
                    continue;
                };
                // Loose items refer to their device by position in `results`.
                let at = results.len();
                compared
                    .1
                    .iter_mut()
                    .chain(compared.2.iter_mut())
                    .for_each(|l| l.device_index = at);
                results.push(compared);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    finish(results, from, to, errors)
}

/// Pairs serials that left one device with serials that arrived on another,
/// then sorts and counts.
fn finish(mut results: Vec<Compared>, from: &str, to: &str, errors: Vec<String>) -> Report {
    // Every serial's departures and arrivals across the store.
    let mut by_key: BTreeMap<String, (Vec<Loose>, Vec<Loose>)> = BTreeMap::new();
    for (_, r, a) in &mut results {
        for loose in r.drain(..) {
            by_key.entry(loose.key.clone()).or_default().0.push(loose);
        }
        for loose in a.drain(..) {
            by_key.entry(loose.key.clone()).or_default().1.push(loose);
        }
    }
    let mut devices: Vec<DeviceDiff> = results.into_iter().map(|(d, _, _)| d).collect();
    let mut on_several_devices = 0;
    for (key, (gone, arrived)) in by_key {
        if let ([g], [a]) = (gone.as_slice(), arrived.as_slice())
            && moved_in_order(g, a)
        {
            let (gone, arrived) = (g, a);
            let change = Change::Moved {
                key,
                from: Place {
                    device: devices[gone.device_index].device.clone(),
                    path: gone.item.path.clone(),
                },
                to: Place {
                    device: devices[arrived.device_index].device.clone(),
                    path: arrived.item.path.clone(),
                },
                fields: field_changes(&gone.item, &arrived.item),
                item: arrived.item.clone(),
            };
            devices[arrived.device_index].changes.push(change);
            continue;
        }
        let sightings: Vec<(usize, Sighting)> = gone
            .iter()
            .map(|l| (l.device_index, "removed", l))
            .chain(arrived.iter().map(|l| (l.device_index, "added", l)))
            .map(|(i, change, l)| {
                let sighting = Sighting {
                    device: devices[i].device.clone(),
                    change,
                    at: l.seen,
                };
                (i, sighting)
            })
            .collect();
        if gone.len() + arrived.len() > 1 {
            on_several_devices += 1;
        }
        let elsewhere = |me: usize| -> Vec<Sighting> {
            sightings
                .iter()
                .filter(|(i, _)| *i != me)
                .map(|(_, s)| s.clone())
                .collect()
        };
        for l in gone {
            let change = Change::Removed {
                key: key.clone(),
                elsewhere: elsewhere(l.device_index),
                item: l.item,
            };
            devices[l.device_index].changes.push(change);
        }
        for l in arrived {
            let change = Change::Added {
                key: key.clone(),
                elsewhere: elsewhere(l.device_index),
                item: l.item,
            };
            devices[l.device_index].changes.push(change);
        }
    }
    let mut stats = Stats {
        devices: devices.len(),
        on_several_devices,
        ..Stats::default()
    };
    for d in &mut devices {
        d.changes
            .sort_by(|a, b| order(a).cmp(&order(b)).then_with(|| a.key().cmp(b.key())));
        stats.unchanged += d.unchanged;
        for c in &d.changes {
            match c {
                Change::Added { .. } => stats.added += 1,
                Change::Removed { .. } => stats.removed += 1,
                Change::Moved { .. } => stats.moved += 1,
                Change::Changed { .. } => stats.changed += 1,
                Change::Unknown { .. } => stats.unknown += 1,
            }
        }
        for e in &d.events {
            match e {
                DeviceEvent::New => stats.new_devices += 1,
                DeviceEvent::Missing { .. } => stats.missing_devices += 1,
                DeviceEvent::Incomplete {
                    replaced_by: None, ..
                } => stats.incomplete_devices += 1,
                DeviceEvent::Incomplete { .. } => {}
            }
        }
    }
    devices.sort_by(|a, b| a.device.cmp(&b.device));
    Report {
        format: "invmon-diff",
        schema: 1,
        from: from.into(),
        to: to.into(),
        devices,
        stats,
        errors,
    }
}

/// Whether a part that left `gone`'s device and arrived on `arrived`'s can
/// have moved: it must have been seen on the new device after it was last
/// seen on the old one, in the direction the comparison runs (a reversed
/// diff, newer to older, reverses time).
fn moved_in_order(gone: &Loose, arrived: &Loose) -> bool {
    if gone.device_index == arrived.device_index {
        return false;
    }
    let forward = gone.other_side >= gone.seen;
    if forward {
        arrived.seen > gone.seen
    } else {
        arrived.seen < gone.seen
    }
}

fn order(c: &Change) -> u8 {
    match c {
        Change::Added { .. } => 0,
        Change::Removed { .. } => 1,
        Change::Moved { .. } => 2,
        Change::Changed { .. } => 3,
        Change::Unknown { .. } => 4,
    }
}
