//! Checkin modules: site-supplied executables that add their own Sal
//! management source to a device's snapshot.
//!
//! Each executable in the modules directory runs once per collected device,
//! in file-name order, with a timeout, a clean environment (the device
//! context only, never SNMP secrets) and prints one JSON object,
//! `{"<Source>": {"facts": …, "messages": …, "managed_items": …,
//! "extra_data": …}}`. Every section it returns replaces that section
//! wholesale. A module that fails changes nothing but adds an ERROR message.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::inventory::Severity;
use crate::sal::contract;
use crate::snapshot::Snapshot;
use crate::snapshot::checkin::{INVENTORY_SOURCE, Message, Source, sal_time};

#[derive(Clone, Debug)]
pub struct Modules {
    pub dir: PathBuf,
    pub timeout: Duration,
}

/// Largest stdout accepted from a module (Sal's own body limit).
const MAX_OUTPUT: u64 = contract::MAX_BODY as u64;

/// Why a module's output was not used.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("checkin modules directory {dir}: {cause}")]
    Dir { dir: PathBuf, cause: std::io::Error },
    #[error("cannot start: {0}")]
    Start(std::io::Error),
    #[error("cannot wait for it: {0}")]
    Wait(std::io::Error),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{status}{}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Exit {
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("printed more than 5 MiB")]
    TooLong,
    #[error("printed invalid JSON ({0})")]
    Json(serde_json::Error),
    #[error("printed JSON that is not an object of sections")]
    NotSections,
    #[error("may not replace the {0:?} section")]
    Reserved(String),
    #[error(transparent)]
    Contract(#[from] contract::Broken),
    #[error("section {name:?}: {cause}")]
    Section {
        name: String,
        cause: serde_json::Error,
    },
}

/// The executables to run, in order.
fn list(dir: &Path) -> Result<Vec<PathBuf>, ModuleError> {
    let entries = std::fs::read_dir(dir).map_err(|cause| ModuleError::Dir {
        dir: dir.to_owned(),
        cause,
    })?;
    let mut modules: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|e| e.path())
        .collect();
    modules.sort();
    Ok(modules)
}

/// Runs every module for `snapshot`, adding their sections (or ERROR messages).
pub fn run(modules: &Modules, snapshot: &mut Snapshot) {
    let now = sal_time(snapshot.collected_at);
    let mut errors = Vec::new();
    match list(&modules.dir) {
        Err(e) => errors.push(e.to_string()),
        Ok(list) if !list.is_empty() => {
            let context = context_file(snapshot);
            for module in list {
                let name = module
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match run_one(
                    &module,
                    modules.timeout,
                    snapshot,
                    context.as_ref().map(|f| f.path()),
                ) {
                    Ok(sections) => snapshot.checkin.sources.extend(sections),
                    Err(why) => errors.push(format!(
                        "checkin module {name}: {why}; its output was ignored"
                    )),
                }
            }
        }
        Ok(_) => {}
    }
    if let Some(inventory) = snapshot.checkin.sources.get_mut(INVENTORY_SOURCE) {
        for text in errors {
            tracing::error!(device = %snapshot.device.name, "{text}.");
            inventory.messages.push(Message {
                text,
                message_type: Severity::Error,
                date: now.clone(),
            });
        }
    }
}

/// The snapshot so far as a JSON file modules may read.
fn context_file(snapshot: &Snapshot) -> Option<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("invmon-snapshot-")
        .suffix(".json")
        .tempfile()
        .ok()?;
    serde_json::to_writer(&mut file, snapshot).ok()?;
    Some(file)
}

fn run_one(
    module: &Path,
    timeout: Duration,
    snapshot: &Snapshot,
    context: Option<&Path>,
) -> Result<Vec<(String, Source)>, ModuleError> {
    let device = &snapshot.device;
    let chassis = snapshot
        .checkin
        .machine
        .extra_data
        .get("serial")
        .and_then(Json::as_str)
        .unwrap_or("");
    let mut cmd = Command::new(module);
    // A clean environment: nothing from the collector's settings (secrets included) leaks in.
    cmd.env_clear();
    for keep in ["PATH", "HOME", "LANG", "TZ", "TMPDIR"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("INVMON_DEVICE_NAME", &device.name)
        .env("INVMON_DEVICE_ADDRESS", &device.address)
        .env("INVMON_DEVICE_PLATFORM", &device.platform)
        .env("INVMON_DEVICE_SITE", &device.site)
        .env("INVMON_DEVICE_LOCATION", &device.location)
        .env(
            "INVMON_DEVICE_NETBOX_ID",
            device.netbox_id.map(|n| n.to_string()).unwrap_or_default(),
        )
        .env("INVMON_CHASSIS_SERIAL", chassis)
        .env(
            "INVMON_COLLECTION_STATUS",
            snapshot.outcome.status.to_string(),
        );
    if let Some(path) = context {
        cmd.env("INVMON_SNAPSHOT_JSON", path);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ModuleError::Start)?;
    // Read both pipes while waiting, so a chatty module cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>, limit: u64| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(limit).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        MAX_OUTPUT + 1,
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        64 * 1024,
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ModuleError::Timeout(timeout));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(ModuleError::Wait(e)),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default())
        .trim()
        .to_owned();
    if !status.success() {
        let tail: String = stderr
            .chars()
            .rev()
            .take(300)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ModuleError::Exit {
            status,
            stderr: tail,
        });
    }
    if stdout.len() as u64 > MAX_OUTPUT {
        return Err(ModuleError::TooLong);
    }
    parse_output(&stdout, &sal_time(snapshot.collected_at))
}

/// Validates a module's stdout against Sal's contract. Dates a module left
/// out (Sal would use "now") become `now`, the collection time.
pub fn parse_output(stdout: &[u8], now: &str) -> Result<Vec<(String, Source)>, ModuleError> {
    let doc: Json = serde_json::from_slice(stdout).map_err(ModuleError::Json)?;
    let doc = doc.as_object().ok_or(ModuleError::NotSections)?;
    let mut sections = Vec::new();
    for (name, section) in doc {
        if contract::RESERVED.contains(&name.as_str()) || name == INVENTORY_SOURCE {
            return Err(ModuleError::Reserved(name.clone()));
        }
        contract::check_source(name, section)?;
        let mut section = section.clone();
        for m in section
            .get_mut("messages")
            .and_then(Json::as_array_mut)
            .into_iter()
            .flatten()
        {
            m.as_object_mut()
                .map(|m| m.entry("date").or_insert_with(|| now.into()));
        }
        for i in section
            .get_mut("managed_items")
            .and_then(Json::as_object_mut)
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            if let Some(i) = i.as_object_mut() {
                i.entry("date_managed").or_insert_with(|| now.into());
                i.entry("data")
                    .or_insert_with(|| Json::Object(Default::default()));
            }
        }
        let source: Source =
            serde_json::from_value(section).map_err(|cause| ModuleError::Section {
                name: name.clone(),
                cause,
            })?;
        sections.push((name.clone(), source));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rules() {
        let ok = br#"{"Asset DB": {"facts": {"owner": "noc"}, "messages": [{"text": "found", "message_type": "DEBUG"}], "managed_items": {}, "extra_data": {}}}"#;
        let sections = parse_output(ok, "2026-11-01T00:00:00Z").unwrap();
        assert_eq!(sections[0].1.messages[0].date, "2026-11-01T00:00:00Z");
        assert_eq!(sections[0].0, "Asset DB");
        assert_eq!(sections[0].1.facts["owner"], "noc");
        for (bad, why) in [
            (&br#"{"Machine": {"facts": {}}}"#[..], "may not replace"),
            (br#"{"SNMP Inventory": {"facts": {}}}"#, "may not replace"),
            (br#"{"X": {"facts": {"a": null}}}"#, "is null"),
            (
                br#"{"X": {"messages": [{"text": "t", "message_type": "INFO"}]}}"#,
                "is not one of",
            ),
            (
                br#"{"X": {"managed_items": {"i": {"status": "GONE"}}}}"#,
                "is not one of",
            ),
            (br#"[1, 2]"#, "not an object"),
            (b"not json", "invalid JSON"),
        ] {
            let e = parse_output(bad, "2026-11-01T00:00:00Z").unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
