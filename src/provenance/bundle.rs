//! Bundles: snapshots carried over a one-way link (a data diode) as files.
//!
//! A bundle is a plain tar (GNU tar and the enclave's own tools read it):
//! first `manifest.json` (collector id, sequence number, creation time, and
//! every member's path, size and SHA-256), then `manifest.json.sig` (the
//! collector's signature of the manifest), then the members under
//! `snapshots/<device directory>/`: for each snapshot not yet bundled, its
//! raw walk and the snapshot, each followed by its signature. The
//! collector's bundle ledger records what was bundled (it protects the rest
//! from `snapshots prune`); sending a bundle again is harmless, as import
//! is idempotent.
//!
//! Import reads a bundle twice and never holds it whole. The first pass
//! verifies everything before anything is written: the manifest's
//! signature, every member against the manifest (listed, once, no larger,
//! same SHA-256), every member's own signature, safe paths and plain files
//! only, nothing missing. The second writes what the store lacks, checking
//! each member against the manifest again, and never replaces a file; a
//! device the store already has from another collector is a conflict, left
//! alone. Sequence numbers tell which bundles never arrived.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BUNDLE_NAMESPACE, SNAPSHOT_NAMESPACE, Signer, Trust, signature_path};
use crate::atomic::{self, Mode};
use crate::lock::{self, Lock, LockError};
use crate::ship::ledger::{Ledger, LedgerError};
use crate::snapshot::name;
use crate::snapshot::store::{Store, StoreError};

pub const FORMAT: &str = "invmon-bundle";
pub const SCHEMA: u32 = 1;
const MANIFEST: &str = "manifest.json";
const MANIFEST_SIG: &str = "manifest.json.sig";
/// The collector's ledger of what it has bundled.
pub const LEDGER: &str = "bundle";
/// No member and no manifest is larger: anything bigger is not ours.
const MAX_MEMBER: u64 = 64 << 20;
const MAX_MANIFEST: u64 = 64 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub schema: u32,
    pub collector: String,
    pub sequence: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub members: Vec<Member>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("signing the manifest: {0}")]
    Sign(String),
    #[error("{path}: changed while being bundled")]
    Changed { path: PathBuf },
    /// The whole bundle is refused: nothing of it is imported.
    #[error("{path}: {why}")]
    Refused { path: PathBuf, why: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |cause| BundleError::Io {
        path: path.to_owned(),
        cause,
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One bundler or importer at a time per state directory: sequence numbers
/// are never given twice, and two imports never race for one file.
pub fn lock(state: &Path, wait: std::time::Duration) -> Result<Lock, BundleError> {
    Ok(lock::acquire(
        &state.join("bundle.lock"),
        "the bundle state",
        wait,
    )?)
}

/// What `create` made.
#[derive(Debug, Serialize)]
pub struct Created {
    pub path: PathBuf,
    pub sequence: u64,
    pub snapshots: usize,
    pub bytes: u64,
}

/// What `create` did: the bundles written, and snapshots it cannot carry.
#[derive(Debug, Default, Serialize)]
pub struct Bundled {
    pub bundles: Vec<Created>,
    /// Files without a signature (collected before a signing key was set):
    /// their snapshots are never bundled, as the receiving side would
    /// refuse them.
    pub unsigned: Vec<PathBuf>,
}

/// The last sequence number used, kept beside the ledger.
fn sequence_path(state: &Path) -> PathBuf {
    state.join("bundle.sequence")
}

/// One snapshot's files, in the order they are bundled and imported.
struct Group {
    device: String,
    stamp: String,
    files: Vec<(Member, PathBuf)>,
}

impl Group {
    fn bytes(&self) -> u64 {
        self.files.iter().map(|(m, _)| m.size).sum()
    }
}

/// Every snapshot of `store` not yet bundled, with sizes and digests.
fn pending(
    store: &Store,
    ledger: &Ledger,
    bundled: &mut Bundled,
) -> Result<Vec<Group>, BundleError> {
    let mut groups = Vec::new();
    for device in store.devices()? {
        let done = ledger.shipped(&device);
        let dir = name::encode(&device);
        for entry in store
            .list(&device)?
            .into_iter()
            .filter(|e| e.stamp() > done)
        {
            let raw = entry.raw_path();
            let mut files = Vec::new();
            // The raw walk first: imported in this order, a snapshot appears
            // after its walk, and each file after its signature.
            for file in [raw, entry.path.clone()] {
                let content = match std::fs::read(&file) {
                    Ok(b) => b,
                    // Raw walks are kept only when asked for.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && file != entry.path => {
                        continue;
                    }
                    Err(e) => return Err(io_error(&file)(e)),
                };
                let sig_path = signature_path(&file);
                let sig = match std::fs::read(&sig_path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        bundled.unsigned.push(file);
                        files.clear();
                        break;
                    }
                    Err(e) => return Err(io_error(&sig_path)(e)),
                };
                for (path, bytes) in [(file, content), (sig_path, sig)] {
                    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
                    files.push((
                        Member {
                            path: format!("snapshots/{dir}/{file_name}"),
                            size: bytes.len() as u64,
                            sha256: sha256(&bytes),
                        },
                        path.clone(),
                    ));
                }
            }
            // An unsigned snapshot is passed over (no files), never carried.
            groups.push(Group {
                device: device.clone(),
                stamp: entry.stamp(),
                files,
            });
        }
    }
    Ok(groups)
}

/// Bundles every snapshot of `store` not yet bundled into files in `out`,
/// each at most about `max_bytes` (a snapshot's files are never split).
pub fn create(
    store: &Store,
    state: &Path,
    _held: &Lock,
    out: &Path,
    signer: &Signer,
    max_bytes: u64,
) -> Result<Bundled, BundleError> {
    let mut ledger = Ledger::open(state, LEDGER, None)?;
    let mut bundled = Bundled::default();
    let groups = pending(store, &ledger, &mut bundled)?;
    let mut chunks: Vec<Vec<Group>> = Vec::new();
    let mut size = 0;
    for group in groups {
        let bytes = group.bytes();
        match chunks.last_mut() {
            Some(chunk) if size + bytes <= max_bytes || chunk.is_empty() => chunk.push(group),
            _ => {
                size = 0;
                chunks.push(vec![group]);
            }
        }
        size += bytes;
    }
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    for chunk in chunks {
        if chunk.iter().any(|g| !g.files.is_empty()) {
            bundled
                .bundles
                .push(write_bundle(state, out, signer, &chunk)?);
        }
        // The bundle is on disk before the ledger says its snapshots went out.
        let mut newest: BTreeMap<&str, &str> = BTreeMap::new();
        for group in &chunk {
            newest.insert(&group.device, &group.stamp);
        }
        for (device, stamp) in newest {
            ledger.record(device, stamp, None, None)?;
        }
    }
    Ok(bundled)
}

fn write_bundle(
    state: &Path,
    out: &Path,
    signer: &Signer,
    chunk: &[Group],
) -> Result<Created, BundleError> {
    let sequence = std::fs::read_to_string(sequence_path(state))
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    // Taken before the bundle exists: a run that dies after this leaves a
    // gap the receiving side reports, never one number for two bundles.
    atomic::write(
        &sequence_path(state),
        format!("{sequence}\n").as_bytes(),
        Mode::Replace,
    )
    .map_err(io_error(state))?;
    let manifest = Manifest {
        format: FORMAT.into(),
        schema: SCHEMA,
        collector: signer.id.clone(),
        sequence,
        created_at: chrono::Utc::now(),
        members: chunk
            .iter()
            .flat_map(|g| g.files.iter().map(|(m, _)| m.clone()))
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let manifest_sig = signer
        .sign(BUNDLE_NAMESPACE, &manifest_bytes)
        .map_err(|e| BundleError::Sign(e.to_string()))?;
    let mtime = manifest.created_at.timestamp().max(0) as u64;
    let path = out.join(format!("{}-{sequence:06}.tar", name::encode(&signer.id)));
    let mut changed = None;
    let mut bytes = 0;
    atomic::write_with(&path, Mode::New, |file| {
        let mut tar = tar::Builder::new(BufWriter::new(file));
        let mut add = |name: &str, content: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(mtime);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, content)
        };
        add(MANIFEST, &manifest_bytes)?;
        add(MANIFEST_SIG, &manifest_sig)?;
        for (member, source) in chunk.iter().flat_map(|g| &g.files) {
            let content = std::fs::read(source)?;
            // Snapshots are never rewritten; one that was is not carried.
            if sha256(&content) != member.sha256 {
                changed = Some(source.clone());
                return Err(std::io::Error::other("changed"));
            }
            add(&member.path, &content)?;
        }
        let mut writer = tar.into_inner()?;
        std::io::Write::flush(&mut writer)?;
        bytes = writer.get_ref().metadata()?.len();
        Ok(())
    })
    .map_err(|cause| match changed.take() {
        Some(path) => BundleError::Changed { path },
        None => BundleError::Io {
            path: path.clone(),
            cause,
        },
    })?;
    Ok(Created {
        path,
        sequence,
        snapshots: chunk.iter().filter(|g| !g.files.is_empty()).count(),
        bytes,
    })
}

/// What importing one bundle did.
#[derive(Debug, Default, Serialize)]
pub struct Imported {
    pub path: PathBuf,
    pub collector: String,
    pub sequence: u64,
    /// Files written into the store.
    pub written: usize,
    /// Files the store already had, byte for byte.
    pub present: usize,
    /// Devices left alone: the store has them from another collector, or
    /// has another file under a member's name.
    pub conflicts: Vec<String>,
}

/// A member path that can only land inside the store: `snapshots/<dir>/<file>`.
fn safe_member(path: &str) -> Option<(String, String)> {
    let p = Path::new(path);
    if p.is_absolute() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["snapshots", dir, file]
            if !dir.starts_with('.')
                && [".json.zst", ".json.zst.sig", ".snmprec", ".snmprec.sig"]
                    .iter()
                    .any(|s| file.ends_with(s))
                && !file.starts_with('.') =>
        {
            Some(((*dir).to_owned(), (*file).to_owned()))
        }
        _ => None,
    }
}

type Entries<'a, R> = tar::Entries<'a, R>;

/// Reads a bundle: its manifest, which `accept` judges, then its members as
/// signed pairs, each listed in the manifest, once, of the size and
/// SHA-256 it lists, handed to `pair` in order.
fn read<R: Read>(
    path: &Path,
    source: R,
    accept: impl FnOnce(&Manifest, &[u8], &[u8]) -> Result<(), BundleError>,
    mut pair: impl FnMut(&Manifest, Pair) -> Result<(), BundleError>,
) -> Result<Manifest, BundleError> {
    let mut archive = tar::Archive::new(source);
    let mut entries = archive
        .entries()
        .map_err(|e| refused(path, format!("not a tar file ({e})")))?;
    let mut first = [(MANIFEST, Vec::new()), (MANIFEST_SIG, Vec::new())];
    for (expected, bytes) in &mut first {
        match next_member(path, &mut entries, MAX_MANIFEST)? {
            Some((name, content)) if name == *expected => *bytes = content,
            Some((name, _)) => {
                return Err(refused(
                    path,
                    format!("the manifest and its signature must come first, not {name:?}"),
                ));
            }
            None => return Err(refused(path, "no manifest".into())),
        }
    }
    let [(_, manifest_bytes), (_, manifest_sig)] = first;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| refused(path, format!("unreadable manifest ({e})")))?;
    if manifest.format != FORMAT || manifest.schema > SCHEMA {
        return Err(refused(
            path,
            format!(
                "a manifest of {:?} schema {}, not {FORMAT} up to {SCHEMA}",
                manifest.format, manifest.schema
            ),
        ));
    }
    accept(&manifest, &manifest_bytes, &manifest_sig)?;
    let listed = listing(path, &manifest)?;
    let mut seen = BTreeSet::new();
    let mut next =
        |entries: &mut Entries<'_, R>| -> Result<Option<(String, Vec<u8>)>, BundleError> {
            let Some((name, bytes)) = next_member(path, entries, MAX_MEMBER)? else {
                return Ok(None);
            };
            let member = listed
                .get(name.as_str())
                .ok_or_else(|| refused(path, format!("member {name:?} is not in the manifest")))?;
            if !seen.insert(name.clone()) {
                return Err(refused(path, format!("member {name:?} appears twice")));
            }
            if bytes.len() as u64 != member.size || sha256(&bytes) != member.sha256 {
                return Err(refused(
                    path,
                    format!("member {name:?} differs from the manifest (size or SHA-256)"),
                ));
            }
            Ok(Some((name, bytes)))
        };
    while let Some(file) = next(&mut entries)? {
        if file.0.ends_with(".sig") {
            return Err(refused(
                path,
                format!("signature {:?} does not follow its file", file.0),
            ));
        }
        match next(&mut entries)? {
            Some(sig) if sig.0 == format!("{}.sig", file.0) => pair(&manifest, Pair { file, sig })?,
            // Cut short: the count below says what is missing.
            None => break,
            Some(_) => {
                return Err(refused(
                    path,
                    format!(
                        "member {:?} is not signed (its .sig must follow it)",
                        file.0
                    ),
                ));
            }
        }
    }
    if seen.len() != manifest.members.len() {
        let missing: Vec<&str> = manifest
            .members
            .iter()
            .map(|m| m.path.as_str())
            .filter(|p| !seen.contains(*p))
            .take(3)
            .collect();
        return Err(refused(
            path,
            format!(
                "{} of {} members missing (truncated?): {}",
                manifest.members.len() - seen.len(),
                manifest.members.len(),
                missing.join(", ")
            ),
        ));
    }
    Ok(manifest)
}

/// A member and its signature, both as the manifest lists them.
struct Pair {
    file: (String, Vec<u8>),
    sig: (String, Vec<u8>),
}

fn refused(path: &Path, why: String) -> BundleError {
    BundleError::Refused {
        path: path.to_owned(),
        why,
    }
}

/// The next plain-file member (directories skipped), at most `limit` bytes.
fn next_member<R: Read>(
    path: &Path,
    entries: &mut Entries<'_, R>,
    limit: u64,
) -> Result<Option<(String, Vec<u8>)>, BundleError> {
    for entry in entries.by_ref() {
        let mut entry = entry.map_err(|e| refused(path, format!("truncated or corrupt ({e})")))?;
        let kind = entry.header().entry_type();
        let member = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| refused(path, format!("an unreadable member name ({e})")))?;
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(refused(
                path,
                format!("member {member:?} is a link or device, not a plain file"),
            ));
        }
        if entry.size() > limit {
            return Err(refused(
                path,
                format!("member {member:?} is larger than {limit} bytes"),
            ));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .by_ref()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                refused(
                    path,
                    format!("truncated or corrupt: member {member:?} cut short ({e})"),
                )
            })?;
        if bytes.len() as u64 != entry.size() {
            return Err(refused(
                path,
                format!("truncated or corrupt: member {member:?} cut short"),
            ));
        }
        return Ok(Some((member, bytes)));
    }
    Ok(None)
}

fn open(path: &Path) -> Result<std::io::BufReader<File>, BundleError> {
    Ok(std::io::BufReader::new(
        File::open(path).map_err(io_error(path))?,
    ))
}

/// A bundle's bytes through the first pass of import, any key taken as
/// trusted, so that fuzzing reaches the members.
pub(crate) fn verify_bytes(data: &[u8]) -> Result<Manifest, BundleError> {
    let path = Path::new("fuzz.tar");
    read(
        path,
        data,
        |_, bytes, sig| {
            super::authentic(BUNDLE_NAMESPACE, bytes, sig)
                .map(drop)
                .map_err(|r| refused(path, r.to_string()))
        },
        |_, pair| {
            super::authentic(SNAPSHOT_NAMESPACE, &pair.file.1, &pair.sig.1)
                .map(drop)
                .map_err(|r| refused(path, r.to_string()))
        },
    )
}

/// The first pass: everything verified, nothing written; `Err` refuses the
/// whole bundle.
fn verify(path: &Path, source: impl Read, trust: &Trust) -> Result<Manifest, BundleError> {
    read(
        path,
        source,
        |manifest, bytes, sig| {
            trust
                .verify(&manifest.collector, BUNDLE_NAMESPACE, bytes, sig)
                .map_err(|r| refused(path, format!("manifest: {r}")))
        },
        |manifest, pair| {
            trust
                .verify(
                    &manifest.collector,
                    SNAPSHOT_NAMESPACE,
                    &pair.file.1,
                    &pair.sig.1,
                )
                .map_err(|r| refused(path, format!("member {:?}: {r}", pair.file.0)))
        },
    )
}

/// The manifest's members by path: each once, each landing inside the store.
fn listing<'m>(
    path: &Path,
    manifest: &'m Manifest,
) -> Result<BTreeMap<&'m str, &'m Member>, BundleError> {
    let mut listed = BTreeMap::new();
    for member in &manifest.members {
        if safe_member(&member.path).is_none() {
            return Err(refused(
                path,
                format!("member {:?} would land outside the store", member.path),
            ));
        }
        if listed.insert(member.path.as_str(), member).is_some() {
            return Err(refused(path, "the manifest lists a member twice".into()));
        }
    }
    Ok(listed)
}

/// Sequence numbers received per collector, to tell what never arrived.
#[derive(Default, Serialize, Deserialize)]
struct Received {
    sequences: BTreeSet<u64>,
}

fn received_path(state: &Path, collector: &str) -> PathBuf {
    state.join(format!("received-{}.json", name::encode(collector)))
}

/// The sequence numbers of `collector` not received, as ranges (`17–18`):
/// every number from 1 to the highest received.
pub fn gaps(state: &Path, collector: &str) -> Vec<String> {
    let received: Received = std::fs::read(received_path(state, collector))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let Some(&last) = received.sequences.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut n = 1;
    while n <= last {
        if received.sequences.contains(&n) {
            n += 1;
            continue;
        }
        let start = n;
        while n <= last && !received.sequences.contains(&n) {
            n += 1;
        }
        out.push(if n - 1 == start {
            start.to_string()
        } else {
            format!("{start}–{}", n - 1)
        });
    }
    out
}

/// Files written together into the store (docs/benchmarks.md).
const GROUP: usize = 128;

/// A member the store already has under its name: the same, or a conflict.
fn found(target: &Path, bytes: &[u8], existing: &[u8], report: &mut Imported) {
    if existing == bytes {
        report.present += 1;
    } else {
        report.conflicts.push(format!(
            "{}: the store has another file of that name: kept, not replaced",
            target.display()
        ));
    }
}

/// Puts staged members in place, as `atomic::write` does one file, for all
/// at once: their contents made durable together, then each linked in order
/// (a signature before its file), then their directories made durable
/// together. A name taken meanwhile is judged as one found before.
fn write_staged(staged: Vec<atomic::Staged>, report: &mut Imported) -> Result<(), BundleError> {
    let placed = (|| {
        let files: Vec<_> = staged.iter().collect();
        for (f, synced) in files.iter().zip(atomic::sync_contents(&files)) {
            synced.map_err(io_error(f.path()))?;
        }
        let mut placed = Vec::new();
        for f in files {
            match f.place() {
                Ok(()) => {
                    report.written += 1;
                    placed.push(f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let bytes = std::fs::read(f.tmp()).map_err(io_error(f.tmp()))?;
                    let existing = std::fs::read(f.path()).map_err(io_error(f.path()))?;
                    found(f.path(), &bytes, &existing, report);
                }
                Err(e) => return Err(io_error(f.path())(e)),
            }
        }
        match atomic::sync_directories(&placed).into_iter().next() {
            Some((dir, e)) => Err(io_error(&dir)(e)),
            None => Ok(()),
        }
    })();
    staged.iter().for_each(atomic::Staged::discard);
    placed
}

/// Imports one bundle into `store`.
pub fn import(
    store: &Store,
    state: &Path,
    _held: &Lock,
    trust: &Trust,
    path: &Path,
) -> Result<Imported, BundleError> {
    let manifest = verify(path, open(path)?, trust)?;
    let mut report = Imported {
        path: path.to_owned(),
        collector: manifest.collector.clone(),
        sequence: manifest.sequence,
        ..Imported::default()
    };
    // A conflict leaves a whole device alone.
    let mut accepted: BTreeMap<String, PathBuf> = BTreeMap::new();
    let dirs: BTreeSet<String> = manifest
        .members
        .iter()
        .filter_map(|m| safe_member(&m.path).map(|(dir, _)| dir))
        .collect();
    for dir in dirs {
        let Some(device) = name::decode(&dir) else {
            report
                .conflicts
                .push(format!("{dir}: not the directory of any device name"));
            continue;
        };
        match store.collector_of(&device) {
            Some(owner) if owner != manifest.collector => report.conflicts.push(format!(
                "device {device:?} comes from collector {:?}, but the store has it from {owner:?}: not merged",
                manifest.collector
            )),
            _ => {
                let target = store.device_dir(&device);
                std::fs::create_dir_all(&target).map_err(io_error(&target))?;
                accepted.insert(dir, target);
            }
        }
    }
    // The second pass: each pair checked against the manifest again (the
    // file may have been replaced since), the signature written first.
    let mut staged = Vec::new();
    let again = read(
        path,
        open(path)?,
        |read, _, _| {
            if *read == manifest {
                Ok(())
            } else {
                Err(refused(path, "changed while being imported".into()))
            }
        },
        |_, pair| {
            for (name, bytes) in [&pair.sig, &pair.file] {
                let Some(target) =
                    safe_member(name).and_then(|(dir, file)| Some(accepted.get(&dir)?.join(file)))
                else {
                    continue;
                };
                match std::fs::read(&target) {
                    Ok(existing) => found(&target, bytes, &existing, &mut report),
                    Err(_) => {
                        let file = atomic::stage(&target, bytes, Mode::New);
                        staged.push(file.map_err(io_error(&target))?);
                        if staged.len() >= GROUP {
                            write_staged(std::mem::take(&mut staged), &mut report)?;
                        }
                    }
                }
            }
            Ok(())
        },
    );
    match again {
        Ok(_) => write_staged(staged, &mut report)?,
        Err(e) => {
            staged.iter().for_each(atomic::Staged::discard);
            return Err(e);
        }
    }
    let file = received_path(state, &manifest.collector);
    let mut received: Received = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    received.sequences.insert(manifest.sequence);
    std::fs::create_dir_all(state).map_err(io_error(state))?;
    atomic::write(
        &file,
        &serde_json::to_vec(&received).unwrap_or_default(),
        Mode::Replace,
    )
    .map_err(io_error(&file))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_taken_while_staged_is_judged_as_one_found_before() {
        let dir = tempfile::tempdir().unwrap();
        let (same, other, new) = (
            dir.path().join("same"),
            dir.path().join("other"),
            dir.path().join("new"),
        );
        let staged = [&same, &other, &new]
            .map(|p| atomic::stage(p, b"member", Mode::New).unwrap())
            .into();
        std::fs::write(&same, b"member").unwrap();
        std::fs::write(&other, b"another").unwrap();
        let mut report = Imported::default();
        write_staged(staged, &mut report).unwrap();
        assert_eq!((report.written, report.present), (1, 1));
        assert_eq!(report.conflicts.len(), 1, "{:?}", report.conflicts);
        assert_eq!(std::fs::read(&other).unwrap(), b"another", "kept");
        assert_eq!(std::fs::read(&new).unwrap(), b"member");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporary file left"
        );
    }

    #[test]
    fn members_land_only_inside_the_store() {
        assert_eq!(
            safe_member("snapshots/r1/2026-11-01T00-00-00.000Z.json.zst"),
            Some(("r1".into(), "2026-11-01T00-00-00.000Z.json.zst".into()))
        );
        for bad in [
            "../snapshots/r1/x.json.zst",
            "/etc/passwd",
            "snapshots/../x.json.zst",
            "snapshots/r1/../../x.json.zst",
            "snapshots/.ledger/netbox.json.zst",
            "snapshots/r1/x.sh",
            "snapshots/r1/sub/x.json.zst",
            "manifest.json",
        ] {
            assert_eq!(safe_member(bad), None, "{bad}");
        }
    }
}
