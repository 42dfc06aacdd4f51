//! Which two snapshots of each device a comparison reads.
//!
//! Selectors pick a snapshot per device; an unreadable one is reported and
//! the newest readable one before it is read instead; `--skip-failed` passes
//! over incomplete ones. Across the whole store, devices are collected at
//! different times, so "new" and "missing" are judged against the window's
//! start as the store sees it: for a time selector, that time; for
//! `latest~N`, the newest of the devices' `latest~N` snapshots (the run N
//! runs ago). A device first collected after that start is new; a device not
//! collected after it, while others were, is missing; a device whose two
//! sides are the same snapshot otherwise is unchanged.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::side::{Lean, Side};
use super::{DeviceEvent, Pair, Report};
use crate::snapshot::Status;
use crate::snapshot::store::{Entry, Selector, Store, StoreError};

/// The two points in time compared, as the user gave them.
#[derive(Clone, Debug)]
pub struct Window {
    pub from: Selector,
    pub to: Selector,
    /// Compare with the newest complete snapshot instead of an incomplete one.
    pub skip_failed: bool,
    /// How the sides are named in the report.
    pub from_label: String,
    pub to_label: String,
}

/// Where the window starts, as the store sees it.
#[derive(Clone, Debug)]
enum Start {
    /// A time (or timestamp prefix) the user named.
    Selector(Selector),
    /// The newest `latest~N` snapshot among the devices.
    At(DateTime<Utc>),
    /// No device has a snapshot that old: every device is new.
    Before,
}

impl Start {
    fn is_after(&self, taken: DateTime<Utc>) -> bool {
        match self {
            Start::Selector(s) => s.is_after(taken).unwrap_or(true),
            Start::At(t) => taken > *t,
            Start::Before => true,
        }
    }
}

/// One device's snapshots and the positions the selectors pick in them.
struct Planned {
    device: String,
    list: Vec<Entry>,
    from: Option<usize>,
    to: Option<usize>,
}

impl Planned {
    fn new(store: &Store, device: &str, window: &Window) -> Result<Planned, StoreError> {
        let list = store.list(device)?;
        Ok(Planned {
            from: position(store, device, &list, &window.from)?,
            to: position(store, device, &list, &window.to)?,
            device: device.to_owned(),
            list,
        })
    }

    /// The device listed again, its window where the sketch placed it: a
    /// snapshot collected since does not move the window's end, and one
    /// pruned since is an error, not a quietly different comparison.
    fn again(store: &Store, sketch: &Sketch) -> Result<Planned, StoreError> {
        let list = store.list(&sketch.device)?;
        let find = |chosen: &Option<Entry>| {
            chosen
                .as_ref()
                .map(|c| {
                    list.iter()
                        .position(|e| e.path == c.path)
                        .ok_or_else(|| StoreError::Vanished {
                            path: c.path.clone(),
                        })
                })
                .transpose()
        };
        Ok(Planned {
            from: find(&sketch.from)?,
            to: find(&sketch.to)?,
            device: sketch.device.clone(),
            list,
        })
    }
}

/// What placing the window across the store needs of a device: the
/// snapshots the selectors pick, not its listing. A month of hourly
/// snapshots of a thousand devices is 720,000 entries; each device is
/// listed again when it is compared, so only the devices being compared
/// hold theirs.
struct Sketch {
    device: String,
    from: Option<Entry>,
    to: Option<Entry>,
}

/// The window placed across the store, before any device is compared.
struct Placed {
    sketches: Vec<Sketch>,
    start: Start,
    window_saw_collections: bool,
    /// Devices that could not be listed.
    errors: Vec<String>,
}

fn position(
    store: &Store,
    device: &str,
    list: &[Entry],
    selector: &Selector,
) -> Result<Option<usize>, StoreError> {
    match store.position(device, list, selector) {
        Ok(i) => Ok(Some(i)),
        Err(e) if e.is_nothing_there() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the side at `at` (or an older one, see the module docs), noting
/// what was passed over.
fn read_side(
    store: &Store,
    planned: &Planned,
    at: usize,
    window: &Window,
    label: &'static str,
    pair: &mut Pair,
    problems: &mut Vec<String>,
) -> Result<Side, StoreError> {
    let (device, list) = (planned.device.as_str(), planned.list.as_slice());
    let accept = |lean: &Lean| !window.skip_failed || Side::status(lean) == Status::Ok;
    let found = store.find_from::<Lean>(device, &list[..=at], accept)?;
    problems.extend(
        found
            .skipped
            .iter()
            .map(|e| format!("{e} (an older snapshot was compared instead)")),
    );
    let side = Side::from_lean(&found.entry.path, found.doc);
    if window.skip_failed && found.entry.path != list[at].path {
        let chosen = &list[at];
        if let Ok(lean) = store.read_as::<Lean>(device, chosen) {
            pair.events.push(DeviceEvent::Incomplete {
                side: label,
                status: Side::status(&lean),
                reason: Side::from_lean(&chosen.path, lean)
                    .reason
                    .unwrap_or_default(),
                replaced_by: Some(found.entry.stamp()),
            });
        }
    }
    Ok(side)
}

/// The pair for one planned device, or `None` when the device has no
/// snapshot by the window's end (it did not exist yet).
fn resolve(
    store: &Store,
    planned: &Planned,
    window: &Window,
    start: &Start,
    window_saw_collections: bool,
    problems: &mut Vec<String>,
) -> Result<Option<Pair>, StoreError> {
    let Some(to_at) = planned.to else {
        return Ok(None);
    };
    let device = planned.device.as_str();
    let list = &planned.list;
    // A device without a `latest~N` snapshot that already existed when the
    // window started is compared with its state at that start.
    let from_at = match (planned.from, start) {
        (None, Start::At(t)) if !start.is_after(list[0].taken) => {
            position(store, device, list, &Selector::AtOrBefore(*t))?
        }
        (from, _) => from,
    };
    let mut pair = Pair {
        device: device.to_owned(),
        from: None,
        to: None,
        events: Vec::new(),
    };
    // Not collected after the window started, while others were: whatever
    // changed on it happened before the window, and its present is unknown.
    let stale = window_saw_collections && !start.is_after(list[to_at].taken);
    if stale || from_at == Some(to_at) {
        let side = read_side(store, planned, to_at, window, "to", &mut pair, problems)?;
        if stale {
            pair.events.push(DeviceEvent::Missing {
                last_seen: side.collected_at,
            });
        }
        pair.from = Some(side.clone());
        pair.to = Some(side);
        return Ok(Some(pair));
    }
    if let Some(at) = from_at {
        pair.from = Some(read_side(
            store, planned, at, window, "from", &mut pair, problems,
        )?);
    }
    pair.to = Some(read_side(
        store, planned, to_at, window, "to", &mut pair, problems,
    )?);
    Ok(Some(pair))
}

/// Every device in the store, each as of the window's two ends.
pub fn all(store: &Store, window: &Window) -> Result<Report, StoreError> {
    Ok(compare_placed(store, window, place(store, window)?))
}

fn place(store: &Store, window: &Window) -> Result<Placed, StoreError> {
    let devices = store.devices()?;
    let sketches: Vec<Result<Sketch, StoreError>> =
        crate::pool::map(&devices, crate::pool::cpus(), |device| {
            let p = Planned::new(store, device, window)?;
            Ok(Sketch {
                from: p.from.map(|i| p.list[i].clone()),
                to: p.to.map(|i| p.list[i].clone()),
                device: p.device,
            })
        });
    let mut errors = Vec::new();
    let sketches: Vec<Sketch> = sketches
        .into_iter()
        .filter_map(|p| p.map_err(|e| errors.push(e.to_string())).ok())
        .collect();
    let start = match &window.from {
        Selector::Latest(_) => sketches
            .iter()
            .filter_map(|s| s.from.as_ref().map(|e| e.taken))
            .max()
            .map_or(Start::Before, Start::At),
        other => Start::Selector(other.clone()),
    };
    let window_saw_collections = sketches
        .iter()
        .any(|s| s.to.as_ref().is_some_and(|e| start.is_after(e.taken)));
    Ok(Placed {
        sketches,
        start,
        window_saw_collections,
        errors,
    })
}

fn compare_placed(store: &Store, window: &Window, placed: Placed) -> Report {
    let mut report = super::compare_streaming(
        &placed.sketches,
        |s| {
            let mut problems = Vec::new();
            let planned = Planned::again(store, s)?;
            let pair = resolve(
                store,
                &planned,
                window,
                &placed.start,
                placed.window_saw_collections,
                &mut problems,
            )?;
            Ok((pair, problems))
        },
        &window.from_label,
        &window.to_label,
    );
    report.errors.splice(0..0, placed.errors);
    report
}

/// One device; selectors that point before its first snapshot or past its
/// count are errors, not a new device.
pub fn device(store: &Store, device: &str, window: &Window) -> Result<Report, StoreError> {
    let list = store.list(device)?;
    if list.is_empty() {
        return Err(StoreError::NoSnapshots {
            device: device.to_owned(),
            root: store.root().to_owned(),
        });
    }
    let to = store.position(device, &list, &window.to)?;
    let from = match store.position(device, &list, &window.from) {
        Ok(i) => Some(i),
        // Before its first snapshot: the device is new since then.
        Err(StoreError::NothingBefore { .. }) => None,
        Err(e) => return Err(e),
    };
    let planned = Planned {
        device: device.to_owned(),
        list,
        from,
        to: Some(to),
    };
    // Nothing collected since a time in the past: the device is missing.
    let start = Start::Selector(window.from.clone());
    let past = window.from.is_after(Utc::now()) == Some(false);
    let mut problems = Vec::new();
    let pair = resolve(store, &planned, window, &start, past, &mut problems)?;
    Ok(super::compare(
        pair.into_iter().collect(),
        &window.from_label,
        &window.to_label,
        problems,
    ))
}

/// Two snapshot files named directly (checked against the store's trust).
pub fn files(store: &Store, a: &Path, b: &Path) -> Result<Report, StoreError> {
    let read = |p: &Path| {
        store
            .read_file_as::<Lean>(p)
            .map(|lean| Side::from_lean(p, lean))
    };
    let (a_side, b_side) = (read(a)?, read(b)?);
    let device = if a_side.device == b_side.device {
        b_side.device.clone()
    } else {
        format!("{} → {}", a_side.device, b_side.device)
    };
    let pair = Pair {
        device,
        from: Some(a_side),
        to: Some(b_side),
        events: Vec::new(),
    };
    Ok(super::compare(
        vec![pair],
        &a.display().to_string(),
        &b.display().to_string(),
        Vec::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Device, Outcome, Snapshot};

    fn write(store: &Store, device: &str, hour: u32) -> std::path::PathBuf {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc();
        let device = Device {
            name: device.into(),
            ..Device::default()
        };
        let outcome = Outcome {
            status: Status::Ok,
            reason: None,
            duration_ms: 0,
        };
        store
            .write(&mut Snapshot::new(at, device, outcome, Default::default()))
            .unwrap()
    }

    /// A collect or prune landing between placing the window and comparing
    /// a device neither shifts that device's window nor goes unsaid.
    #[test]
    fn a_device_is_compared_where_the_window_was_placed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        for device in ["a", "b"] {
            write(&store, device, 1);
        }
        let b_from = write(&store, "b", 2);
        let window = Window {
            from: Selector::Latest(1),
            to: Selector::Latest(0),
            skip_failed: false,
            from_label: "from".into(),
            to_label: "to".into(),
        };
        let placed = place(&store, &window).unwrap();
        write(&store, "a", 3);
        std::fs::remove_file(&b_from).unwrap();

        let report = compare_placed(&store, &window, placed);
        let a = report.devices.iter().find(|d| d.device == "a").unwrap();
        // As placed, `a` was not collected after the window's start (b's
        // hour 1); its hour 3 came later and is not compared.
        assert!(
            matches!(a.events[..], [DeviceEvent::Missing { .. }]),
            "{a:?}"
        );
        assert!(
            [&a.from, &a.to]
                .into_iter()
                .flatten()
                .all(|r| r.collected_at.format("%H").to_string() == "01"),
            "{a:?}"
        );
        assert!(report.devices.iter().all(|d| d.device != "b"));
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert!(
            report.errors[0].contains("removed while the store was being compared"),
            "{:?}",
            report.errors
        );
    }
}
