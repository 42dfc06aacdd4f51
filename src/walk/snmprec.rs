//! The `.snmprec` recording format shared with snmpsim: `OID|TAG|VALUE` per line.
//!
//! Tags are BER type numbers in decimal; an `x` suffix means the value is hex,
//! an `e` suffix a string with Python escapes (`\\n`, `\\x00`), as snmpsim
//! writes them. A `TAG:variation` (an snmpsim variation module) keeps the
//! base type.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use super::Walk;
use crate::text::quoted;
use crate::walk::value::{hex, unhex};
use crate::walk::{Oid, Value};

#[derive(Debug, thiserror::Error)]
pub enum SnmprecError {
    #[error("{path}: {cause}")]
    Io { path: String, cause: io::Error },
    #[error("{path}:{line}: {why}")]
    Line {
        path: String,
        line: usize,
        why: LineError,
    },
}

/// What is wrong with one line. Offending values are shown cut short: a
/// recording's hex strings can be kilobytes long.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("expected OID|TYPE|VALUE")]
    Shape,
    #[error(transparent)]
    Oid(#[from] crate::walk::oid::OidParseError),
    #[error("invalid {what} {}", quoted(.text))]
    Value { what: &'static str, text: String },
    #[error("{what} out of range: {}", quoted(.text))]
    Range { what: &'static str, text: String },
    #[error("unsupported type tag {}", quoted(.0))]
    Tag(String),
}

/// A recording with the lines that could not be read.
#[derive(Debug, Default)]
pub struct Recording {
    pub walk: Walk,
    pub skipped: Vec<SnmprecError>,
}

impl Recording {
    /// The walk, or the first line that could not be read.
    fn strict(self) -> Result<Walk, SnmprecError> {
        match self.skipped.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(self.walk),
        }
    }
}

/// Parses a recording strictly: the first bad line is an error. `path` only
/// names the source in errors.
pub fn parse(text: &str, path: &str) -> Result<Walk, SnmprecError> {
    parse_all(text, path).strict()
}

/// Parses every line that can be read, as snmpsim serves what it can of a
/// recording; the others come back as errors naming their line.
pub fn parse_all(text: &str, path: &str) -> Recording {
    let mut walk = Walk::new();
    let mut skipped = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: LineError| SnmprecError::Line {
            path: path.to_owned(),
            line: n + 1,
            why,
        };
        let mut parts = line.splitn(3, '|');
        let (Some(oid), Some(tag), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            skipped.push(bad(LineError::Shape));
            continue;
        };
        match oid
            .parse::<Oid>()
            .map_err(LineError::Oid)
            .and_then(|oid| Ok((oid, parse_value(tag, value)?)))
        {
            Ok((oid, value)) => walk.insert(oid, value),
            Err(why) => skipped.push(bad(why)),
        }
    }
    Recording { walk, skipped }
}

/// Reads a recording strictly (see `parse`).
pub fn read(path: &Path) -> Result<Walk, SnmprecError> {
    read_all(path)?.strict()
}

/// Reads every line of a recording that can be read (see `parse_all`).
pub fn read_all(path: &Path) -> Result<Recording, SnmprecError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|cause| SnmprecError::Io {
        path: name.clone(),
        cause,
    })?;
    // Recordings carry raw octets in type-4 values; keep every byte by mapping
    // non-UTF-8 files through Latin-1.
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    Ok(parse_all(&text, &name))
}

fn parse_value(tag: &str, text: &str) -> Result<Value, LineError> {
    let (base, variation) = match tag.split_once(':') {
        Some((b, v)) => (b, Some(v)),
        None => (tag, None),
    };
    let (number, encoding) = match base.strip_suffix('x') {
        Some(n) => (n, Some('x')),
        None => match base.strip_suffix('e') {
            Some(n) => (n, Some('e')),
            None => (base, None),
        },
    };
    let is_hex = encoding == Some('x');
    let invalid = |what: &'static str| LineError::Value {
        what,
        text: text.to_owned(),
    };
    let octets = || -> Result<Vec<u8>, LineError> {
        if is_hex {
            unhex(text).ok_or_else(|| invalid("hex value"))
        } else if encoding == Some('e') {
            unescape(text).ok_or_else(|| invalid("escaped value"))
        } else {
            // Latin-1 back to bytes, so a recording read through `read` is byte-exact.
            Ok(text
                .chars()
                .map(|c| u32::from(c).try_into().unwrap_or(b'?'))
                .collect())
        }
    };
    let num = |what: &'static str| -> Result<u64, LineError> {
        match text.trim().parse::<u64>() {
            Ok(v) => Ok(v),
            // snmpsim variation modules (e.g. `67:numeric|rate=100`) compute
            // values at run time; a recording replays them as zero.
            Err(_) if variation.is_some() => Ok(0),
            Err(_) => Err(invalid(what)),
        }
    };
    let u32_of = |what: &'static str| -> Result<u32, LineError> {
        u32::try_from(num(what)?).map_err(|_| LineError::Range {
            what,
            text: text.to_owned(),
        })
    };
    Ok(match number {
        "2" => Value::Integer(match text.trim().parse::<i64>() {
            Ok(v) => v,
            Err(_) if variation.is_some() => 0,
            Err(_) => return Err(invalid("INTEGER")),
        }),
        "4" => Value::OctetString(octets()?.into()),
        "5" => Value::Null,
        "6" => Value::ObjectIdentifier(Box::new(text.parse()?)),
        "64" => {
            let bytes = if encoding.is_some() {
                octets()?
            } else {
                text.split('.')
                    .map(|p| p.parse::<u8>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| invalid("IpAddress"))?
            };
            Value::IpAddress(bytes.try_into().map_err(|_| invalid("IpAddress"))?)
        }
        "65" => Value::Counter32(u32_of("Counter32")?),
        "66" => Value::Gauge32(u32_of("Gauge32")?),
        "67" => Value::TimeTicks(u32_of("TimeTicks")?),
        "68" => Value::Opaque(octets()?.into()),
        "70" => Value::Counter64(num("Counter64")?),
        other => return Err(LineError::Tag(other.to_owned())),
    })
}

/// A string with Python escapes, as snmpsim writes values with an `e` tag,
/// back to its bytes (each other character is one Latin-1 byte).
fn unescape(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(u8::try_from(u32::from(c)).unwrap_or(b'?'));
            continue;
        }
        out.push(match chars.next()? {
            '\\' => b'\\',
            '\'' => b'\'',
            '"' => b'"',
            'a' => 7,
            'b' => 8,
            'f' => 12,
            'n' => b'\n',
            'r' => b'\r',
            't' => b'\t',
            'v' => 11,
            'x' => {
                let hi = chars.next()?.to_digit(16)?;
                let lo = chars.next()?.to_digit(16)?;
                u8::try_from(hi * 16 + lo).ok()?
            }
            _ => return None,
        });
    }
    Some(out)
}

/// One recording line for `oid` and `value`.
pub fn line(oid: &Oid, value: &Value) -> String {
    let mut out = String::new();
    let _ = write!(out, "{oid}|");
    let _ = match value {
        Value::Integer(v) => write!(out, "2|{v}"),
        Value::OctetString(b) if b.iter().all(|c| (0x20..0x7f).contains(c)) => {
            write!(out, "4|{}", std::str::from_utf8(b).unwrap_or_default())
        }
        Value::OctetString(b) => write!(out, "4x|{}", hex(b)),
        Value::Null => write!(out, "5|"),
        Value::ObjectIdentifier(o) => write!(out, "6|{o}"),
        Value::IpAddress(a) => write!(out, "64|{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
        Value::Counter32(v) => write!(out, "65|{v}"),
        Value::Gauge32(v) => write!(out, "66|{v}"),
        Value::TimeTicks(v) => write!(out, "67|{v}"),
        Value::Opaque(b) => write!(out, "68x|{}", hex(b)),
        Value::Counter64(v) => write!(out, "70|{v}"),
    };
    out
}

pub fn write(walk: &Walk, mut out: impl Write) -> io::Result<()> {
    for (oid, value) in walk.iter() {
        writeln!(out, "{}", line(oid, value))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type() {
        let text = "1.3.6.1.2.1.1.1.0|4|Cisco IOS | pipe\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.366\n\
                    1.3.6.1.2.1.1.3.0|67|250420447\n1.3.6.1.2.1.2.2.1.6.1|4x|001b54aa0001\n\
                    1.3.6.1.2.1.4.20.1.1.10.0.0.1|64|10.0.0.1\n1.3.6.1.2.1.5.1.0|65|7\n1.3.6.1.2.1.5.2.0|66|8\n\
                    1.3.6.1.2.1.5.3.0|70|18446744073709551615\n1.3.6.1.2.1.5.4.0|2|-42\n1.3.6.1.2.1.5.5.0|68x|0906033834452d32\n";
        let walk = parse(text, "t").unwrap();
        let mut out = Vec::new();
        write(&walk, &mut out).unwrap();
        assert_eq!(
            parse(std::str::from_utf8(&out).unwrap(), "t").unwrap(),
            walk
        );
        assert_eq!(
            walk.get(&"1.3.6.1.2.1.1.1.0".parse().unwrap())
                .unwrap()
                .text()
                .unwrap(),
            "Cisco IOS | pipe"
        );
    }

    #[test]
    fn variations_and_errors() {
        let walk = parse("1.3.6.1.2.1.1.3.0|67:numeric|rate=100\n", "t").unwrap();
        assert_eq!(walk.len(), 1);
        let err = parse("1.3.6.1.2.1.1.3.0|67|x\n", "f.snmprec").unwrap_err();
        assert_eq!(err.to_string(), "f.snmprec:1: invalid TimeTicks \"x\"");
        assert!(parse("1.3.6|99|1\n", "t").is_err());
    }

    #[test]
    fn escaped_values_as_snmpsim_writes_them() {
        let walk = parse("1.3.6.1.2.1.1.1.0|4e|a\\nb\\x00\\\\c\\'\n", "t").unwrap();
        let value = walk.get(&"1.3.6.1.2.1.1.1.0".parse().unwrap()).unwrap();
        assert_eq!(value, &Value::OctetString(b"a\nb\0\\c'"[..].into()));
        assert!(parse("1.3.6.1.2.1.1.1.0|4e|bad\\q\n", "t").is_err());
        assert!(parse("1.3.6.1.2.1.1.1.0|4e|cut\\x4\n", "t").is_err());
    }

    /// Lines seen in public recordings: each is skipped, named by file and
    /// line, its value shown once and cut short, and the rest is kept.
    #[test]
    fn bad_lines_are_skipped_with_their_line_named() {
        let long = "ab".repeat(3001);
        let text = format!(
            "1.3.6.1.2.1.1.1.0|4|ok\n\
             1.3.6.1.2.1.2.2.1.10.1|70|\n\
             1.3.6.1.2.1.2.2.1.11.1|40|7\n\
             1.3.6.1.2.1.4.20.1.1.1|64|<private>\n\
             1.3.6.1.2.1.2.2.1.6.1|4x|{long}a\n\
             1.3.6.1.2.1.1.5.0|4|host\n"
        );
        let recording = parse_all(&text, "dev.snmprec");
        assert_eq!(recording.walk.len(), 2);
        let errors: Vec<String> = recording.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(errors[0], "dev.snmprec:2: invalid Counter64 \"\"");
        assert_eq!(errors[1], "dev.snmprec:3: unsupported type tag \"40\"");
        assert_eq!(errors[2], "dev.snmprec:4: invalid IpAddress \"<private>\"");
        assert!(errors[3].starts_with("dev.snmprec:5: invalid hex value \"abab"));
        assert!(errors[3].ends_with("… (6003 characters)"), "{}", errors[3]);
        assert!(errors[3].len() < 120, "{}", errors[3]);
        assert_eq!(errors.len(), 4);
        // Strict reading still refuses the whole file at its first bad line.
        assert_eq!(
            parse(&text, "dev.snmprec").unwrap_err().to_string(),
            errors[0]
        );
    }
}
