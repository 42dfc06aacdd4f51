//! Object identifiers as plain arc vectors.
//!
//! asn1-rs (re-exported by snmp2) renders `0.0` as `0`, mangles `2.999`, and has
//! no `Ord`; a vector of arcs compares in SNMP lexicographic order for free.
//! The arcs are kept inline up to [`INLINE`]: nearly every OID of an
//! inventory walk fits, so decoding an answer's varbinds allocates nothing
//! for their names (it was the largest single source of allocations).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

/// Arcs kept without a heap allocation: ENTITY-MIB cells have 13, Juniper's
/// and Nokia's hardware tables 15 to 17.
pub const INLINE: usize = 16;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(SmallVec<[u32; INLINE]>);

#[derive(Debug, thiserror::Error)]
#[error("invalid OID {}: {why}", crate::text::quoted(.text))]
pub struct OidParseError {
    text: String,
    why: &'static str,
}

impl Oid {
    pub fn from_arcs(arcs: impl Into<Vec<u32>>) -> Self {
        Self(SmallVec::from_vec(arcs.into()))
    }

    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The arcs after `prefix`, if `self` lies inside that subtree.
    pub fn suffix(&self, prefix: &Oid) -> Option<&[u32]> {
        self.0.strip_prefix(prefix.0.as_slice())
    }

    pub fn child(&self, arcs: &[u32]) -> Oid {
        let mut v = self.0.clone();
        v.extend_from_slice(arcs);
        Oid(v)
    }

    /// Decodes BER object-identifier content octets (without tag and length).
    pub fn from_ber(bytes: &[u8]) -> Option<Oid> {
        // There is at most one arc more than octets: an answer's names nearly
        // always fit inline, and are decoded into place without a push each.
        if bytes.len() < INLINE {
            let mut arcs = [0; INLINE];
            let n = decode_arcs(bytes, &mut arcs)?;
            return Some(Oid(SmallVec::from_buf_and_len(arcs, n)));
        }
        let mut arcs = vec![0; bytes.len() + 1];
        let n = decode_arcs(bytes, &mut arcs)?;
        arcs.truncate(n);
        Some(Oid(SmallVec::from_vec(arcs)))
    }

    /// Encodes as BER content octets; `None` for OIDs BER cannot express.
    pub fn to_ber(&self) -> Option<Vec<u8>> {
        let a = &self.0;
        if a.len() < 2 || a[0] > 2 || (a[0] < 2 && a[1] >= 40) {
            return None;
        }
        let mut out = Vec::with_capacity(a.len() + 4);
        push_base128(&mut out, u64::from(a[0]) * 40 + u64::from(a[1]));
        for &arc in &a[2..] {
            push_base128(&mut out, u64::from(arc));
        }
        Some(out)
    }
}

/// Decodes BER content octets into `out`, at least one longer than `bytes`;
/// returns the number of arcs.
fn decode_arcs(bytes: &[u8], out: &mut [u32]) -> Option<usize> {
    let mut n = 0;
    let mut acc: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if acc > u64::from(u32::MAX) + 80 {
            return None;
        }
        if b & 0x80 == 0 {
            if n == 0 {
                let (first, second) = match acc {
                    0..40 => (0, acc),
                    40..80 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                out[0] = first;
                out[1] = u32::try_from(second).ok()?;
                n = 2;
            } else {
                out[n] = u32::try_from(acc).ok()?;
                n += 1;
            }
            acc = 0;
        } else if i + 1 == bytes.len() {
            return None; // truncated arc
        }
    }
    Some(n)
}

fn push_base128(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 10];
    let mut n = 0;
    loop {
        tmp[n] = (v & 0x7f) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(tmp[i] | if i > 0 { 0x80 } else { 0 });
    }
}

impl FromStr for Oid {
    type Err = OidParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| OidParseError {
            text: s.to_owned(),
            why,
        };
        let body = s.trim().strip_prefix('.').unwrap_or(s.trim());
        if body.is_empty() {
            return Err(err("empty"));
        }
        body.split('.')
            .map(|arc| {
                arc.parse::<u32>()
                    .map_err(|_| err("arcs must be numbers below 2^32"))
            })
            .collect::<Result<SmallVec<_>, _>>()
            .map(Oid)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

impl Serialize for Oid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Oid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `oid!("1.3.6.1")`-style constant helper for tables of well-known OIDs.
pub fn oid(text: &str) -> Oid {
    text.parse().expect("well-known OID literal")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_round_trip_and_edge_cases() {
        for text in [
            "1.3.6.1.2.1.47.1.1.1.1.2.1001",
            "0.0",
            "2.999.3",
            "1.3.6.1.4.1.6527.4294967295",
            // Longer than INLINE: decoded on the heap.
            "1.3.6.1.4.1.2636.3.1.8.1.5.9.1.1.0.1.2.3.4.5.6.7.8",
            "1.3.6.1.4.1.2636.3.1.8.1.5.9.1.1.4294967295",
        ] {
            let o: Oid = text.parse().unwrap();
            assert_eq!(Oid::from_ber(&o.to_ber().unwrap()).unwrap(), o, "{text}");
            assert_eq!(o.to_string(), text);
        }
        assert_eq!(Oid::from_ber(&[0x00]).unwrap().to_string(), "0.0");
        assert!(Oid::from_ber(&[0x2b, 0x86]).is_none(), "truncated arc");
    }

    #[test]
    fn ordering_is_snmp_order() {
        let a: Oid = "1.3.6.1.2.1.1.9".parse().unwrap();
        let b: Oid = "1.3.6.1.2.1.1.10".parse().unwrap();
        let c: Oid = "1.3.6.1.2.1.1.10.1".parse().unwrap();
        assert!(a < b && b < c);
        assert!(".1.3.6".parse::<Oid>().is_ok());
        assert!("1.x".parse::<Oid>().is_err());
    }
}
