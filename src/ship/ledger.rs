//! What has been shipped where: one ledger file per destination inside the
//! store (`<store>/.ledger/<destination>.json`), written atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipped {
    /// Timestamp of the snapshot sent (its file name's stamp).
    pub snapshot: String,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    path: PathBuf,
    pub devices: BTreeMap<String, Shipped>,
}

#[derive(Debug, thiserror::Error)]
#[error("ship ledger {path}: {why}")]
pub struct LedgerError {
    path: PathBuf,
    why: String,
}

impl Ledger {
    pub fn path(store: &Path, destination: &str) -> PathBuf {
        store.join(".ledger").join(format!("{destination}.json"))
    }

    pub fn load(path: PathBuf) -> Result<Ledger, LedgerError> {
        let err = |why: String| LedgerError {
            path: path.clone(),
            why,
        };
        let devices = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        Ok(Ledger { path, devices })
    }

    /// Every ledger in the store (one per destination that has shipped).
    pub fn all(store: &Path) -> Result<Vec<Ledger>, LedgerError> {
        let dir = store.join(".ledger");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(Ledger::load)
            .collect()
    }

    /// The stamp of the last snapshot shipped for `device` ("" if none).
    pub fn shipped(&self, device: &str) -> String {
        self.devices
            .get(device)
            .map(|s| s.snapshot.clone())
            .unwrap_or_default()
    }

    /// Records a shipment and saves at once, so an interrupted run loses nothing.
    pub fn record(&mut self, device: &str, snapshot: &str) -> Result<(), LedgerError> {
        self.devices.insert(
            device.to_owned(),
            Shipped {
                snapshot: snapshot.to_owned(),
                sent_at: Utc::now(),
            },
        );
        let err = |why: String| LedgerError {
            path: self.path.clone(),
            why,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&self.devices).expect("ledger serializes");
        std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| err(e.to_string()))
    }
}
