//! Snapshots: one versioned, zstd-compressed JSON document per device per
//! run, whose body is a Sal 4 checkin document. See docs/snapshot-format.md.

pub mod checkin;
pub mod codec;
pub mod name;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use checkin::Checkin;

/// The format version written by this build. Readers reject newer ones.
pub const SCHEMA: u32 = 1;
/// Marks files as ours, so a foreign JSON file is not mistaken for a snapshot.
pub const FORMAT: &str = "invmon-snapshot";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: String,
    pub schema: u32,
    pub collected_at: DateTime<Utc>,
    pub device: Device,
    pub outcome: Outcome,
    pub tool: Tool,
    pub checkin: Checkin,
}

impl Snapshot {
    /// A snapshot of this format and schema, written by this build on this host.
    pub fn new(
        collected_at: DateTime<Utc>,
        device: Device,
        outcome: Outcome,
        checkin: Checkin,
    ) -> Snapshot {
        Snapshot {
            format: FORMAT.into(),
            schema: SCHEMA,
            collected_at,
            device,
            outcome,
            tool: Tool::current(),
            checkin,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub name: String,
    pub address: String,
    pub platform: String,
    pub site: String,
    pub location: String,
    pub netbox_id: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every table was walked to its end.
    Ok,
    /// The device answered but a table walk broke off: items may be missing.
    Partial,
    /// Nothing usable was read; the snapshot records only why.
    Failed,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Partial => "partial",
            Status::Failed => "failed",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    /// Why the collection was partial or failed; `None` when ok.
    pub reason: Option<String>,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
    /// The collector that ran the walk: its id (`INVMON_COLLECTOR_ID`, the
    /// host name by default), the principal its signatures are checked for.
    pub collector: String,
    /// Fingerprint of the key that signed the snapshot, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

impl Tool {
    pub fn current() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            collector: host_name(),
            signer: None,
        }
    }
}

/// This host's name: the default collector id. Asked once: every snapshot carries it.
pub fn host_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| gethostname::gethostname().to_string_lossy().into_owned())
        .clone()
}
