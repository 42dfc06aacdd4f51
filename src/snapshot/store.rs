//! The snapshot store: `<root>/<device>/<UTC timestamp>.json.zst`, with the
//! raw walk of a snapshot beside it as `<timestamp>.snmprec`. Device
//! directories are named by an injective encoding of the device name
//! ([`name`]); every snapshot read is checked to be of the device whose
//! directory it is in.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use serde::Deserialize;

use std::sync::Arc;

use super::checkin::Previous;
use super::codec::{self, CodecError, Stored};
use super::{Snapshot, Status, name};
use crate::provenance::{
    self, Authentic, Refusal, SNAPSHOT_NAMESPACE, Signer, Trust, signature_path,
};

const STAMP: &str = "%Y-%m-%dT%H-%M-%S%.3fZ";
const SUFFIX: &str = ".json.zst";
const RAW_SUFFIX: &str = ".snmprec";
/// Marks a store whose directories are named by [`name::encode`].
const LAYOUT: &str = ".layout";
const LAYOUT_VERSION: &str = "2\n";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("snapshot store {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("snapshot store {path}: not writable: {cause}")]
    NotWritable {
        path: PathBuf,
        cause: std::io::Error,
    },
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
    #[error("{path}: a snapshot of device {found:?}, not of {expected:?} whose directory it is in")]
    WrongDevice {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error(
        "{path}: removed while the store was being compared (a prune at the same time?); compare again"
    )]
    Vanished { path: PathBuf },
    #[error("{path}: no free snapshot name for {device:?}")]
    NoFreeName { path: PathBuf, device: String },
    #[error("{path}: refused: {why}")]
    Refused { path: PathBuf, why: Refusal },
    #[error(transparent)]
    Codec(#[from] CodecError),
}

impl StoreError {
    /// True when the store simply has no snapshot where the selector points
    /// (a device new in the store, or gone from it), not trouble reading it.
    pub fn is_nothing_there(&self) -> bool {
        matches!(
            self,
            StoreError::NoSnapshots { .. }
                | StoreError::OutOfRange { .. }
                | StoreError::NothingBefore { .. }
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{text:?}: expected latest, latest~N, a snapshot timestamp (or its prefix), an RFC 3339 time, a date or a snapshot file"
)]
pub struct SelectorError {
    text: String,
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
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || SelectorError { text: s.to_owned() };
        if s == "latest" {
            return Ok(Selector::Latest(0));
        }
        if let Some(n) = s.strip_prefix("latest~") {
            return n.parse().map(Selector::Latest).map_err(|_| bad());
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
            let last = NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap_or(NaiveTime::MIN);
            return Ok(Selector::AtOrBefore(d.and_time(last).and_utc()));
        }
        if s.ends_with(SUFFIX) || s.contains('/') {
            return Ok(Selector::File(PathBuf::from(s)));
        }
        let stampish = |c: char| c.is_ascii_digit() || "-T:.Z".contains(c);
        if s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(stampish) {
            return Ok(Selector::Prefix(s.replace(':', "-")));
        }
        Err(bad())
    }
}

impl Selector {
    /// Whether a snapshot taken at `taken` lies after the point this
    /// selector names (`None` for selectors that name no point in time).
    pub fn is_after(&self, taken: DateTime<Utc>) -> Option<bool> {
        match self {
            Selector::AtOrBefore(t) => Some(taken > *t),
            Selector::Prefix(p) => {
                let stamp = taken.format(STAMP).to_string();
                Some(stamp.get(..p.len()).unwrap_or(&stamp) > p.as_str())
            }
            Selector::Latest(_) | Selector::File(_) => None,
        }
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

    /// Where this snapshot's raw walk is kept, if it was.
    pub fn raw_path(&self) -> PathBuf {
        self.path
            .with_file_name(format!("{}{RAW_SUFFIX}", self.stamp()))
    }
}

/// Just enough of a snapshot to know whose it is and who wrote it.
#[derive(Deserialize)]
pub struct Whose {
    #[serde(default)]
    format: String,
    #[serde(default)]
    schema: u32,
    device: WhoseDevice,
    #[serde(default)]
    tool: WhoseTool,
}

#[derive(Deserialize)]
struct WhoseDevice {
    name: String,
}

#[derive(Default, Deserialize)]
struct WhoseTool {
    #[serde(default)]
    collector: String,
}

impl From<&Snapshot> for Whose {
    fn from(s: &Snapshot) -> Whose {
        Whose {
            format: s.format.clone(),
            schema: s.schema,
            device: WhoseDevice {
                name: s.device.name.clone(),
            },
            tool: WhoseTool {
                collector: s.tool.collector.clone(),
            },
        }
    }
}

impl Stored for Whose {
    fn header(&self) -> (&str, u32) {
        (&self.format, self.schema)
    }
    fn device_name(&self) -> &str {
        &self.device.name
    }
    fn collector(&self) -> &str {
        &self.tool.collector
    }
}

/// Checks a file against its `.sig` with `trust`, as written by `collector`.
pub fn verify(trust: &Trust, path: &Path, collector: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let sig = authentic(path, bytes)?;
    allowed(trust, path, collector, &sig)
}

fn refused(path: &Path) -> impl Fn(Refusal) -> StoreError + '_ {
    move |why| StoreError::Refused {
        path: path.to_owned(),
        why,
    }
}

/// The signature of a file, checked against its bytes.
fn authentic(path: &Path, bytes: &[u8]) -> Result<Authentic, StoreError> {
    let sig_path = signature_path(path);
    let sig = std::fs::read(&sig_path)
        .map_err(|_| refused(path)(Refusal::Unsigned(sig_path.display().to_string())))?;
    provenance::authentic(SNAPSHOT_NAMESPACE, bytes, &sig).map_err(refused(path))
}

fn allowed(trust: &Trust, path: &Path, collector: &str, sig: &Authentic) -> Result<(), StoreError> {
    trust
        .allows(collector, SNAPSHOT_NAMESPACE, sig)
        .map_err(refused(path))
}

/// A device's newest readable snapshot by a selector, and the unreadable
/// ones passed over to find it.
pub struct Found<T> {
    pub entry: Entry,
    pub doc: T,
    pub skipped: Vec<StoreError>,
}

/// A snapshot written by [`Store::stage`], not yet in place. It holds names
/// only: what is staged is in its files.
pub struct Staged {
    path: PathBuf,
    /// With a raw walk beside it.
    raw: bool,
    /// In the order they are placed: the raw walk's (signature first), then
    /// the snapshot's.
    files: Vec<crate::atomic::Staged>,
}

impl Staged {
    /// Where the snapshot goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn discard(&self) {
        self.files.iter().for_each(crate::atomic::Staged::discard);
    }
}

pub struct Store {
    root: PathBuf,
    /// Signs every snapshot and raw walk written (a collector with a key).
    signer: Option<Arc<Signer>>,
    /// Accepts only snapshots its allowed signers signed (a reading host).
    trust: Option<Arc<Trust>>,
}

impl Store {
    /// A store at `root`, made absolute: every message names its files
    /// whatever directory a cron job ran in.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            root: std::path::absolute(&root).unwrap_or(root),
            signer: None,
            trust: None,
        }
    }

    /// Signs everything this store writes with `signer`.
    pub fn signing(mut self, signer: Option<Arc<Signer>>) -> Self {
        self.signer = signer;
        self
    }

    /// Reads only what `trust` accepts.
    pub fn trusting(mut self, trust: Option<Arc<Trust>>) -> Self {
        self.trust = trust;
        self
    }

    pub fn trust(&self) -> Option<&Trust> {
        self.trust.as_deref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_owned();
        move |cause| StoreError::Io { path, cause }
    }

    /// Creates the store if needed, proves it writable and brings an older
    /// layout up to date, before any device is walked.
    pub fn ensure_writable(&self) -> Result<(), StoreError> {
        let unwritable = |cause| StoreError::NotWritable {
            path: self.root.clone(),
            cause,
        };
        std::fs::create_dir_all(&self.root).map_err(unwritable)?;
        let probe = self
            .root
            .join(format!(".write-test.{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(unwritable)?;
        std::fs::remove_file(&probe).map_err(unwritable)?;
        self.migrate()
    }

    /// Versions before 0.2 named directories by replacing unsafe characters
    /// with `_`, so `core sw1` and `core_sw1` shared one. Moves every
    /// snapshot (and raw walk) whose device's directory is now another one,
    /// then marks the store as migrated. Only directories with a `_` can be
    /// affected, so only their snapshots are read, once.
    fn migrate(&self) -> Result<(), StoreError> {
        let marker = self.root.join(LAYOUT);
        if marker.exists() {
            return Ok(());
        }
        let mut moved = 0;
        for dir in self.dirs()? {
            if !dir.contains('_') {
                continue;
            }
            let from = self.root.join(&dir);
            for entry in list_dir(&from).map_err(self.io(&from))? {
                let Ok(whose) = codec::read_as::<Whose>(&entry.path) else {
                    continue;
                };
                let own = name::encode(&whose.device.name);
                if own == dir {
                    continue;
                }
                let to = self.root.join(&own);
                std::fs::create_dir_all(&to).map_err(self.io(&to))?;
                for path in [entry.path.clone(), entry.raw_path()] {
                    let Some(file) = path.file_name() else {
                        continue;
                    };
                    let target = to.join(file);
                    if path.exists() && !target.exists() {
                        std::fs::rename(&path, &target).map_err(self.io(&path))?;
                    }
                }
                moved += 1;
            }
            // Empty now when all its snapshots belonged elsewhere.
            let _ = std::fs::remove_dir(&from);
        }
        if moved > 0 {
            tracing::info!(
                store = %self.root.display(),
                "Moved {moved} snapshots of devices that shared a directory into their own."
            );
        }
        crate::atomic::write(
            &marker,
            LAYOUT_VERSION.as_bytes(),
            crate::atomic::Mode::Replace,
        )
        .map_err(self.io(&marker))
    }

    pub fn device_dir(&self, device: &str) -> PathBuf {
        self.root.join(name::encode(device))
    }

    /// Names of the store's device directories (hidden ones are the store's own).
    fn dirs(&self) -> Result<Vec<String>, StoreError> {
        let entries = std::fs::read_dir(&self.root).map_err(self.io(&self.root))?;
        Ok(entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect())
    }

    /// Device names in the store, sorted. A directory that is no device's
    /// is reported and left out.
    pub fn devices(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for dir in self.dirs()? {
            match name::decode(&dir) {
                Some(device) => out.push(device),
                // A name too long for a directory: its snapshots say which.
                None => match self.name_inside(&dir) {
                    Some(device) => out.push(device),
                    None => tracing::warn!(
                        "Ignoring {}: not the directory of any device name.",
                        self.root.join(&dir).display()
                    ),
                },
            }
        }
        out.sort();
        Ok(out)
    }

    fn name_inside(&self, dir: &str) -> Option<String> {
        let entries = list_dir(&self.root.join(dir)).ok()?;
        entries.iter().rev().find_map(|e| {
            codec::read_as::<Whose>(&e.path)
                .ok()
                .map(|w| w.device.name)
                .filter(|n| name::is_dir_of(dir, n))
        })
    }

    /// When `device`'s directory last changed (a file added, renamed or
    /// removed), as nanoseconds since the epoch, if the file system tells,
    /// and only once that is `settle` in the past: a directory changed more
    /// recently may change again within the same tick of the file system's
    /// clock without its time moving, so its time cannot vouch for it yet.
    ///
    /// The status-change time is read, not the modification time: copying
    /// tools (`rsync -a`, `cp -a`, `tar x`) set a directory's modification
    /// time back to the source's after adding files, while no one can set
    /// the status-change time, and setting the other times moves it too.
    pub fn settled_change(&self, device: &str, settle: std::time::Duration) -> Option<u64> {
        let changed = status_changed_ns(&std::fs::metadata(self.device_dir(device)).ok()?)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        (now.checked_sub(changed)? >= settle.as_nanos())
            .then(|| u64::try_from(changed).ok())
            .flatten()
    }

    /// A device's snapshots, oldest first.
    pub fn list(&self, device: &str) -> Result<Vec<Entry>, StoreError> {
        let dir = self.device_dir(device);
        match list_dir(&dir) {
            Ok(list) => Ok(list),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io(&dir)(e)),
        }
    }

    /// Reads one of `device`'s snapshots (or a partial view of it), checking
    /// that it is that device's.
    pub fn read_as<T: Stored>(&self, device: &str, entry: &Entry) -> Result<T, StoreError> {
        let doc: T = self.read_file_as(&entry.path)?;
        if doc.device_name() != device {
            return Err(StoreError::WrongDevice {
                path: entry.path.clone(),
                found: doc.device_name().to_owned(),
                expected: device.to_owned(),
            });
        }
        Ok(doc)
    }

    pub fn read(&self, device: &str, entry: &Entry) -> Result<Snapshot, StoreError> {
        self.read_as(device, entry)
    }

    /// Reads a snapshot file, wherever it is; with trust, only when a key
    /// allowed for the collector it names signed it.
    pub fn read_file_as<T: Stored>(&self, path: &Path) -> Result<T, StoreError> {
        let Some(trust) = &self.trust else {
            return Ok(codec::read_as(path)?);
        };
        let bytes = std::fs::read(path).map_err(self.io(path))?;
        let sig = authentic(path, &bytes)?;
        let doc: T = codec::decode(&bytes, path)?;
        allowed(trust, path, doc.collector(), &sig)?;
        Ok(doc)
    }

    /// The collector the newest readable snapshot of `device` comes from.
    pub fn collector_of(&self, device: &str) -> Option<String> {
        let list = self.list(device).ok()?;
        list.iter()
            .rev()
            .find_map(|e| codec::read_as::<Whose>(&e.path).ok())
            .map(|w| w.tool.collector)
    }

    pub fn select(&self, device: &str, selector: &Selector) -> Result<Entry, StoreError> {
        if let Selector::File(path) = selector {
            return Ok(Entry::of_file(path));
        }
        let list = self.list(device)?;
        let position = self.position(device, &list, selector)?;
        Ok(list[position].clone())
    }

    /// Index in `list` (oldest first) of the snapshot `selector` picks.
    pub fn position(
        &self,
        device: &str,
        list: &[Entry],
        selector: &Selector,
    ) -> Result<usize, StoreError> {
        if list.is_empty() {
            return Err(StoreError::NoSnapshots {
                device: device.into(),
                root: self.root.clone(),
            });
        }
        let newest_first = || list.iter().enumerate().rev();
        let found = match selector {
            Selector::Latest(n) => newest_first().nth(*n),
            Selector::AtOrBefore(_) | Selector::Prefix(_) => {
                newest_first().find(|(_, e)| selector.is_after(e.taken) == Some(false))
            }
            Selector::File(path) => newest_first().find(|(_, e)| e.path == *path),
        };
        found.map(|(i, _)| i).ok_or_else(|| match selector {
            Selector::Latest(n) => StoreError::OutOfRange {
                device: device.into(),
                count: list.len(),
                selector: format!("latest~{n}"),
            },
            Selector::AtOrBefore(t) => StoreError::NothingBefore {
                device: device.into(),
                at: t.format(STAMP).to_string(),
            },
            Selector::Prefix(p) => StoreError::NothingBefore {
                device: device.into(),
                at: format!("the end of {p}"),
            },
            Selector::File(p) => StoreError::NothingBefore {
                device: device.into(),
                at: p.display().to_string(),
            },
        })
    }

    /// The snapshot `selector` picks, or, when that one cannot be read, the
    /// newest readable one before it (the unreadable ones are returned too).
    /// `accept` may pass over readable ones as well (`--skip-failed`).
    pub fn find<T: Stored>(
        &self,
        device: &str,
        selector: &Selector,
        accept: impl Fn(&T) -> bool,
    ) -> Result<Found<T>, StoreError> {
        if let Selector::File(path) = selector {
            let entry = Entry::of_file(path);
            let doc = self.read_file_as(path)?;
            return Ok(Found {
                entry,
                doc,
                skipped: Vec::new(),
            });
        }
        let list = self.list(device)?;
        let start = self.position(device, &list, selector)?;
        self.find_from(device, &list[..=start], accept)
    }

    /// The newest acceptable readable snapshot of `list` (oldest first), else
    /// the newest readable one.
    pub fn find_from<T: Stored>(
        &self,
        device: &str,
        list: &[Entry],
        accept: impl Fn(&T) -> bool,
    ) -> Result<Found<T>, StoreError> {
        let mut skipped = Vec::new();
        let mut first = None;
        for entry in list.iter().rev() {
            match self.read_as::<T>(device, entry) {
                Ok(doc) if accept(&doc) => {
                    return Ok(Found {
                        entry: entry.clone(),
                        doc,
                        skipped,
                    });
                }
                Ok(doc) => {
                    let newer = skipped.len();
                    first.get_or_insert((entry.clone(), doc, newer));
                }
                Err(e) => skipped.push(e),
            }
        }
        match first {
            // Only the unreadable files newer than the one returned mattered.
            Some((entry, doc, newer)) => Ok(Found {
                entry,
                doc,
                skipped: skipped.into_iter().take(newer).collect(),
            }),
            None => Err(skipped.pop().unwrap_or(StoreError::NoSnapshots {
                device: device.into(),
                root: self.root.clone(),
            })),
        }
    }

    /// Path a snapshot taken at `taken` gets.
    pub fn path_for(&self, device: &str, taken: DateTime<Utc>) -> PathBuf {
        self.device_dir(device)
            .join(format!("{}{SUFFIX}", taken.format(STAMP)))
    }

    /// Writes a new snapshot. Two runs in the same millisecond get distinct
    /// names; an existing file is never replaced. Temporary files of earlier
    /// writers that died are cleared from the device's directory first.
    pub fn write(&self, snapshot: &mut Snapshot) -> Result<PathBuf, StoreError> {
        self.write_with_raw(snapshot, None)
    }

    /// Writes a snapshot and, when given, its raw walk (`.snmprec`) beside
    /// it. The raw walk goes first: a snapshot that can be seen is whole,
    /// with its raw walk, for a bundle made at that instant.
    pub fn write_with_raw(
        &self,
        snapshot: &mut Snapshot,
        raw: Option<&[u8]>,
    ) -> Result<PathBuf, StoreError> {
        let dir = self.prepare(snapshot)?;
        let taken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::AlreadyExists;
        for _ in 0..1000 {
            let path = self.path_for(&snapshot.device.name, snapshot.collected_at);
            let bytes = codec::encode(snapshot, &path)?;
            let raw_path = Entry::of_file(&path).raw_path();
            if let Some(raw) = raw {
                match self.write_signed(&raw_path, raw) {
                    Err(e) if taken(&e) => {
                        snapshot.collected_at += TimeDelta::milliseconds(1);
                        continue;
                    }
                    Err(e) => return Err(self.io(&raw_path)(e)),
                    Ok(()) => {}
                }
            }
            match self.write_signed(&path, &bytes) {
                Ok(()) => return Ok(path),
                Err(e) => {
                    if raw.is_some() {
                        let _ = std::fs::remove_file(signature_path(&raw_path));
                        let _ = std::fs::remove_file(&raw_path);
                    }
                    if !taken(&e) {
                        return Err(self.io(&path)(e));
                    }
                    snapshot.collected_at += TimeDelta::milliseconds(1);
                }
            }
        }
        Err(StoreError::NoFreeName {
            path: dir,
            device: snapshot.device.name.clone(),
        })
    }

    /// Sweeps the device's directory (creating it for a first snapshot) and
    /// names the signer in the snapshot; returns the directory.
    fn prepare(&self, snapshot: &mut Snapshot) -> Result<PathBuf, StoreError> {
        let dir = self.device_dir(&snapshot.device.name);
        // Listing the directory both sweeps it and tells whether it exists:
        // only a device's first snapshot needs a mkdir.
        match crate::atomic::sweep(&dir) {
            Ok(0) => {}
            Ok(swept) => {
                tracing::info!(device = %snapshot.device.name, "Removed {swept} temporary files left by interrupted runs.");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&dir).map_err(self.io(&dir))?;
            }
            // Not listable, yet perhaps writable: the write says.
            Err(_) => {}
        }
        if let Some(signer) = &self.signer {
            snapshot.tool.collector = signer.id.clone();
            snapshot.tool.signer = Some(signer.fingerprint.clone());
        }
        Ok(dir)
    }

    /// Writes a snapshot (and its raw walk) under temporary names, to be put
    /// in place by [`Store::commit`] with others: what [`Store::write_with_raw`]
    /// does, with the flushes shared by the group.
    pub fn stage(&self, mut snapshot: Snapshot, raw: Option<&[u8]>) -> Result<Staged, StoreError> {
        use crate::atomic::{Mode, stage};
        self.prepare(&mut snapshot)?;
        let path = self.path_for(&snapshot.device.name, snapshot.collected_at);
        let bytes = codec::encode(&snapshot, &path)?;
        let raw_path = Entry::of_file(&path).raw_path();
        let mut files = Vec::new();
        let mut staged = |path: &Path, bytes: &[u8]| -> Result<(), StoreError> {
            // The signature first: a reader never finds a signing collector's file unsigned.
            if let Some(signed) = self.signature(path, bytes) {
                let (sig_path, sig) = signed.map_err(self.io(path))?;
                files.push(stage(&sig_path, &sig, Mode::Replace).map_err(self.io(&sig_path))?);
            }
            files.push(stage(path, bytes, Mode::New).map_err(self.io(path))?);
            Ok(())
        };
        let written = match raw {
            Some(r) => staged(&raw_path, r),
            None => Ok(()),
        }
        .and_then(|()| staged(&path, &bytes));
        let staged = Staged {
            path,
            raw: raw.is_some(),
            files,
        };
        match written {
            Ok(()) => Ok(staged),
            Err(e) => {
                staged.discard();
                Err(e)
            }
        }
    }

    /// Puts staged snapshots in place, durably: their contents flushed
    /// together, then placed in order, then their directories flushed
    /// together. One whose name was taken meanwhile (another run in the same
    /// millisecond) is written alone, a millisecond later. The results follow
    /// `staged`.
    pub fn commit(&self, staged: Vec<Staged>) -> Vec<Result<PathBuf, StoreError>> {
        use crate::atomic::{sync_contents, sync_directories};
        let files: Vec<_> = staged.iter().flat_map(|s| &s.files).collect();
        let mut synced = sync_contents(&files).into_iter();
        let mut results = Vec::with_capacity(staged.len());
        let mut placed = Vec::new();
        for s in &staged {
            let mine: Vec<_> = synced.by_ref().take(s.files.len()).collect();
            let unsynced = s
                .files
                .iter()
                .zip(mine)
                .find_map(|(f, r)| Some((f, r.err()?)));
            let result = if let Some((f, e)) = unsynced {
                Err(self.io(f.path())(e))
            } else if s.files.iter().any(|f| f.is_new() && f.path().exists()) {
                self.restage(s)
            } else {
                let mut done = 0;
                let put = s.files.iter().try_for_each(|f| {
                    f.place().map_err(self.io(f.path()))?;
                    done += 1;
                    Ok(())
                });
                if put.is_err() {
                    for f in &s.files[..done] {
                        let _ = std::fs::remove_file(f.path());
                    }
                } else {
                    placed.extend(&s.files);
                }
                put.map(|()| s.path.clone())
            };
            s.discard();
            results.push(result);
        }
        for (dir, e) in sync_directories(&placed) {
            let cause = e.kind();
            for (s, r) in staged.iter().zip(&mut results) {
                if r.is_ok() && s.path.parent() == Some(dir.as_path()) {
                    *r = Err(self.io(&dir)(std::io::Error::new(cause, e.to_string())));
                }
            }
        }
        results
    }

    /// Writes a staged snapshot whose name was taken alone, a millisecond
    /// later, from its staged files.
    fn restage(&self, s: &Staged) -> Result<PathBuf, StoreError> {
        let staged_as = |path: &Path| s.files.iter().find(|f| f.path() == path).map(|f| f.tmp());
        let tmp = staged_as(&s.path).ok_or_else(|| StoreError::Io {
            path: s.path.clone(),
            cause: std::io::Error::other("staged without its snapshot"),
        })?;
        let mut snapshot = codec::read(tmp)?;
        let raw_path = Entry::of_file(&s.path).raw_path();
        let raw = match staged_as(&raw_path).filter(|_| s.raw) {
            Some(tmp) => Some(std::fs::read(tmp).map_err(self.io(tmp))?),
            None => None,
        };
        snapshot.collected_at += TimeDelta::milliseconds(1);
        self.write_with_raw(&mut snapshot, raw.as_deref())
    }

    /// Where `path`'s signature goes and what it is, when this store signs.
    fn signature(&self, path: &Path, bytes: &[u8]) -> Option<std::io::Result<(PathBuf, Vec<u8>)>> {
        let signer = self.signer.as_ref()?;
        Some(
            signer
                .sign(SNAPSHOT_NAMESPACE, bytes)
                .map(|sig| (signature_path(path), sig))
                .map_err(|e| std::io::Error::other(format!("signing: {e}"))),
        )
    }

    /// Writes a new file, with its signature first when this store signs:
    /// a reader never finds a signing collector's file unsigned.
    fn write_signed(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use crate::atomic::{Mode, write};
        let Some(signed) = self.signature(path, bytes) else {
            return write(path, bytes, Mode::New);
        };
        if path.exists() {
            return Err(std::io::ErrorKind::AlreadyExists.into());
        }
        let (sig_path, sig) = signed?;
        // A signature left by a writer that died before its file: replaced.
        write(&sig_path, &sig, Mode::Replace)?;
        write(path, bytes, Mode::New).inspect_err(|_| {
            let _ = std::fs::remove_file(&sig_path);
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
        let newest_ok = list.iter().rev().find(|e| {
            self.read(device, e)
                .is_ok_and(|s| s.outcome.status == Status::Ok)
        });
        let cutoff = keep_within.and_then(|w| now.checked_sub_signed(w));
        let keep = |i: usize, e: &Entry| {
            i < keep_last
                || keep_within.is_some() && cutoff.is_none_or(|c| e.taken >= c)
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

    /// Deletes a snapshot and the raw walk kept beside it, if any; returns
    /// the files deleted.
    pub fn remove(&self, entry: &Entry) -> Result<Vec<PathBuf>, StoreError> {
        std::fs::remove_file(&entry.path).map_err(self.io(&entry.path))?;
        let mut removed = vec![entry.path.clone()];
        let raw = entry.raw_path();
        match std::fs::remove_file(&raw) {
            Ok(()) => removed.push(raw),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(&raw)(e)),
        }
        Ok(removed)
    }

    /// The newest readable snapshot whose collection was complete, with the
    /// problems met on the way (unreadable newer files).
    pub fn latest_ok(&self, device: &str) -> (Option<Previous>, Vec<StoreError>) {
        match self.find::<Previous>(device, &Selector::Latest(0), |s| {
            s.outcome.status == Status::Ok
        }) {
            Ok(found) if found.doc.outcome.status == Status::Ok => (Some(found.doc), found.skipped),
            Ok(found) => (None, found.skipped),
            Err(e) if e.is_nothing_there() => (None, Vec::new()),
            Err(e) => (None, vec![e]),
        }
    }
}

/// A file name's time. Listing a grown store parses hundreds of thousands of
/// names: the layout the writer uses is read by position, anything else by
/// the general parser.
fn parse_stamp(stem: &str) -> Option<DateTime<Utc>> {
    let b = stem.as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let fast = (b.len() == 24 && &b[4..5] == b"-" && &b[7..8] == b"-" && &b[10..11] == b"T")
        .then_some(())
        .filter(|()| {
            &b[13..14] == b"-" && &b[16..17] == b"-" && &b[19..20] == b"." && &b[23..] == b"Z"
        })
        .and_then(|()| {
            let date =
                NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
            let time = NaiveTime::from_hms_milli_opt(
                num(11, 13)?,
                num(14, 16)?,
                num(17, 19)?,
                num(20, 23)?,
            )?;
            Some(date.and_time(time).and_utc())
        });
    fast.or_else(|| Some(NaiveDateTime::parse_from_str(stem, STAMP).ok()?.and_utc()))
}

/// Snapshot files in a directory, oldest first.
fn list_dir(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out: Vec<Entry> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let stem = name.to_str()?.strip_suffix(SUFFIX)?;
            let taken = parse_stamp(stem)?;
            Some(Entry {
                path: e.path(),
                taken,
            })
        })
        .collect();
    out.sort_by_key(|e| e.taken);
    Ok(out)
}

/// When a file or directory last changed in any way (contents, entries,
/// or its times being set): what copying tools that restore modification
/// times cannot set back. Nanoseconds since the epoch.
pub(crate) fn status_changed_ns(meta: &std::fs::Metadata) -> Option<u128> {
    use std::os::unix::fs::MetadataExt;
    let secs = u128::try_from(meta.ctime()).ok()?;
    let nanos = u128::try_from(meta.ctime_nsec()).ok()?;
    Some(secs * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(device: &str, at: &str) -> Snapshot {
        use crate::snapshot::{Device, Outcome};
        Snapshot::new(
            DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            Device {
                name: device.into(),
                ..Device::default()
            },
            Outcome {
                status: Status::Ok,
                reason: None,
                duration_ms: 0,
            },
            Default::default(),
        )
    }

    #[test]
    fn staged_snapshots_appear_when_committed_and_a_name_taken_meanwhile_moves_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let at = "2026-11-01T00:00:00Z";
        let a = store.stage(snapshot("a", at), Some(&b"walk"[..])).unwrap();
        let b = store
            .stage(snapshot("b", at), Some(&b"walk b"[..]))
            .unwrap();
        assert!(store.list("a").unwrap().is_empty(), "nothing in place yet");
        // Another run takes b's name first.
        store.write(&mut snapshot("b", at)).unwrap();
        let paths: Vec<PathBuf> = store
            .commit(vec![a, b])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let a = store.list("a").unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(paths[0], a[0].path);
        assert_eq!(std::fs::read(a[0].raw_path()).unwrap(), b"walk");
        let b = store.list("b").unwrap();
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(paths[1], b[1].path, "written a millisecond later");
        let later = store.read("b", &b[1]).unwrap().collected_at;
        assert_eq!(later - b[0].taken, TimeDelta::milliseconds(1));
        assert_eq!(std::fs::read(b[1].raw_path()).unwrap(), b"walk b");
        for device in ["a", "b"] {
            for e in std::fs::read_dir(store.device_dir(device)).unwrap() {
                let name = e.unwrap().file_name().into_string().unwrap();
                assert!(!name.ends_with(".tmp"), "{name} left behind");
            }
        }
    }

    #[test]
    fn file_names_read_by_position_as_the_general_parser_reads_them() {
        for stem in [
            "2026-11-01T06-00-00.000Z",
            "2024-02-29T23-59-59.999Z",
            "2026-02-30T00-00-00.000Z",
            "2026-11-01T24-00-00.000Z",
            "2026-11-01T06-00-00.00Z",
            "2026-11-01T06-00-00.0000Z",
            "2026-11-01T06:00:00.000Z",
            "20x6-11-01T06-00-00.000Z",
            "",
        ] {
            let general = NaiveDateTime::parse_from_str(stem, STAMP)
                .ok()
                .map(|t| t.and_utc());
            assert_eq!(parse_stamp(stem), general, "{stem}");
        }
    }

    #[test]
    fn a_shared_legacy_directory_is_split_and_reads_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Before 0.2, "core sw1" and "core_sw1" both lived in core_sw1/.
        let legacy = root.join("core_sw1");
        std::fs::create_dir_all(&legacy).unwrap();
        let store = Store::new(root);
        for (device, at) in [
            ("core sw1", "2026-11-01T00:00:00Z"),
            ("core_sw1", "2026-11-01T00:00:01Z"),
            ("core sw1", "2026-11-02T00:00:00Z"),
        ] {
            let s = snapshot(device, at);
            let name = format!("{}{SUFFIX}", s.collected_at.format(STAMP));
            codec::write(&legacy.join(name), &s).unwrap();
        }
        std::fs::write(legacy.join("2026-11-01T00-00-00.000Z.snmprec"), "walk").unwrap();
        // A reader of the old layout sees the stranger and says so.
        let list = store.list("core_sw1").unwrap();
        assert!(matches!(
            store.read("core_sw1", &list[0]),
            Err(StoreError::WrongDevice { .. })
        ));
        store.ensure_writable().unwrap();
        assert_eq!(store.devices().unwrap(), ["core sw1", "core_sw1"]);
        assert_eq!(store.list("core sw1").unwrap().len(), 2);
        assert_eq!(store.list("core_sw1").unwrap().len(), 1);
        assert!(
            root.join("core%20sw1/2026-11-01T00-00-00.000Z.snmprec")
                .exists()
        );
        for device in ["core sw1", "core_sw1"] {
            for e in store.list(device).unwrap() {
                store.read(device, &e).unwrap();
            }
        }
        // Migrated once: the marker stops later runs from looking again.
        assert!(root.join(LAYOUT).exists());
        store.ensure_writable().unwrap();
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
