//! Owned SNMP values, independent of any client library's borrowed types.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::oid::Oid;

/// The bytes of an OCTET STRING. Serials, revisions, short names and empty
/// cells (most of an inventory walk) fit inline, in no more room than a
/// `Vec` takes: decoding them allocates nothing.
pub type Octets = SmallVec<[u8; 16]>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    Integer(i64),
    #[serde(with = "hex_bytes")]
    OctetString(Octets),
    /// Boxed: an inline OID would make every value (and every walk row) twice as large.
    ObjectIdentifier(Box<Oid>),
    IpAddress([u8; 4]),
    Counter32(u32),
    Gauge32(u32),
    TimeTicks(u32),
    #[serde(with = "hex_bytes")]
    Opaque(Octets),
    Counter64(u64),
    Null,
}

impl Value {
    /// Text of an OCTET STRING, when it is text: trailing NUL padding removed,
    /// valid UTF-8, no control characters besides tab and line breaks.
    /// `None` for binary content (MAC addresses, DateAndTime, garbage).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::OctetString(bytes) => octets_as_text(bytes),
            _ => None,
        }
    }

    /// The value as one display string, the way operators expect to read it:
    /// numbers in decimal, OIDs dotted with a leading dot, text as text and
    /// binary octets as `0x`-prefixed hex (never as Latin-1 mojibake).
    pub fn render(&self) -> String {
        match self {
            Value::Integer(v) => v.to_string(),
            Value::OctetString(bytes) | Value::Opaque(bytes) => {
                octets_as_text(bytes).unwrap_or_else(|| format!("0x{}", hex(bytes)))
            }
            Value::ObjectIdentifier(oid) => format!(".{oid}"),
            Value::IpAddress(a) => format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => v.to_string(),
            Value::Counter64(v) => v.to_string(),
            Value::Null => String::new(),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(v) => Some(*v),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => Some(i64::from(*v)),
            _ => None,
        }
    }
}

fn octets_as_text(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let s = std::str::from_utf8(&bytes[..end]).ok()?;
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return None;
    }
    Some(s.to_owned())
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<super::Octets, D::Error> {
        let text = String::deserialize(d)?;
        super::unhex(&text)
            .map(super::Octets::from_vec)
            .ok_or_else(|| serde::de::Error::custom("invalid hex octets"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_policy() {
        let v = |b: &[u8]| Value::OctetString(b.into());
        assert_eq!(v(b"FOC1234\0\0").text().as_deref(), Some("FOC1234"));
        assert_eq!(v(b"\0\0\0\0").text().as_deref(), Some(""));
        assert_eq!(v(&[0x00, 0x1b, 0x54, 0xaa, 0x00, 0x01]).text(), None);
        assert_eq!(
            v(&[0x00, 0x1b, 0x54, 0xaa, 0x00, 0x01]).render(),
            "0x001b54aa0001"
        );
        assert_eq!(v(&[0xe9]).render(), "0xe9", "Latin-1 is not guessed");
        assert_eq!(
            Value::ObjectIdentifier(Box::new("1.3.6".parse().unwrap())).render(),
            ".1.3.6"
        );
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(unhex(&hex(&[0, 255, 16])).unwrap(), vec![0, 255, 16]);
        assert!(unhex("abc").is_none());
    }
}
