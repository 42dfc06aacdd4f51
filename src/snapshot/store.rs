//! The snapshot store: `<root>/<device>/<UTC timestamp>.json.zst`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::codec::{self, CodecError};
use super::{Snapshot, Status};

const STAMP: &str = "%Y-%m-%dT%H-%M-%S%.3fZ";
const SUFFIX: &str = ".json.zst";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("snapshot store {path}: {why}")]
    Unusable { path: PathBuf, why: String },
    #[error("no snapshots of device {device:?} in {root}")]
    NoSnapshots { device: String, root: PathBuf },
    #[error("device {device:?} has {count} snapshots; {selector} is out of range")]
    OutOfRange {
        device: String,
        count: usize,
        selector: String,
    },
    #[error("device {device:?} has no snapshot at or before {at}")]
    NothingBefore { device: String, at: String },
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// Which snapshot of a device: `latest`, `latest~N`, or a time (the newest
/// snapshot taken at or before it; a file's own timestamp selects that file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Latest(usize),
    AtOrBefore(DateTime<Utc>),
    /// A timestamp prefix (`2026-11-21T05`): the newest snapshot taken by
    /// the end of the period it names.
    Prefix(String),
    /// A snapshot file named directly.
    File(PathBuf),
}

impl FromStr for Selector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "latest" {
            return Ok(Selector::Latest(0));
        }
        if let Some(n) = s.strip_prefix("latest~") {
            return n
                .parse()
                .map(Selector::Latest)
                .map_err(|_| format!("{s:?}: expected latest~N with a whole number N"));
        }
        let stem = s.strip_suffix(SUFFIX).unwrap_or(s);
        if let Ok(t) = NaiveDateTime::parse_from_str(stem, STAMP) {
            return Ok(Selector::AtOrBefore(t.and_utc()));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(Selector::AtOrBefore(t.with_timezone(&Utc)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            // A whole day: the state at its end.
            let end = d
                .and_hms_milli_opt(23, 59, 59, 999)
                .expect("valid time")
                .and_utc();
            return Ok(Selector::AtOrBefore(end));
        }
        if s.ends_with(SUFFIX) || s.contains('/') {
            return Ok(Selector::File(PathBuf::from(s)));
        }
        let stampish = |c: char| c.is_ascii_digit() || "-T:.Z".contains(c);
        if s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(stampish) {
            return Ok(Selector::Prefix(s.replace(':', "-")));
        }
        Err(format!(
            "{s:?}: expected latest, latest~N, a snapshot timestamp (or its prefix), an RFC 3339 time, a date or a snapshot file"
        ))
    }
}

/// A snapshot file in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub taken: DateTime<Utc>,
}

impl Entry {
    /// An entry for a file named directly; its time comes from its name when it has one.
    pub fn of_file(path: &Path) -> Entry {
        let taken = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|stem| NaiveDateTime::parse_from_str(stem, STAMP).ok())
            .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc());
        Entry {
            path: path.to_owned(),
            taken,
        }
    }

    pub fn stamp(&self) -> String {
        self.taken.format(STAMP).to_string()
    }
}

pub struct Store {
    root: PathBuf,
}

/// A directory name for a device that cannot leave the store: only letters,
/// digits, `-`, `_` and `.`, never starting with a dot.
pub fn sanitize(device: &str) -> String {
    let mut out: String = device
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the store if needed and proves it writable, before any device is walked.
    pub fn ensure_writable(&self) -> Result<(), StoreError> {
        let unusable = |why: String| StoreError::Unusable {
            path: self.root.clone(),
            why,
        };
        std::fs::create_dir_all(&self.root).map_err(|e| unusable(e.to_string()))?;
        let probe = self
            .root
            .join(format!(".write-test.{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| unusable(format!("not writable: {e}")))?;
        std::fs::remove_file(&probe).map_err(|e| unusable(e.to_string()))
    }

    pub fn device_dir(&self, device: &str) -> PathBuf {
        self.root.join(sanitize(device))
    }

    /// Device directories in the store, sorted.
    pub fn devices(&self) -> Result<Vec<String>, StoreError> {
        let entries = std::fs::read_dir(&self.root).map_err(|e| StoreError::Unusable {
            path: self.root.clone(),
            why: e.to_string(),
        })?;
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        out.sort();
        Ok(out)
    }

    /// A device's snapshots, oldest first.
    pub fn list(&self, device: &str) -> Result<Vec<Entry>, StoreError> {
        let dir = self.device_dir(device);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::Unusable {
                    path: dir,
                    why: e.to_string(),
                });
            }
        };
        let mut out: Vec<Entry> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(SUFFIX)?;
                let taken = NaiveDateTime::parse_from_str(stem, STAMP).ok()?.and_utc();
                Some(Entry {
                    path: e.path(),
                    taken,
                })
            })
            .collect();
        out.sort_by_key(|e| e.taken);
        Ok(out)
    }

    pub fn select(&self, device: &str, selector: &Selector) -> Result<Entry, StoreError> {
        if let Selector::File(path) = selector {
            return Ok(Entry::of_file(path));
        }
        let list = self.list(device)?;
        if list.is_empty() {
            return Err(StoreError::NoSnapshots {
                device: device.into(),
                root: self.root.clone(),
            });
        }
        let newest_first = || list.iter().rev();
        let found = match selector {
            Selector::Latest(n) => newest_first().nth(*n),
            Selector::AtOrBefore(t) => newest_first().find(|e| e.taken <= *t),
            // Stamps are fixed-width and sort as text, so "by the end of the
            // period" is: the stamp cut to the prefix's length is not after it.
            Selector::Prefix(p) => newest_first().find(|e| {
                let stamp = e.stamp();
                stamp.get(..p.len()).unwrap_or(&stamp) <= p.as_str()
            }),
            Selector::File(_) => unreachable!("handled above"),
        };
        found.cloned().ok_or_else(|| match selector {
            Selector::Latest(n) => StoreError::OutOfRange {
                device: device.into(),
                count: list.len(),
                selector: format!("latest~{n}"),
            },
            Selector::AtOrBefore(t) => StoreError::NothingBefore {
                device: device.into(),
                at: t.format(STAMP).to_string(),
            },
            other => StoreError::NothingBefore {
                device: device.into(),
                at: format!("{other:?}"),
            },
        })
    }

    /// Path a snapshot taken at `taken` gets.
    pub fn path_for(&self, device: &str, taken: DateTime<Utc>) -> PathBuf {
        self.device_dir(device)
            .join(format!("{}{SUFFIX}", taken.format(STAMP)))
    }

    /// Writes a new snapshot. Two runs in the same millisecond get distinct
    /// names; an existing file is never replaced.
    pub fn write(&self, snapshot: &mut Snapshot) -> Result<PathBuf, StoreError> {
        let dir = self.device_dir(&snapshot.device.name);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Unusable {
            path: dir.clone(),
            why: e.to_string(),
        })?;
        for _ in 0..1000 {
            let path = self.path_for(&snapshot.device.name, snapshot.collected_at);
            match codec::write(&path, snapshot) {
                Err(CodecError::Exists { .. }) => {
                    snapshot.collected_at += TimeDelta::milliseconds(1)
                }
                Ok(()) => return Ok(path),
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Unusable {
            path: dir,
            why: "no free snapshot name".into(),
        })
    }

    /// Which of a device's snapshots a prune removes: all but the `keep_last`
    /// newest and those taken within `keep_within` of `now`, and never the
    /// newest complete one (it is the baseline for ABSENT items and diffs)
    /// nor one newer than `shipped` (the oldest "last shipped" stamp among the
    /// store's ship ledgers; `Some("")` when a ledger has not shipped the
    /// device at all).
    pub fn prune_plan(
        &self,
        device: &str,
        keep_last: usize,
        keep_within: Option<TimeDelta>,
        now: DateTime<Utc>,
        shipped: Option<&str>,
    ) -> Result<Vec<Entry>, StoreError> {
        let list = self.list(device)?;
        let newest_ok = list
            .iter()
            .rev()
            .find(|e| codec::read(&e.path).is_ok_and(|s| s.outcome.status == Status::Ok));
        let cutoff = keep_within.map(|w| now - w);
        let keep = |i: usize, e: &Entry| {
            i < keep_last
                || cutoff.is_some_and(|c| e.taken >= c)
                || newest_ok.is_some_and(|ok| ok.path == e.path)
                || shipped.is_some_and(|s| e.stamp().as_str() > s)
        };
        Ok(list
            .iter()
            .rev()
            .enumerate()
            .filter(|(i, e)| !keep(*i, e))
            .map(|(_, e)| e.clone())
            .collect())
    }

    /// Deletes a snapshot and the raw walk kept beside it, if any.
    pub fn remove(&self, entry: &Entry) -> Result<(), StoreError> {
        let unusable = |e: std::io::Error| StoreError::Unusable {
            path: entry.path.clone(),
            why: e.to_string(),
        };
        std::fs::remove_file(&entry.path).map_err(unusable)?;
        let raw = entry
            .path
            .with_file_name(format!("{}.snmprec", entry.stamp()));
        match std::fs::remove_file(&raw) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(unusable(e)),
            _ => Ok(()),
        }
    }

    /// The newest readable snapshot whose collection was complete, with the
    /// problems met on the way (unreadable newer files).
    pub fn latest_ok(&self, device: &str) -> (Option<Snapshot>, Vec<String>) {
        let mut problems = Vec::new();
        let Ok(list) = self.list(device) else {
            return (None, problems);
        };
        for entry in list.iter().rev() {
            match codec::read(&entry.path) {
                Ok(s) if s.outcome.status == Status::Ok => return (Some(s), problems),
                Ok(_) => {}
                Err(e) => problems.push(e.to_string()),
            }
        }
        (None, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_names_stay_inside() {
        assert_eq!(sanitize("../../etc/x"), "_.._.._etc_x");
        assert_eq!(sanitize("r1.prg"), "r1.prg");
        assert_eq!(sanitize(".."), "_..");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("core/sw 1"), "core_sw_1");
        for bad in ["../../etc/x", "..", "/abs", "a/../../b"] {
            let p = Path::new("/store").join(sanitize(bad));
            assert_eq!(p.parent(), Some(Path::new("/store")), "{bad}");
        }
    }

    #[test]
    fn prune_keeps_recent_and_newest_complete() {
        use crate::snapshot::{Device, Outcome};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let t0 = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for (day, status) in [
            (0, Status::Ok),
            (1, Status::Ok),
            (2, Status::Failed),
            (3, Status::Failed),
            (4, Status::Failed),
        ] {
            let mut s = Snapshot::new(
                t0 + TimeDelta::days(day),
                Device {
                    name: "r1".into(),
                    ..Device::default()
                },
                Outcome {
                    status,
                    reason: None,
                    duration_ms: 0,
                },
                Default::default(),
            );
            store.write(&mut s).unwrap();
        }
        let now = t0 + TimeDelta::days(5);
        let stamps = |v: Vec<Entry>| {
            v.iter()
                .map(|e| e.taken.format("%d").to_string())
                .collect::<Vec<_>>()
        };
        // Keep the 2 newest (days 4, 3) and the newest complete one (day 1).
        assert_eq!(
            stamps(store.prune_plan("r1", 2, None, now, None).unwrap()),
            ["03", "01"],
            "days 2 and 0"
        );
        // Within 3.5 days: days 2–4 kept by age, day 1 as the newest complete one.
        assert_eq!(
            stamps(
                store
                    .prune_plan("r1", 0, Some(TimeDelta::hours(84)), now, None)
                    .unwrap()
            ),
            ["01"],
            "day 0"
        );
        // A ledger that last shipped day 1 protects days 2–4 even with nothing else kept.
        let shipped = (t0 + TimeDelta::days(1)).format(STAMP).to_string();
        assert_eq!(
            stamps(
                store
                    .prune_plan("r1", 0, None, now, Some(&shipped))
                    .unwrap()
            ),
            ["01"]
        );
    }

    #[test]
    fn selectors() {
        assert_eq!("latest".parse(), Ok(Selector::Latest(0)));
        assert_eq!("latest~3".parse(), Ok(Selector::Latest(3)));
        let Selector::AtOrBefore(t) = "2026-11-21T05-48-53.123Z".parse().unwrap() else {
            panic!()
        };
        assert_eq!(t.to_rfc3339(), "2026-11-21T05:48:53.123+00:00");
        assert!("2026-11-21T05:48:53Z".parse::<Selector>().is_ok());
        assert!("2026-11-21".parse::<Selector>().is_ok());
        assert!("yesterday".parse::<Selector>().is_err());
        assert_eq!(
            "2026-11-21T05".parse(),
            Ok(Selector::Prefix("2026-11-21T05".into()))
        );
        assert_eq!(
            "2026-11-21T05:48".parse(),
            Ok(Selector::Prefix("2026-11-21T05-48".into()))
        );
        assert!(matches!(
            "snapshots/r1/x.json.zst".parse(),
            Ok(Selector::File(_))
        ));
    }
}
