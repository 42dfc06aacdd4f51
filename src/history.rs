//! The life of a part across the whole store: where and when it was seen,
//! every move, the complete walks that did not list it, the collections
//! that could not tell, and the times it was on several devices at once.
//!
//! Read from the snapshots themselves, every device's in time order.

use std::collections::BTreeMap;

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
    /// serial → (model, class, position)
    parts: BTreeMap<String, (String, String, String)>,
}

fn position(item: &crate::inventory::Item) -> String {
    let mut names: Vec<&str> = item.path.iter().map(String::as_str).collect();
    names.push(if item.name.is_empty() {
        &item.index
    } else {
        &item.name
    });
    names.join(" / ")
}

fn wanted(query: &Query, raw: &serde_json::value::RawValue) -> Option<crate::inventory::Item> {
    // Most items are not asked for: a serial not in the text is not parsed.
    if let Query::Serial(s) = query
        && !raw.get().contains(s.as_str())
    {
        return None;
    }
    let item = side::parse(raw);
    let hit = match query {
        Query::Serial(s) => item.serial == *s,
        Query::Model(p) => !item.serial.is_empty() && crate::text::glob(p, &item.model),
    };
    hit.then_some(item)
}

/// Reads every device's snapshots (on all cores) and follows the parts asked for.
pub fn history(store: &Store, query: &Query) -> Result<History, StoreError> {
    let devices = store.devices()?;
    let read = crate::pool::map(&devices, crate::pool::cpus(), |device| {
        let mut seen = Vec::new();
        let mut unreadable = Vec::new();
        for entry in store.list(device)? {
            match store.read_as::<Lean>(device, &entry) {
                Ok(lean) => {
                    let s = Side::from_lean(&entry.path, lean);
                    let parts = s
                        .items
                        .values()
                        .filter_map(|raw| wanted(query, raw))
                        .map(|i| {
                            let pos = position(&i);
                            (i.serial, (i.model, i.class, pos))
                        })
                        .collect();
                    seen.push(Seen {
                        at: s.collected_at,
                        status: s.status,
                        reason: s.reason,
                        parts,
                    });
                }
                Err(e) => unreadable.push(e.to_string()),
            }
        }
        Ok::<_, StoreError>((device.clone(), seen, unreadable))
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
    let event = |at, kind, position: &str, note: Option<String>| Event {
        at,
        kind,
        device: device.to_owned(),
        position: position.to_owned(),
        note,
    };
    for s in seen {
        for (serial, (model, class, pos)) in &s.parts {
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
            // The last sighting so far; the merge keeps only each part's last.
            entry.2.push(event(s.at, Kind::LastSeen, pos, None));
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
            parts: parts
                .iter()
                .map(|(s, p)| (s.to_string(), ("M".into(), "module".into(), p.to_string())))
                .collect(),
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
