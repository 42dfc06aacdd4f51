//! One writer at a time: an advisory lock on a file (flock), held for the
//! life of a run and released by the kernel when the process ends, however
//! it ends. The holder writes its pid and start time into the file, so a
//! second run can say who it is waiting for.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{what} is in use by another invmon ({holder}); waited {waited:?} for {path}")]
    Busy {
        what: String,
        path: PathBuf,
        holder: String,
        waited: Duration,
    },
    #[error("lock file {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the lock at `path`, waiting at most `wait` for a holder to finish.
/// `what` names the thing locked in messages (`NetBox https://nb`).
pub fn acquire(path: &Path, what: &str, wait: Duration) -> Result<Lock, LockError> {
    let io = |cause| LockError::Io {
        path: path.to_owned(),
        cause,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(LockError::Busy {
                    what: what.to_owned(),
                    path: path.to_owned(),
                    holder: if holder.trim().is_empty() {
                        "unknown process".into()
                    } else {
                        holder.trim().to_owned()
                    },
                    waited: started.elapsed(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    let me = format!(
        "pid {} since {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(me.as_bytes()))
        .map_err(io)?;
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_gives_up_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = acquire(&path, "NetBox x", Duration::ZERO).unwrap();
        let e = acquire(&path, "NetBox x", Duration::from_millis(300)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("NetBox x is in use by another invmon (pid "),
            "{text}"
        );
        drop(first);
        acquire(&path, "NetBox x", Duration::ZERO).unwrap();
    }
}
