//! Files that appear whole or not at all, the one way every file is written:
//! the bytes go to a temporary name in the same directory, are flushed to
//! disk, and are then linked into place (never replacing anything) or renamed
//! over the old file. A writer killed half-way leaves only a temporary file,
//! which later writers in that directory sweep away.
//!
//! Many files can be made durable together ([`stage`], [`sync_contents`],
//! [`Staged::place`], [`sync_directories`]):
//! written under their temporary names, flushed with one `syncfs` for all,
//! placed, and their directories flushed with one more. That is two flushes
//! of the file system for a group instead of two per file; the order
//! (contents durable before any name points at them) is the same.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// What happens when the target already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Fail with `AlreadyExists`: snapshots and walks are never overwritten.
    New,
    /// Replace the old file (ledgers, exports, metrics).
    Replace,
}

/// Temporary files older than this belong to no live writer, whatever their pid says.
const ABANDONED: Duration = Duration::from_secs(3600);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `.<name>.<pid>.<n>.tmp`: hidden, and named after its writer so that a
/// sweep can tell a dead writer's leftovers from a live one's work.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` atomically and durably (file and directory synced).
pub(crate) fn write(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    write_with(path, mode, |file| file.write_all(bytes))
}

/// Like [`write`], with the content streamed by `fill` (files too large to
/// hold in memory: bundles).
pub(crate) fn write_with(
    path: &Path,
    mode: Mode,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = directory_of(path);
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        match mode {
            // A hard link fails if the name exists: nothing is ever replaced,
            // even by a concurrent writer that checked at the same moment.
            Mode::New => std::fs::hard_link(&tmp, path)?,
            Mode::Replace => std::fs::rename(&tmp, path)?,
        }
        File::open(dir)?.sync_all()
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The directory a file name is in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A file written under its temporary name: neither durable nor in place
/// until synced ([`sync_contents`]) and [`Staged::place`]d.
#[derive(Debug)]
pub(crate) struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    mode: Mode,
    /// The file system it is on, which one flush covers.
    fs: u64,
}

/// Writes `bytes` under a temporary name beside `path`, without syncing.
pub(crate) fn stage(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<Staged> {
    use std::os::unix::fs::MetadataExt;
    let tmp = temp_path(path);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        Ok(file.metadata()?.dev())
    })();
    match written {
        Ok(fs) => Ok(Staged {
            tmp,
            path: path.to_owned(),
            mode,
            fs,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

impl Staged {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it may not replace a file (and so whether its name is taken).
    pub(crate) fn is_new(&self) -> bool {
        self.mode == Mode::New
    }

    /// The temporary file, holding the contents until it is placed.
    pub(crate) fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Puts the file in place, as [`write`] does once its contents are durable.
    pub(crate) fn place(&self) -> io::Result<()> {
        match self.mode {
            Mode::New => std::fs::hard_link(&self.tmp, &self.path),
            Mode::Replace => std::fs::rename(&self.tmp, &self.path),
        }
    }

    /// Removes the temporary name (placed or not).
    pub(crate) fn discard(&self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Makes the contents of staged files durable together; the results follow
/// `files`.
pub(crate) fn sync_contents(files: &[&Staged]) -> Vec<io::Result<()>> {
    let paths: Vec<_> = files.iter().map(|f| (f.tmp.as_path(), f.fs)).collect();
    sync_together(&paths)
}

/// Makes the directories of placed files durable together, each once; the
/// directories that could not be, with why.
pub(crate) fn sync_directories(placed: &[&Staged]) -> Vec<(PathBuf, io::Error)> {
    let mut dirs: Vec<_> = placed
        .iter()
        .map(|f| (directory_of(&f.path), f.fs))
        .collect();
    dirs.sort();
    dirs.dedup();
    let synced = sync_together(&dirs);
    let failed = dirs.into_iter().zip(synced);
    failed
        .filter_map(|((dir, _), r)| Some((dir.to_owned(), r.err()?)))
        .collect()
}

/// Makes files or directories durable: one `syncfs` for each file system
/// they are on or, where that fails (or there is no `syncfs`), an fsync of
/// each, whose own outcome is then theirs. The results follow `paths`.
fn sync_together(paths: &[(&Path, u64)]) -> Vec<io::Result<()>> {
    let mut flushed: Vec<(u64, bool)> = Vec::new();
    paths
        .iter()
        .map(|&(path, fs)| {
            let whole = match flushed.iter().find(|(f, _)| *f == fs) {
                Some(&(_, ok)) => ok,
                None => {
                    let ok = syncfs(path).is_ok();
                    flushed.push((fs, ok));
                    ok
                }
            };
            if whole {
                Ok(())
            } else {
                File::open(path)?.sync_all()
            }
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn syncfs(path: &Path) -> io::Result<()> {
    Ok(rustix::fs::syncfs(File::open(path)?)?)
}

#[cfg(not(target_os = "linux"))]
fn syncfs(_: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The pid in one of our temporary names, or `None` for any other file.
/// Also knows the names earlier versions used (`.<name>.<pid>.tmp`,
/// `<stamp>.snmprec.tmp`).
fn writer_pid(name: &str) -> Option<Option<u32>> {
    let stem = name.strip_suffix(".tmp")?;
    if !name.starts_with('.') {
        return stem.ends_with(".snmprec").then_some(None);
    }
    let mut parts = stem.rsplit('.');
    let last = parts.next()?;
    let pid = match parts.next() {
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => p,
        _ => last,
    };
    pid.parse().ok().map(Some)
}

fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    // Without /proc nothing can be known; only age decides then.
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Removes temporary files in `dir` left by writers that are gone (their
/// process no longer runs, or the file is over an hour old). Returns how
/// many were removed, or why `dir` cannot be listed; failures to remove
/// are ignored, as the next sweep will retry.
pub(crate) fn sweep(dir: &Path) -> io::Result<usize> {
    let entries = std::fs::read_dir(dir)?;
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = writer_pid(&name.to_string_lossy()) else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > ABANDONED);
        let orphan = match pid {
            Some(pid) => pid != std::process::id() && !alive(pid),
            None => false,
        };
        if (old || orphan) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_never_replaces_and_replace_does() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write(&p, b"one", Mode::New).unwrap();
        let e = write(&p, b"two", Mode::New).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write(&p, b"three", Mode::Replace).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file stays behind");
    }

    #[test]
    fn sweep_removes_only_dead_writers_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // pid 4194304 is above Linux's pid_max: never a live process.
        for name in [
            ".x.json.zst.4194304.0.tmp",
            ".x.json.zst.4194304.tmp",
            "2026-11-01T00-00-00.000Z.snmprec.tmp",
        ] {
            std::fs::write(d.join(name), b"").unwrap();
        }
        let mine = format!(".y.json.zst.{}.0.tmp", std::process::id());
        for keep in [mine.as_str(), "notes.tmp", "x.json.zst", ".hidden"] {
            std::fs::write(d.join(keep), b"").unwrap();
        }
        // The unnamed raw-walk leftover has no pid: only age removes it.
        assert_eq!(sweep(d).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".hidden",
                mine.as_str(),
                "2026-11-01T00-00-00.000Z.snmprec.tmp",
                "notes.tmp",
                "x.json.zst"
            ]
        );
    }
}
