//! `snapshots verify`: the whole store checked, as `restic check` checks a
//! repository: every snapshot readable, of a schema this build reads, in the
//! directory of the device it names, and (with trust) signed by a key
//! allowed for its collector, with its raw walk signed too.

use serde::Serialize;

use super::signature_path;
use crate::snapshot::store::{Store, StoreError, Whose};
use crate::text::plural;

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub devices: usize,
    pub snapshots: usize,
    pub raw_walks: usize,
    /// Whether signatures were checked (an allowed_signers file was given).
    pub signatures_checked: bool,
    /// Every problem, by path and reason.
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn summary(&self) -> String {
        format!(
            "{}, {}, {} checked{}: {}",
            plural(self.devices, "device", "devices"),
            plural(self.snapshots, "snapshot", "snapshots"),
            plural(self.raw_walks, "raw walk", "raw walks"),
            if self.signatures_checked {
                " with their signatures"
            } else {
                " (signatures not checked: no allowed signers given)"
            },
            match self.problems.len() {
                0 => "no problems".to_owned(),
                1 => "1 problem".to_owned(),
                n => format!("{n} problems"),
            }
        )
    }
}

struct Device {
    snapshots: usize,
    raw_walks: usize,
    problems: Vec<String>,
}

fn check_device(store: &Store, device: &str) -> Device {
    let mut out = Device {
        snapshots: 0,
        raw_walks: 0,
        problems: Vec::new(),
    };
    let list = match store.list(device) {
        Ok(l) => l,
        Err(e) => {
            out.problems.push(e.to_string());
            return out;
        }
    };
    for entry in list {
        out.snapshots += 1;
        // Readable, a schema this build reads, this device's, and signed.
        let whose = match store.read_as::<Whose>(device, &entry) {
            Ok(w) => w,
            Err(e) => {
                out.problems.push(e.to_string());
                continue;
            }
        };
        let raw = entry.raw_path();
        if !raw.exists() {
            if signature_path(&raw).exists() {
                out.problems.push(format!(
                    "{}: a signature without its raw walk",
                    signature_path(&raw).display()
                ));
            }
            continue;
        }
        out.raw_walks += 1;
        if let Some(trust) = store.trust() {
            let checked = std::fs::read(&raw)
                .map_err(|e| format!("{}: {e}", raw.display()))
                .and_then(|bytes| {
                    crate::snapshot::store::verify(
                        trust,
                        &raw,
                        crate::snapshot::codec::Stored::collector(&whose),
                        &bytes,
                    )
                    .map_err(|e: StoreError| e.to_string())
                });
            if let Err(why) = checked {
                out.problems.push(why);
            }
        }
    }
    out
}

/// Checks every device of `store` (or only `only`).
pub fn check(store: &Store, only: Option<&str>) -> Result<Report, StoreError> {
    let devices = match only {
        Some(d) => vec![d.to_owned()],
        None => store.devices()?,
    };
    let results = crate::pool::map(&devices, crate::pool::cpus(), |d| check_device(store, d));
    let mut report = Report {
        devices: devices.len(),
        signatures_checked: store.trust().is_some(),
        ..Report::default()
    };
    for r in results {
        report.snapshots += r.snapshots;
        report.raw_walks += r.raw_walks;
        report.problems.extend(r.problems);
    }
    Ok(report)
}
