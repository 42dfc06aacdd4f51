//! Reading and writing snapshot files: JSON, zstd level 3, written atomically
//! (temporary file, fsync, link into place) and never over an existing file.

use std::io::Read;

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

use super::{FORMAT, SCHEMA, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: not a zstd-compressed snapshot ({why})")]
    NotZstd { path: PathBuf, why: String },
    #[error("{path}: truncated or corrupt ({why})")]
    Corrupt { path: PathBuf, why: String },
    #[error("{path}: not an invmon snapshot ({why})")]
    Foreign { path: PathBuf, why: String },
    #[error("{path}: written by a newer invmon (schema {found}, this build reads up to {SCHEMA})")]
    TooNew { path: PathBuf, found: u64 },
    #[error("{path}: already exists; snapshots are never overwritten")]
    Exists { path: PathBuf },
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A document type stored in snapshot files: it knows its format marker,
/// schema and the device it is about.
pub trait Stored: DeserializeOwned {
    fn header(&self) -> (&str, u32);
    fn device_name(&self) -> &str;
    /// The collector that wrote it (the principal its signature is checked for).
    fn collector(&self) -> &str;
}

impl Stored for Snapshot {
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

/// Just the marker and version, to explain why a file did not parse.
#[derive(serde::Deserialize)]
struct Header {
    format: Option<String>,
    schema: Option<u64>,
}

fn check_header(path: &Path, format: Option<&str>, schema: Option<u64>) -> Result<(), CodecError> {
    if format != Some(FORMAT) {
        return Err(CodecError::Foreign {
            path: path.to_owned(),
            why: format!("no \"format\": \"{FORMAT}\" field"),
        });
    }
    match schema {
        Some(s) if s > u64::from(SCHEMA) => Err(CodecError::TooNew {
            path: path.to_owned(),
            found: s,
        }),
        Some(_) => Ok(()),
        None => Err(CodecError::Foreign {
            path: path.to_owned(),
            why: "no schema version".into(),
        }),
    }
}

pub fn read(path: &Path) -> Result<Snapshot, CodecError> {
    read_as(path)
}

/// Reads a snapshot file into `T`, which may be a partial view of the
/// document (unknown fields are skipped, which is much cheaper than
/// building the whole tree).
pub fn read_as<T: Stored>(path: &Path) -> Result<T, CodecError> {
    let compressed = std::fs::read(path).map_err(|cause| CodecError::Io {
        path: path.to_owned(),
        cause,
    })?;
    decode(&compressed, path)
}

/// Decodes a snapshot file's bytes; `path` only names it in errors.
pub fn decode<T: Stored>(compressed: &[u8], path: &Path) -> Result<T, CodecError> {
    if compressed.len() < 4 || compressed[..4] != ZSTD_MAGIC {
        return Err(CodecError::NotZstd {
            path: path.to_owned(),
            why: "no zstd frame header".into(),
        });
    }
    let json = decompress(compressed).map_err(|e| CodecError::Corrupt {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    match serde_json::from_slice::<T>(&json) {
        Ok(doc) => {
            let (format, schema) = doc.header();
            check_header(path, Some(format), Some(u64::from(schema)))?;
            Ok(doc)
        }
        Err(e) => {
            // Say "foreign" or "too new" rather than "corrupt" when that is the reason.
            if let Ok(h) = serde_json::from_slice::<Header>(&json) {
                check_header(path, h.format.as_deref(), h.schema)?;
            }
            Err(CodecError::Corrupt {
                path: path.to_owned(),
                why: format!("invalid JSON: {e}"),
            })
        }
    }
}

/// A snapshot as the bytes of its file.
pub fn encode(snapshot: &Snapshot, path: &Path) -> Result<Vec<u8>, CodecError> {
    let io = |cause: std::io::Error| CodecError::Io {
        path: path.to_owned(),
        cause,
    };
    let mut json = Vec::with_capacity(16 * 1024);
    snapshot
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut json, NoNul,
        ))
        .map_err(|e| io(e.into()))?;
    compress(&json).map_err(io)
}

/// Writes `snapshot` to `path`, which must not exist yet. Readers never see a
/// partial file: the data is complete and on disk before the name appears.
pub fn write(path: &Path, snapshot: &Snapshot) -> Result<(), CodecError> {
    let bytes = encode(snapshot, path)?;
    crate::atomic::write(path, &bytes, crate::atomic::Mode::New).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => CodecError::Exists {
            path: path.to_owned(),
        },
        _ => CodecError::Io {
            path: path.to_owned(),
            cause: e,
        },
    })
}

thread_local! {
    /// Setting up a zstd context costs more than compressing a typical
    /// snapshot; each writer thread keeps one.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
}

thread_local! {
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

/// Decompresses a whole frame, reusing the thread's context when the frame
/// states its size (ours always do); streams otherwise.
fn decompress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    match zstd::zstd_safe::get_frame_content_size(data) {
        Ok(Some(size)) if size < (1 << 31) => DECOMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new()?);
            }
            slot.as_mut()
                .expect("set above")
                .decompress(data, size as usize)
        }),
        _ => {
            let mut out = Vec::with_capacity(data.len() * 8);
            zstd::stream::read::Decoder::new(data)?.read_to_end(&mut out)?;
            Ok(out)
        }
    }
}

fn compress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(3)?);
        }
        slot.as_mut().expect("set above").compress(data)
    })
}

/// Sal's PostgreSQL rejects NUL characters: no string or key in a snapshot
/// carries one. Dropped as they are written, so a snapshot is serialized once.
struct NoNul;

impl serde_json::ser::Formatter for NoNul {
    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        match escape {
            serde_json::ser::CharEscape::AsciiControl(0) => Ok(()),
            other => serde_json::ser::CompactFormatter.write_char_escape(writer, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Device, Outcome, Status};

    #[test]
    fn no_nul_is_written_in_strings_or_keys() {
        let mut snapshot = Snapshot::new(
            chrono::Utc::now(),
            Device {
                name: "sw\u{0}1".into(),
                ..Device::default()
            },
            Outcome {
                status: Status::Ok,
                reason: Some("a\u{0}\nb".into()),
                duration_ms: 0,
            },
            Default::default(),
        );
        snapshot
            .checkin
            .machine
            .facts
            .insert("k\u{0}ey".into(), "FOC1\u{0}\u{0}".into());
        let path = Path::new("x.json.zst");
        let back: Snapshot = decode(&encode(&snapshot, path).unwrap(), path).unwrap();
        assert_eq!(back.device.name, "sw1");
        assert_eq!(back.outcome.reason.as_deref(), Some("a\nb"));
        assert_eq!(
            back.checkin.machine.facts.get("key").map(String::as_str),
            Some("FOC1")
        );
    }
}
