//! Bundles: snapshots carried over a one-way link (a data diode) as files.
//!
//! A bundle is a plain tar (GNU tar and the enclave's own tools read it):
//! first `manifest.json` (collector id, sequence number, creation time, and
//! every member's path, size and SHA-256), then `manifest.json.sig` (the
//! collector's signature of the manifest), then the members: each snapshot
//! not yet bundled, its raw walk and their signatures, under
//! `snapshots/<device directory>/`. The collector's bundle ledger records
//! what was bundled (it protects the rest from `snapshots prune`); sending a
//! bundle again is harmless, as import is idempotent.
//!
//! Import verifies everything before writing anything: the manifest's
//! signature, every member against the manifest (present, listed, no larger,
//! same SHA-256), every member's own signature, safe paths and plain files
//! only. Then it writes what the store lacks and never replaces a file; a
//! device the store already has from another collector is a conflict, left
//! alone. Sequence numbers tell which bundles never arrived.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BUNDLE_NAMESPACE, SNAPSHOT_NAMESPACE, Signer, Trust, signature_path};
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
    /// The whole bundle is refused: nothing of it is imported.
    #[error("{path}: {why}")]
    Refused { path: PathBuf, why: String },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// What `create` made.
#[derive(Debug, Serialize)]
pub struct Created {
    pub path: PathBuf,
    pub sequence: u64,
    pub snapshots: usize,
    pub bytes: u64,
}

/// The last sequence number used, kept beside the ledger.
fn sequence_path(state: &Path) -> PathBuf {
    state.join("bundle.sequence")
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

/// Bundles every snapshot of `store` not yet bundled into one file in `out`;
/// `None` when there is nothing new.
pub fn create(
    store: &Store,
    state: &Path,
    _held: &Lock,
    out: &Path,
    signer: &Signer,
) -> Result<Option<Created>, BundleError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |cause| BundleError::Io { path, cause }
    };
    let mut ledger = Ledger::open(state, LEDGER, None)?;
    let mut members: Vec<(Member, Vec<u8>)> = Vec::new();
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    let mut snapshots = 0;
    for device in store.devices()? {
        let done = ledger.shipped(&device);
        let dir = name::encode(&device);
        for entry in store
            .list(&device)?
            .into_iter()
            .filter(|e| e.stamp() > done)
        {
            let raw = entry.raw_path();
            for file in [
                entry.path.clone(),
                signature_path(&entry.path),
                raw.clone(),
                signature_path(&raw),
            ] {
                let bytes = match std::fs::read(&file) {
                    Ok(b) => b,
                    // Raw walks and signatures are kept only when asked for.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && file != entry.path => {
                        continue;
                    }
                    Err(e) => return Err(io(&file)(e)),
                };
                let Some(file_name) = file.file_name() else {
                    continue;
                };
                members.push((
                    Member {
                        path: format!("snapshots/{dir}/{}", file_name.to_string_lossy()),
                        size: bytes.len() as u64,
                        sha256: sha256(&bytes),
                    },
                    bytes,
                ));
            }
            snapshots += 1;
            newest.insert(device.clone(), entry.stamp());
        }
    }
    if members.is_empty() {
        return Ok(None);
    }
    let sequence = std::fs::read_to_string(sequence_path(state))
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    // Taken before the bundle exists: a run that dies after this leaves a
    // gap the receiving side reports, never one number for two bundles.
    crate::atomic::write(
        &sequence_path(state),
        format!("{sequence}\n").as_bytes(),
        crate::atomic::Mode::Replace,
    )
    .map_err(io(state))?;
    let manifest = Manifest {
        format: FORMAT.into(),
        schema: SCHEMA,
        collector: signer.id.clone(),
        sequence,
        created_at: chrono::Utc::now(),
        members: members.iter().map(|(m, _)| m.clone()).collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let manifest_sig = signer
        .sign(BUNDLE_NAMESPACE, &manifest_bytes)
        .map_err(|e| BundleError::Sign(e.to_string()))?;
    let mut tar = tar::Builder::new(Vec::new());
    let mtime = manifest.created_at.timestamp().max(0) as u64;
    let mut add = |path: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes)
    };
    let file = out.join(format!("{}-{sequence:06}.tar", name::encode(&signer.id)));
    add(MANIFEST, &manifest_bytes).map_err(io(&file))?;
    add(MANIFEST_SIG, &manifest_sig).map_err(io(&file))?;
    for (member, bytes) in &members {
        add(&member.path, bytes).map_err(io(&file))?;
    }
    let bytes = tar.into_inner().map_err(io(&file))?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    // The bundle is on disk before the ledger says its snapshots went out.
    crate::atomic::write(&file, &bytes, crate::atomic::Mode::Replace).map_err(io(&file))?;
    for (device, stamp) in &newest {
        ledger.record(device, stamp, None)?;
    }
    Ok(Some(Created {
        path: file,
        sequence,
        snapshots,
        bytes: bytes.len() as u64,
    }))
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

/// A verified bundle: its manifest and each member with its bytes.
type Verified = (Manifest, Vec<(Member, Vec<u8>)>);

/// Reads and verifies a bundle whole; `Err` refuses all of it.
fn read_verified(path: &Path, trust: &Trust) -> Result<Verified, BundleError> {
    let refused = |why: String| BundleError::Refused {
        path: path.to_owned(),
        why,
    };
    let file = std::fs::File::open(path).map_err(|cause| BundleError::Io {
        path: path.to_owned(),
        cause,
    })?;
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries()
        .map_err(|e| refused(format!("not a tar file ({e})")))?;
    let mut manifest_bytes = None;
    let mut manifest_sig = None;
    let mut seen: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| refused(format!("truncated or corrupt ({e})")))?;
        let kind = entry.header().entry_type();
        let member = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| refused(format!("an unreadable member name ({e})")))?;
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(refused(format!(
                "member {member:?} is a link or device, not a plain file"
            )));
        }
        let limit = if i < 2 { MAX_MANIFEST } else { MAX_MEMBER };
        if entry.size() > limit {
            return Err(refused(format!(
                "member {member:?} is larger than {limit} bytes"
            )));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .by_ref()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refused(format!("member {member:?} cut short ({e})")))?;
        match (i, member.as_str()) {
            (0, MANIFEST) => manifest_bytes = Some(bytes),
            (1, MANIFEST_SIG) => manifest_sig = Some(bytes),
            (0 | 1, _) => {
                return Err(refused(format!(
                    "the manifest and its signature must come first, not {member:?}"
                )));
            }
            _ => seen.push((member, bytes)),
        }
    }
    let (Some(manifest_bytes), Some(manifest_sig)) = (manifest_bytes, manifest_sig) else {
        return Err(refused("no manifest".into()));
    };
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| refused(format!("unreadable manifest ({e})")))?;
    if manifest.format != FORMAT || manifest.schema > SCHEMA {
        return Err(refused(format!(
            "a manifest of {:?} schema {}, not {FORMAT} up to {SCHEMA}",
            manifest.format, manifest.schema
        )));
    }
    trust
        .verify(
            &manifest.collector,
            BUNDLE_NAMESPACE,
            &manifest_bytes,
            &manifest_sig,
        )
        .map_err(|r| refused(format!("manifest: {r}")))?;
    let listed: BTreeMap<&str, &Member> = manifest
        .members
        .iter()
        .map(|m| (m.path.as_str(), m))
        .collect();
    if listed.len() != manifest.members.len() {
        return Err(refused("the manifest lists a member twice".into()));
    }
    let mut members = Vec::new();
    let mut taken = BTreeSet::new();
    for (path_in_tar, bytes) in seen {
        if !taken.insert(path_in_tar.clone()) {
            return Err(refused(format!("member {path_in_tar:?} appears twice")));
        }
        let member = listed
            .get(path_in_tar.as_str())
            .ok_or_else(|| refused(format!("member {path_in_tar:?} is not in the manifest")))?;
        if safe_member(&member.path).is_none() {
            return Err(refused(format!(
                "member {:?} would land outside the store",
                member.path
            )));
        }
        if bytes.len() as u64 != member.size || sha256(&bytes) != member.sha256 {
            return Err(refused(format!(
                "member {:?} differs from the manifest (size or SHA-256)",
                member.path
            )));
        }
        members.push(((*member).clone(), bytes));
    }
    if members.len() != manifest.members.len() {
        let present: BTreeSet<&str> = members.iter().map(|(m, _)| m.path.as_str()).collect();
        let missing: Vec<&str> = manifest
            .members
            .iter()
            .map(|m| m.path.as_str())
            .filter(|p| !present.contains(p))
            .take(3)
            .collect();
        return Err(refused(format!(
            "{} of {} members missing (truncated?): {}",
            manifest.members.len() - members.len(),
            manifest.members.len(),
            missing.join(", ")
        )));
    }
    // Every snapshot and walk is the collector's own, signature and all.
    let by_path: BTreeMap<&str, &[u8]> = members
        .iter()
        .map(|(m, b)| (m.path.as_str(), b.as_slice()))
        .collect();
    for (member, bytes) in &members {
        if member.path.ends_with(".sig") {
            continue;
        }
        let sig = by_path
            .get(format!("{}.sig", member.path).as_str())
            .ok_or_else(|| refused(format!("member {:?} is not signed", member.path)))?;
        trust
            .verify(&manifest.collector, SNAPSHOT_NAMESPACE, bytes, sig)
            .map_err(|r| refused(format!("member {:?}: {r}", member.path)))?;
    }
    Ok((manifest, members))
}

/// Sequence numbers received per collector, to tell what never arrived.
#[derive(Default, Serialize, Deserialize)]
struct Received {
    sequences: BTreeSet<u64>,
}

fn received_path(state: &Path, collector: &str) -> PathBuf {
    state.join(format!("received-{}.json", name::encode(collector)))
}

/// The sequence numbers of `collector` not received, as ranges (`17–18`).
pub fn gaps(state: &Path, collector: &str) -> Vec<String> {
    let received: Received = std::fs::read(received_path(state, collector))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let (Some(&first), Some(&last)) = (received.sequences.first(), received.sequences.last())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut n = first;
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

/// Imports one bundle into `store`.
pub fn import(
    store: &Store,
    state: &Path,
    _held: &Lock,
    trust: &Trust,
    path: &Path,
) -> Result<Imported, BundleError> {
    let (manifest, members) = read_verified(path, trust)?;
    let mut report = Imported {
        path: path.to_owned(),
        collector: manifest.collector.clone(),
        sequence: manifest.sequence,
        ..Imported::default()
    };
    // Group by device directory: a conflict leaves a whole device alone.
    let mut by_dir: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for (member, bytes) in members {
        if let Some((dir, file)) = safe_member(&member.path) {
            by_dir.entry(dir).or_default().push((file, bytes));
        }
    }
    for (dir, files) in by_dir {
        let Some(device) = name::decode(&dir) else {
            report
                .conflicts
                .push(format!("{dir}: not the directory of any device name"));
            continue;
        };
        if let Some(owner) = store.collector_of(&device)
            && owner != manifest.collector
        {
            report.conflicts.push(format!(
                "device {device:?} comes from collector {:?}, but the store has it from {owner:?}: not merged",
                manifest.collector
            ));
            continue;
        }
        let target = store.device_dir(&device);
        std::fs::create_dir_all(&target).map_err(|cause| BundleError::Io {
            path: target.clone(),
            cause,
        })?;
        // Signatures first, so a snapshot never appears unsigned.
        let mut files = files;
        files.sort_by_key(|(f, _)| !f.ends_with(".sig"));
        for (file, bytes) in files {
            let at = target.join(&file);
            match std::fs::read(&at) {
                Ok(existing) if existing == bytes => report.present += 1,
                Ok(_) => report.conflicts.push(format!(
                    "{}: the store has another file of that name: kept, not replaced",
                    at.display()
                )),
                Err(_) => {
                    crate::atomic::write(&at, &bytes, crate::atomic::Mode::New).map_err(
                        |cause| BundleError::Io {
                            path: at.clone(),
                            cause,
                        },
                    )?;
                    report.written += 1;
                }
            }
        }
    }
    let file = received_path(state, &manifest.collector);
    let mut received: Received = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    received.sequences.insert(manifest.sequence);
    std::fs::create_dir_all(state).map_err(|cause| BundleError::Io {
        path: state.to_owned(),
        cause,
    })?;
    crate::atomic::write(
        &file,
        &serde_json::to_vec(&received).unwrap_or_default(),
        crate::atomic::Mode::Replace,
    )
    .map_err(|cause| BundleError::Io { path: file, cause })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

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
