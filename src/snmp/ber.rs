//! A minimal BER writer and reader: what the replay agent's answers and the
//! SNMPv3 diagnosis probes need, nothing more.

use crate::walk::{Oid, Value};

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OBJECT_IDENTIFIER: u8 = 0x06;
pub const NO_SUCH_OBJECT: u8 = 0x80;
pub const NO_SUCH_INSTANCE: u8 = 0x81;
pub const END_OF_MIB_VIEW: u8 = 0x82;
pub const GET_RESPONSE: u8 = 0xa2;

/// Appends one TLV with definite length.
pub fn push(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else if n < 0x1_0000 {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    } else {
        out.extend([0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
}

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 4);
    push(&mut out, tag, content);
    out
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A signed INTEGER (two's complement, minimal length).
pub fn int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(INTEGER, &bytes[start..])
}

/// An unsigned application type (Counter32, Gauge32, TimeTicks, Counter64).
pub fn unsigned(tag: u8, v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let start = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    let mut content = Vec::with_capacity(9);
    if bytes[start] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&bytes[start..]);
    tlv(tag, &content)
}

pub fn oid(o: &Oid) -> Vec<u8> {
    tlv(OBJECT_IDENTIFIER, &o.to_ber().unwrap_or_default())
}

pub fn value(v: &Value) -> Vec<u8> {
    match v {
        Value::Integer(i) => int(*i),
        Value::OctetString(b) => tlv(OCTET_STRING, b),
        Value::ObjectIdentifier(o) => oid(o),
        Value::IpAddress(a) => tlv(0x40, a),
        Value::Counter32(n) => unsigned(0x41, u64::from(*n)),
        Value::Gauge32(n) => unsigned(0x42, u64::from(*n)),
        Value::TimeTicks(n) => unsigned(0x43, u64::from(*n)),
        Value::Opaque(b) => tlv(0x44, b),
        Value::Counter64(n) => unsigned(0x46, *n),
        Value::Null => tlv(NULL, &[]),
    }
}

/// Reads one TLV: (tag, content, rest).
pub fn read(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return None;
        }
        let (len_bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
        (
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            rest,
        )
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// The version field of an SNMP message (0 = v1, 1 = v2c, 3 = v3).
pub fn message_version(msg: &[u8]) -> Option<i64> {
    let (tag, body, _) = read(msg)?;
    let (itag, v, _) = read(body)?;
    (tag == SEQUENCE && itag == INTEGER && !v.is_empty() && v.len() <= 8).then(|| {
        v.iter()
            .fold(if v[0] & 0x80 != 0 { -1i64 } else { 0 }, |acc, &b| {
                (acc << 8) | i64::from(b)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_lengths() {
        assert_eq!(int(0), [2, 1, 0]);
        assert_eq!(int(127), [2, 1, 0x7f]);
        assert_eq!(int(128), [2, 2, 0, 0x80]);
        assert_eq!(int(-1), [2, 1, 0xff]);
        assert_eq!(int(-129), [2, 2, 0xff, 0x7f]);
        assert_eq!(unsigned(0x41, 0x8000_0000), [0x41, 5, 0, 0x80, 0, 0, 0]);
        assert_eq!(unsigned(0x46, 0), [0x46, 1, 0]);
        let long = tlv(4, &[7u8; 300]);
        let (tag, content, rest) = read(&long).unwrap();
        assert_eq!((tag, content.len(), rest.len()), (4, 300, 0));
    }

    #[test]
    fn versions() {
        let v2c = seq(&[int(1), tlv(OCTET_STRING, b"public")]);
        assert_eq!(message_version(&v2c), Some(1));
        assert_eq!(message_version(&seq(&[int(3)])), Some(3));
        assert_eq!(message_version(b"\x04\x00"), None);
    }
}
