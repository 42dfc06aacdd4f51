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
        Err(format!(
            "{s:?}: expected latest, latest~N, a snapshot timestamp, an RFC 3339 time or a date"
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
        let list = self.list(device)?;
        if list.is_empty() {
            return Err(StoreError::NoSnapshots {
                device: device.into(),
                root: self.root.clone(),
            });
        }
        match selector {
            Selector::Latest(n) => {
                list.iter()
                    .rev()
                    .nth(*n)
                    .cloned()
                    .ok_or_else(|| StoreError::OutOfRange {
                        device: device.into(),
                        count: list.len(),
                        selector: format!("latest~{n}"),
                    })
            }
            Selector::AtOrBefore(t) => list
                .iter()
                .rev()
                .find(|e| e.taken <= *t)
                .cloned()
                .ok_or_else(|| StoreError::NothingBefore {
                    device: device.into(),
                    at: t.format(STAMP).to_string(),
                }),
        }
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
    }
}
