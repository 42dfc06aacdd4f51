//! What has been shipped where: one append-only journal per destination in
//! the state directory (never inside the snapshot store, so a mirror copy of
//! the store cannot wipe it). A record is one line, written and synced before
//! the next snapshot is shipped: O(1) per record, and a kill at any instant
//! leaves at most one line cut short, which reading ignores. The journal is
//! rewritten to one line per device when it has grown long.
//!
//! Before a write that cannot be repeated (creating probes) the journal
//! also notes it as pending, with the time by which the destination will
//! have finished with it: a run that was killed after sending leaves that
//! note, and the next run waits for the write to settle before reading the
//! destination's state, so it never plans against a write still in flight.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipped {
    /// Every snapshot of the device up to this timestamp is done with:
    /// shipped, or nothing to ship (a failed collection, an older one that a
    /// newer complete snapshot replaced).
    pub snapshot: String,
    /// The timestamp of the last snapshot actually sent, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<String>,
    pub sent_at: DateTime<Utc>,
    /// The oldest time the destination's records of the device carry after
    /// the last write (NetBox: the oldest probe `time`), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touched: Option<DateTime<Utc>>,
    /// The device directory's status-change time (ns since the epoch) when
    /// it was last listed and left nothing to ship: while the directory
    /// still has that time, it holds nothing new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<u64>,
}

impl Shipped {
    pub fn last_sent(&self) -> &str {
        self.sent.as_deref().unwrap_or(&self.snapshot)
    }
}

/// One journal line: a record, or a pending write.
#[derive(Serialize, Deserialize)]
struct Line {
    device: String,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    shipped: Option<Shipped>,
    /// A write may land until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_until: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
#[error("ship ledger {path}: {cause}")]
pub struct LedgerError {
    path: PathBuf,
    cause: std::io::Error,
}

pub struct Ledger {
    path: PathBuf,
    file: Option<File>,
    devices: BTreeMap<String, Shipped>,
    pending: BTreeMap<String, DateTime<Utc>>,
    lines: usize,
}

const SUFFIX: &str = ".journal";

impl Ledger {
    fn err(&self, cause: std::io::Error) -> LedgerError {
        LedgerError {
            path: self.path.clone(),
            cause,
        }
    }

    /// The journal of destination `name` in `state` (read only).
    pub fn read(state: &Path, name: &str) -> Result<Ledger, LedgerError> {
        let path = state.join(format!("{name}{SUFFIX}"));
        let mut ledger = Ledger {
            path,
            file: None,
            devices: BTreeMap::new(),
            pending: BTreeMap::new(),
            lines: 0,
        };
        let text = match std::fs::read(&ledger.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ledger),
            Err(e) => return Err(ledger.err(e)),
        };
        // Only whole lines count: the last one may have been cut by a kill.
        for line in text.split(|&b| b == b'\n') {
            if let Ok(l) = serde_json::from_slice::<Line>(line) {
                match (l.shipped, l.pending_until) {
                    (_, Some(until)) => {
                        ledger.pending.insert(l.device, until);
                    }
                    (Some(shipped), None) => {
                        // A record settles whatever was pending before it.
                        ledger.pending.remove(&l.device);
                        ledger.devices.insert(l.device, shipped);
                    }
                    (None, None) => continue,
                }
                ledger.lines += 1;
            }
        }
        Ok(ledger)
    }

    /// Opens the journal for writing (the caller holds the destination's
    /// lock), importing `legacy` (a ledger file of versions before 0.2)
    /// when the journal does not exist yet.
    pub fn open(state: &Path, name: &str, legacy: Option<&Path>) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger::read(state, name)?;
        std::fs::create_dir_all(state).map_err(|e| ledger.err(e))?;
        if ledger.lines == 0
            && let Some(old) = legacy
            && let Ok(bytes) = std::fs::read(old)
            && let Ok(devices) = serde_json::from_slice::<BTreeMap<String, Shipped>>(&bytes)
        {
            tracing::info!(
                "Importing {} from the ledger {} into {}.",
                crate::text::plural(devices.len(), "device", "devices"),
                old.display(),
                ledger.path.display()
            );
            ledger.devices = devices;
            ledger.lines = usize::MAX;
            ledger.compact()?;
            // Imported: it no longer speaks for this destination (prune reads it otherwise).
            let _ = std::fs::rename(old, old.with_extension("json.imported"));
        }
        // Long journals (many runs over few devices) are rewritten short.
        if ledger.lines > 2 * ledger.devices.len() + 1000 {
            ledger.compact()?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ledger.path)
            .map_err(|e| ledger.err(e))?;
        ledger.file = Some(file);
        Ok(ledger)
    }

    fn compact(&mut self) -> Result<(), LedgerError> {
        let mut text = Vec::new();
        let records = self.devices.iter().map(|(device, shipped)| Line {
            device: device.clone(),
            shipped: Some(shipped.clone()),
            pending_until: None,
        });
        let pending = self.pending.iter().map(|(device, until)| Line {
            device: device.clone(),
            shipped: None,
            pending_until: Some(*until),
        });
        for line in records.chain(pending) {
            text.extend(serde_json::to_vec(&line).unwrap_or_default());
            text.push(b'\n');
        }
        crate::atomic::write(&self.path, &text, crate::atomic::Mode::Replace)
            .map_err(|e| self.err(e))?;
        self.lines = self.devices.len();
        Ok(())
    }

    /// Every ledger in `state` (one per destination that has shipped).
    pub fn all(state: &Path) -> Result<Vec<Ledger>, LedgerError> {
        let Ok(entries) = std::fs::read_dir(state) else {
            return Ok(Vec::new());
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(SUFFIX).map(str::to_owned)
            })
            .map(|name| Ledger::read(state, &name))
            .collect()
    }

    /// Every ledger whose destination has not received everything: those in
    /// `state`, and those versions before 0.2 kept in `<store>/.ledger/`.
    pub fn protecting(state: &Path, store: &Path) -> Result<Vec<Ledger>, LedgerError> {
        let mut all = Ledger::all(state)?;
        let old = store.join(".ledger");
        for entry in std::fs::read_dir(&old)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Ok(bytes) = std::fs::read(&path)
                && let Ok(devices) = serde_json::from_slice(&bytes)
            {
                all.push(Ledger {
                    path,
                    file: None,
                    devices,
                    pending: BTreeMap::new(),
                    lines: 0,
                });
            }
        }
        Ok(all)
    }

    /// Until when a write of an interrupted run may still land for `device`.
    pub fn pending(&self, device: &str) -> Option<DateTime<Utc>> {
        self.pending.get(device).copied()
    }

    /// Notes, before sending it, a write to `device` that cannot be repeated.
    pub fn intend(&mut self, device: &str, until: DateTime<Utc>) -> Result<(), LedgerError> {
        self.append(&Line {
            device: device.to_owned(),
            shipped: None,
            pending_until: Some(until),
        })?;
        self.pending.insert(device.to_owned(), until);
        Ok(())
    }

    fn append(&mut self, line: &Line) -> Result<(), LedgerError> {
        let mut bytes = serde_json::to_vec(line).unwrap_or_default();
        bytes.push(b'\n');
        let result = match self.file.as_mut() {
            Some(file) => file.write_all(&bytes).and_then(|()| file.sync_data()),
            None => Err(std::io::Error::other("the ledger is open for reading only")),
        };
        result.map_err(|e| self.err(e))?;
        self.lines = self.lines.saturating_add(1);
        Ok(())
    }

    pub fn get(&self, device: &str) -> Option<&Shipped> {
        self.devices.get(device)
    }

    /// The timestamp up to which `device` is done with ("" if none).
    pub fn shipped(&self, device: &str) -> String {
        self.get(device)
            .map(|s| s.snapshot.clone())
            .unwrap_or_default()
    }

    /// Records that `device` is done with everything up to `snapshot`, the
    /// last one sent being `sent` and the destination's oldest time being
    /// `touched` (each kept from the record before when `None`); on disk
    /// before this returns.
    pub fn record(
        &mut self,
        device: &str,
        snapshot: &str,
        sent: Option<&str>,
        touched: Option<DateTime<Utc>>,
    ) -> Result<(), LedgerError> {
        let previous = self.get(device);
        let sent = sent
            .map(str::to_owned)
            .or_else(|| previous.map(|s| s.last_sent().to_owned()));
        let touched = touched.or_else(|| previous.and_then(|s| s.touched));
        let shipped = Shipped {
            snapshot: snapshot.to_owned(),
            sent: sent.filter(|s| s != snapshot),
            sent_at: Utc::now(),
            touched,
            // Whatever was listed before this record no longer describes the directory.
            listed: None,
        };
        self.append(&Line {
            device: device.to_owned(),
            shipped: Some(shipped.clone()),
            pending_until: None,
        })?;
        self.pending.remove(device);
        self.devices.insert(device.to_owned(), shipped);
        Ok(())
    }
}

impl Ledger {
    /// Notes that `device`'s directory, at status-change time `listed`, had
    /// nothing left to ship (nothing is written when that is known already).
    pub fn note_listed(&mut self, device: &str, listed: u64) -> Result<(), LedgerError> {
        let Some(previous) = self.get(device) else {
            return Ok(());
        };
        if previous.listed == Some(listed) {
            return Ok(());
        }
        let shipped = Shipped {
            listed: Some(listed),
            ..previous.clone()
        };
        self.append(&Line {
            device: device.to_owned(),
            shipped: Some(shipped.clone()),
            pending_until: None,
        })?;
        self.devices.insert(device.to_owned(), shipped);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_line_is_ignored_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(dir.path(), "netbox", None).unwrap();
        l.record("r1", "2026-11-01T00-00-00.000Z", None, None)
            .unwrap();
        l.record("r2", "2026-11-01T00-00-00.000Z", None, None)
            .unwrap();
        let touched = Utc::now();
        l.record(
            "r1",
            "2026-11-02T00-00-00.000Z",
            Some("2026-11-01T00-00-00.000Z"),
            Some(touched),
        )
        .unwrap();
        l.record("r1", "2026-11-02T00-00-00.000Z", None, None)
            .unwrap();
        let until = Utc::now() + chrono::TimeDelta::seconds(10);
        l.intend("r2", until).unwrap();
        drop(l);
        let path = dir.path().join("netbox.journal");
        let mut text = std::fs::read(&path).unwrap();
        text.extend_from_slice(b"{\"device\":\"r2\",\"snapsh");
        std::fs::write(&path, text).unwrap();
        let l = Ledger::read(dir.path(), "netbox").unwrap();
        assert_eq!(l.shipped("r1"), "2026-11-02T00-00-00.000Z");
        assert_eq!(l.get("r1").unwrap().last_sent(), "2026-11-01T00-00-00.000Z");
        assert_eq!(l.get("r1").unwrap().touched, Some(touched), "kept");
        assert_eq!(l.shipped("r2"), "2026-11-01T00-00-00.000Z");
        assert_eq!(l.shipped("r3"), "");
        assert_eq!(l.pending("r2"), Some(until), "a write was in flight");
        assert_eq!(l.pending("r1"), None);
        assert_eq!(Ledger::all(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_legacy_ledger_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.json");
        std::fs::write(
            &old,
            r#"{"r1": {"snapshot": "2026-11-01T00-00-00.000Z", "sent_at": "2026-11-01T00:00:00Z"}}"#,
        )
        .unwrap();
        let state = dir.path().join("state");
        let mut l = Ledger::open(&state, "sal", Some(&old)).unwrap();
        assert_eq!(l.shipped("r1"), "2026-11-01T00-00-00.000Z");
        l.record("r2", "2026-11-03T00-00-00.000Z", None, None)
            .unwrap();
        let again = Ledger::open(&state, "sal", Some(&old)).unwrap();
        assert_eq!(again.shipped("r1"), "2026-11-01T00-00-00.000Z");
        assert_eq!(again.shipped("r2"), "2026-11-03T00-00-00.000Z");
        assert!(!old.exists(), "renamed once imported");
    }
}
