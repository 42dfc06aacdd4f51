//! Device names as directory names: an injective encoding, so two devices
//! never share a history, that can never leave the store.
//!
//! Letters, digits, `-`, `_` and `.` stay as they are (so most names are
//! their own directory); every other byte of the name's UTF-8 becomes `%XX`,
//! as does a leading dot. Decoding gives the name back exactly. Names whose
//! encoding would not fit a file name are cut and end in a digest of the
//! whole name; reading a snapshot checks the name it records anyway.

use sha2::{Digest, Sha256};

/// File systems allow 255 bytes per name; room is kept for the digest.
const MAX: usize = 240;

fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// The directory name of a device.
pub fn encode(name: &str) -> String {
    if name.is_empty() {
        // The one name with no bytes: a lone `%` is no other name's encoding.
        return "%".into();
    }
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if kept(b) && !(i == 0 && b == b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let mut cut = MAX - hex.len() - 1;
        // Never split a %XX escape.
        while out.as_bytes()[..cut]
            .iter()
            .rev()
            .take(2)
            .any(|&b| b == b'%')
        {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('~');
        out.push_str(&hex);
    }
    out
}

/// The device name a directory stands for; `None` for a directory that no
/// name encodes to (not one of ours, or a cut name, which only its
/// snapshots can tell).
pub fn decode(dir: &str) -> Option<String> {
    if dir == "%" {
        return Some(String::new());
    }
    let bytes = dir.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = dir.get(i + 1..i + 3)?;
                if hex.bytes().any(|b| b.is_ascii_lowercase()) {
                    return None;
                }
                let b = u8::from_str_radix(hex, 16).ok()?;
                // A byte that encoding keeps is never escaped (one spelling per name).
                if kept(b) && !(i == 0 && b == b'.') {
                    return None;
                }
                out.push(b);
                i += 3;
            }
            b if kept(b) && !(i == 0 && b == b'.') => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `dir` is the directory of `name` (also for cut names).
pub fn is_dir_of(dir: &str, name: &str) -> bool {
    encode(name) == dir
}

/// The directory name versions before 0.2 used: every unsafe character
/// became `_`, so `core sw1` and `core_sw1` shared one directory.
pub fn legacy(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_used_to_collide_stay_apart() {
        assert_eq!(encode("core sw1"), "core%20sw1");
        assert_eq!(encode("core_sw1"), "core_sw1");
        assert_eq!(encode("core/sw1"), "core%2Fsw1");
        assert_eq!(encode("r1.prg"), "r1.prg");
        assert_eq!(encode("100%"), "100%25");
        assert_eq!(encode(".."), "%2E.");
        assert_eq!(encode("../../etc/x"), "%2E.%2F..%2Fetc%2Fx");
        assert_eq!(encode("sw-č"), "sw-%C4%8D");
        assert_eq!(legacy("core sw1"), legacy("core_sw1"));
    }

    #[test]
    fn decoding_inverts_and_rejects_other_spellings() {
        for name in [
            "core sw1", "core_sw1", "", ".", "..", "a/b", "%", "%41", "x y%z", "sw-č", "日本",
        ] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name), "{name:?}");
            let p = std::path::Path::new("/store").join(encode(name));
            assert_eq!(p.parent(), Some(std::path::Path::new("/store")), "{name:?}");
        }
        for foreign in ["%41", "a%2f", "a b", "%2", ".x", "%FF", "a%"] {
            assert_eq!(decode(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn long_names_are_cut_with_a_digest() {
        let long = "日".repeat(200);
        let e = encode(&long);
        assert!(e.len() <= 255, "{}", e.len());
        assert!(is_dir_of(&e, &long));
        assert_ne!(e, encode(&"日".repeat(199)));
        assert_eq!(decode(&e), None);
    }
}
