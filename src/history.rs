//! The life of a part across the whole store: where and when it was seen,
//! every move, the complete walks that did not list it, the collections
//! that could not tell, and the times it was on several devices at once.
//!
//! Read from the snapshots themselves, every device's in time order.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::diff::side::{self, Lean, Side};
use crate::snapshot::Status;
use crate::snapshot::store::{Store, StoreError};

/// Which parts to follow.
#[derive(Clone, Debug)]
pub enum Query {
    Serial(String),
    /// A model-name pattern (`*` matches any run of characters).
    Model(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The first snapshot listing it.
    FirstSeen,
    /// Listed on another device, or elsewhere on the same one.
    Moved,
    /// Listed on a device while another still listed it.
    AlsoOn,
    /// Listed again on a device whose complete walk had not listed it.
    Returned,
    /// A complete walk of the device it was on did not list it.
    Absent,
    /// The device it was on could not be walked completely: not known.
    Unknown,
    /// The last snapshot listing it.
    LastSeen,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::FirstSeen => "first seen",
            Kind::Moved => "moved",
            Kind::AlsoOn => "also on",
            Kind::Returned => "returned",
            Kind::Absent => "absent",
            Kind::Unknown => "unknown",
            Kind::LastSeen => "last seen",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: Kind,
    pub device: String,
    /// Where on the device: the names of the containing parts and its own.
    pub position: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Part {
    pub serial: String,
    pub model: String,
    pub class: String,
    pub events: Vec<Event>,
}

#[derive(Debug, Default, Serialize)]
pub struct History {
    pub parts: Vec<Part>,
    /// Snapshots read, and those that could not be (named with why).
    pub snapshots: usize,
    pub unreadable: Vec<String>,
}

/// One snapshot of one device, reduced to what the query asks.
struct Seen {
    at: DateTime<Utc>,
    status: Status,
    reason: Option<String>,
    /// Shared by the snapshots listing the same.
    parts: Arc<Hits>,
}

/// serial → (model, class, position) of the parts a query asks for.
type Hits = BTreeMap<String, (String, String, String)>;

fn position(item: &crate::inventory::Item) -> String {
    let mut names: Vec<&str> = item.path.iter().map(String::as_str).collect();
    names.push(if item.name.is_empty() {
        &item.index
    } else {
        &item.name
    });
    names.join(" / ")
}

/// What the index keeps of one snapshot file: enough to tell every part's
/// life without reading the file again, and the file's size and
/// status-change time so that a file that changed is read again (its
/// modification time could have been set back by the tool that copied it).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
struct Indexed {
    file: String,
    size: u64,
    changed_ns: u128,
    at: DateTime<Utc>,
    status: Status,
    reason: Option<String>,
    /// (serial, model, class, position) of the parts with a serial;
    /// `None`: the same as the entry before (most snapshots are).
    parts: Option<Vec<Found>>,
}

/// (serial, model, class, position) of a part with a serial.
type Found = (String, String, String, String);

const INDEX: &str = ".index/history-1";

/// A device's index: beside the store, rebuilt where missing or stale,
/// never trusted over the snapshots (a file whose size or ctime differs is
/// read again; with an allowed_signers file, every file is read and verified).
fn device_seen(
    store: &Store,
    device: &str,
    query: &Query,
) -> Result<(Vec<Seen>, Vec<String>), StoreError> {
    let dir = store.device_dir(device);
    let index_path = store.root().join(INDEX).join(format!(
        "{}.json",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let use_index = store.trust().is_none();
    let old: Vec<Indexed> = use_index
        .then(|| std::fs::read(&index_path).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    // Each entry's parts, shared with the entries before it that have the same.
    let mut known: BTreeMap<&str, (&Indexed, Arc<Vec<Found>>)> = BTreeMap::new();
    let mut current: Arc<Vec<Found>> = Arc::default();
    for e in &old {
        if let Some(p) = &e.parts {
            current = Arc::new(p.clone());
        }
        known.insert(e.file.as_str(), (e, current.clone()));
    }
    let (mut entries, mut unreadable, mut changed) = (Vec::new(), Vec::new(), false);
    for entry in store.list(device)? {
        let file = entry
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta = std::fs::metadata(&entry.path).ok();
        let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
        let changed_ns = meta
            .as_ref()
            .and_then(crate::snapshot::store::status_changed_ns)
            .unwrap_or(0);
        if let Some((e, parts)) = known.get(file.as_str())
            && e.size == size
            && e.changed_ns == changed_ns
        {
            entries.push((
                Indexed {
                    parts: None,
                    ..(*e).clone()
                },
                parts.clone(),
            ));
            continue;
        }
        changed = true;
        match store.read_as::<Lean>(device, &entry) {
            Ok(lean) => {
                let s = Side::from_lean(&entry.path, lean);
                let parts: Vec<Found> = s
                    .items
                    .values()
                    .map(|raw| side::parse(raw))
                    .filter(|i| !i.serial.is_empty())
                    .map(|i| {
                        let pos = position(&i);
                        (i.serial, i.model, i.class, pos)
                    })
                    .collect();
                let indexed = Indexed {
                    file,
                    size,
                    changed_ns,
                    at: s.collected_at,
                    status: s.status,
                    reason: s.reason,
                    parts: None,
                };
                entries.push((indexed, Arc::new(parts)));
            }
            Err(e) => unreadable.push(e.to_string()),
        }
    }
    // The query is applied once per distinct set of parts.
    let mut asked: Option<(*const Vec<Found>, Arc<Hits>)> = None;
    let mut seen = Vec::with_capacity(entries.len());
    for (e, parts) in &entries {
        if asked.as_ref().is_none_or(|(p, _)| *p != Arc::as_ptr(parts)) {
            let hits = parts
                .iter()
                .filter(|(serial, model, ..)| match query {
                    Query::Serial(s) => serial == s,
                    Query::Model(p) => crate::text::glob(p, model),
                })
                .map(|(serial, model, class, pos)| {
                    (serial.clone(), (model.clone(), class.clone(), pos.clone()))
                })
                .collect();
            asked = Some((Arc::as_ptr(parts), Arc::new(hits)));
        }
        seen.push(Seen {
            at: e.at,
            status: e.status,
            reason: e.reason.clone(),
            parts: asked.as_ref().map(|(_, h)| h.clone()).unwrap_or_default(),
        });
    }
    if use_index && (changed || entries.len() != old.len()) {
        // Stored compactly: an entry whose parts equal the one before says so.
        let mut stored = Vec::with_capacity(entries.len());
        let mut previous: Option<&Vec<Found>> = None;
        for (e, parts) in &entries {
            let same = previous.is_some_and(|p| p == parts.as_ref());
            stored.push(Indexed {
                parts: (!same).then(|| parts.as_ref().clone()),
                ..e.clone()
            });
            previous = Some(parts.as_ref());
        }
        let written = std::fs::create_dir_all(store.root().join(INDEX)).and_then(|()| {
            let bytes = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
            crate::atomic::write(&index_path, &bytes, crate::atomic::Mode::Replace)
        });
        // A store this user may only read is searched all the same.
        if let Err(e) = written {
            tracing::debug!("History index {} not written: {e}.", index_path.display());
        }
    }
    Ok((seen, unreadable))
}

/// Reads every device's snapshots (on all cores) and follows the parts asked for.
pub fn history(store: &Store, query: &Query) -> Result<History, StoreError> {
    let devices = store.devices()?;
    let read = crate::pool::map(&devices, crate::pool::cpus(), |device| {
        device_seen(store, device, query)
            .map(|(seen, unreadable)| (device.clone(), seen, unreadable))
    });
    let mut history = History::default();
    // serial → (model, class, per-device events)
    let mut by_serial: BTreeMap<String, (String, String, Vec<Event>)> = BTreeMap::new();
    for result in read {
        let (device, seen, unreadable) = result?;
        history.snapshots += seen.len() + unreadable.len();
        history.unreadable.extend(unreadable);
        device_events(&device, &seen, &mut by_serial);
    }
    for (serial, (model, class, mut events)) in by_serial {
        events.sort_by(|a, b| a.at.cmp(&b.at).then(a.device.cmp(&b.device)));
        history.parts.push(Part {
            serial,
            model,
            class,
            events: merge(events),
        });
    }
    Ok(history)
}

/// A device's own view of each part: listed (where), not listed by a
/// complete walk, or not known.
fn device_events(
    device: &str,
    seen: &[Seen],
    by_serial: &mut BTreeMap<String, (String, String, Vec<Event>)>,
) {
    /// Where the device last listed the part, and whether it still does.
    enum State {
        Here(String),
        Gone,
        Unknown(String),
    }
    let mut state: BTreeMap<&str, State> = BTreeMap::new();
    // Each part's last sighting here; the merge keeps only the last of all.
    let mut last: BTreeMap<&str, (DateTime<Utc>, &str)> = BTreeMap::new();
    let event = |at, kind, position: &str, note: Option<String>| Event {
        at,
        kind,
        device: device.to_owned(),
        position: position.to_owned(),
        note,
    };
    for s in seen {
        for (serial, (model, class, pos)) in s.parts.iter() {
            let entry = by_serial
                .entry(serial.clone())
                .or_insert_with(|| (model.clone(), class.clone(), Vec::new()));
            let kind = match state.get(serial.as_str()) {
                None => Some(Kind::FirstSeen),
                Some(State::Here(p)) if p != pos => Some(Kind::Moved),
                Some(State::Here(_)) => None,
                Some(State::Gone) => Some(Kind::Returned),
                // After a gap nobody could see into: a move only if elsewhere.
                Some(State::Unknown(p)) if p != pos => Some(Kind::Moved),
                Some(State::Unknown(_)) => None,
            };
            if let Some(kind) = kind {
                entry.2.push(event(s.at, kind, pos, None));
            }
            last.insert(serial.as_str(), (s.at, pos.as_str()));
            state.insert(serial, State::Here(pos.clone()));
        }
        for (serial, st) in state.iter_mut() {
            if s.parts.contains_key(*serial) {
                continue;
            }
            let pos = match st {
                State::Here(p) | State::Unknown(p) => p.clone(),
                State::Gone => continue,
            };
            let (kind, next, note) = match s.status {
                Status::Ok => (Kind::Absent, State::Gone, None),
                _ if matches!(st, State::Unknown(_)) => continue,
                status => (
                    Kind::Unknown,
                    State::Unknown(pos.clone()),
                    Some(format!(
                        "collection {status}{}",
                        s.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    )),
                ),
            };
            if let Some(e) = by_serial.get_mut(*serial) {
                e.2.push(event(s.at, kind, &pos, note));
            }
            *st = next;
        }
    }
    for (serial, (at, pos)) in last {
        if let Some(e) = by_serial.get_mut(serial) {
            e.2.push(event(at, Kind::LastSeen, pos, None));
        }
    }
}

/// One timeline from the devices' views: the first sighting anywhere is
/// the first seen, a first sighting on another device is a move (or, while
/// the part is still listed elsewhere, a sighting on several devices), and
/// only the last "last seen" stays.
fn merge(events: Vec<Event>) -> Vec<Event> {
    let last_seen = events.iter().rposition(|e| e.kind == Kind::LastSeen);
    let mut on: BTreeMap<String, bool> = BTreeMap::new();
    let mut out: Vec<Event> = Vec::new();
    for (i, mut e) in events.into_iter().enumerate() {
        match e.kind {
            Kind::LastSeen if Some(i) != last_seen => continue,
            Kind::FirstSeen | Kind::Returned if !out.is_empty() => {
                let elsewhere: Vec<&str> = on
                    .iter()
                    .filter(|(d, here)| **here && **d != e.device)
                    .map(|(d, _)| d.as_str())
                    .collect();
                if !elsewhere.is_empty() {
                    e.note = Some(format!("still listed on {}", elsewhere.join(", ")));
                    e.kind = Kind::AlsoOn;
                } else if e.kind == Kind::FirstSeen {
                    e.kind = Kind::Moved;
                }
            }
            _ => {}
        }
        match e.kind {
            Kind::Absent => {
                on.insert(e.device.clone(), false);
            }
            Kind::FirstSeen | Kind::Moved | Kind::AlsoOn | Kind::Returned => {
                on.insert(e.device.clone(), true);
            }
            _ => {}
        }
        out.push(e);
    }
    out
}

impl History {
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            out += &format!("{} {} ({})\n", p.serial, p.model, p.class);
            for e in &p.events {
                out += &format!(
                    "  {}  {:<10}  {}{}{}\n",
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    e.kind.label(),
                    e.device,
                    if e.position.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", e.position)
                    },
                    e.note
                        .as_deref()
                        .map(|n| format!("  ({n})"))
                        .unwrap_or_default()
                );
            }
        }
        for u in &self.unreadable {
            out += &format!("unreadable: {u}\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(at: &str, status: Status, parts: &[(&str, &str)]) -> Seen {
        Seen {
            at: at.parse().unwrap(),
            status,
            reason: None,
            parts: Arc::new(
                parts
                    .iter()
                    .map(|(s, p)| (s.to_string(), ("M".into(), "module".into(), p.to_string())))
                    .collect(),
            ),
        }
    }

    fn kinds(part: &Part) -> Vec<(&str, Kind)> {
        part.events
            .iter()
            .map(|e| (e.device.as_str(), e.kind))
            .collect()
    }

    #[test]
    fn a_part_that_moves_fails_to_be_seen_and_sits_on_two_devices() {
        let mut by = BTreeMap::new();
        device_events(
            "a",
            &[
                seen("2026-11-01T00:00:00Z", Status::Ok, &[("S1", "slot 1")]),
                seen("2026-11-02T00:00:00Z", Status::Failed, &[]),
                seen("2026-11-03T00:00:00Z", Status::Ok, &[("S1", "slot 2")]),
                seen("2026-11-04T00:00:00Z", Status::Ok, &[]),
            ],
            &mut by,
        );
        device_events(
            "b",
            &[
                seen("2026-11-03T12:00:00Z", Status::Ok, &[("S1", "slot 9")]),
                seen("2026-11-05T00:00:00Z", Status::Ok, &[("S1", "slot 9")]),
            ],
            &mut by,
        );
        let (model, class, mut events) = by.remove("S1").unwrap();
        events.sort_by(|x, y| x.at.cmp(&y.at).then(x.device.cmp(&y.device)));
        let part = Part {
            serial: "S1".into(),
            model,
            class,
            events: merge(events),
        };
        assert_eq!(
            kinds(&part),
            [
                ("a", Kind::FirstSeen),
                ("a", Kind::Unknown),
                ("a", Kind::Moved),
                ("b", Kind::AlsoOn),
                ("a", Kind::Absent),
                ("b", Kind::LastSeen),
            ]
        );
        assert_eq!(part.events[2].position, "slot 2");
        assert_eq!(part.events[3].note.as_deref(), Some("still listed on a"));
        assert_eq!(
            part.events[5].at,
            "2026-11-05T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn a_move_to_another_device_after_an_absence_is_a_move() {
        let mut by = BTreeMap::new();
        device_events(
            "a",
            &[
                seen("2026-11-01T00:00:00Z", Status::Ok, &[("S1", "p")]),
                seen("2026-11-02T00:00:00Z", Status::Ok, &[]),
            ],
            &mut by,
        );
        device_events(
            "b",
            &[seen("2026-11-03T00:00:00Z", Status::Ok, &[("S1", "q")])],
            &mut by,
        );
        let (_, _, mut events) = by.remove("S1").unwrap();
        events.sort_by_key(|e| e.at);
        let events = merge(events);
        let got: Vec<Kind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            got,
            [Kind::FirstSeen, Kind::Absent, Kind::Moved, Kind::LastSeen]
        );
    }
}
