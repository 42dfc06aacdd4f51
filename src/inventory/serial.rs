//! Serial number hygiene: cleaning what devices send, and judging whether a
//! serial can identify a part.

use std::collections::HashMap;

use super::Item;

/// Normalises a serial as read from a device: NUL padding is already gone
/// (see `Value::text`); strips whitespace, wrapping quotes, line breaks and
/// the `S/N ` prefix old Junos puts in front.
pub fn clean(raw: &str) -> String {
    let mut s = raw.trim();
    loop {
        let unquoted = s
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .or_else(|| s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
        match unquoted {
            Some(inner) => s = inner.trim(),
            None => break,
        }
    }
    let s = s.trim_matches(|c: char| c == '"' || c.is_whitespace());
    let s = strip_sn_prefix(s);
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned()
}

fn strip_sn_prefix(s: &str) -> &str {
    for prefix in ["S/N ", "S/N:", "SN:"] {
        if let Some(head) = s.get(..prefix.len())
            && head.eq_ignore_ascii_case(prefix)
        {
            let rest = s[prefix.len()..].trim_start();
            if rest.len() >= 4 {
                return rest;
            }
        }
    }
    s
}

/// The seed tool's acceptance rule: at least 4 characters after trimming,
/// and not `BUILTIN` in any case.
pub fn seed_accepts(serial: &str) -> bool {
    let s = serial.trim();
    s.chars().count() >= 4 && !s.eq_ignore_ascii_case("BUILTIN")
}

/// Why a serial that passes or fails the seed rule cannot identify a part,
/// or `None` when it looks like a real serial.
pub fn problem(serial: &str) -> Option<String> {
    let s = serial.trim();
    if s.is_empty() {
        return Some("no serial".into());
    }
    if s.starts_with("0x") && s.len() > 2 && s[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some("serial is binary, not text (shown as hex)".into());
    }
    if s.eq_ignore_ascii_case("BUILTIN") {
        return Some("BUILTIN placeholder".into());
    }
    if s.chars().count() < 4 {
        return Some("shorter than 4 characters".into());
    }
    let upper = s.to_ascii_uppercase();
    const PLACEHOLDERS: [&str; 16] = [
        "N/A",
        "NA",
        "NONE",
        "NULL",
        "UNKNOWN",
        "NOT AVAILABLE",
        "NOT SPECIFIED",
        "DEFAULT STRING",
        "TO BE FILLED BY O.E.M.",
        "SERIALNUMBER",
        "SERIAL NUMBER",
        "0123456789",
        "123456789",
        "1234567890",
        "SN",
        "XXXXXXXXXX",
    ];
    if PLACEHOLDERS.contains(&upper.as_str()) {
        return Some(format!("known placeholder serial {s:?}"));
    }
    let mut chars = upper.chars().filter(|c| !matches!(c, '-' | ' ' | '.'));
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Some(format!("placeholder serial {s:?} (one repeated character)"));
    }
    None
}

/// Sets `serial_issue` on every item: placeholders and short serials by
/// rule, and every repeat of a serial already seen on an earlier item
/// (the earliest row, usually the outer part, keeps the identity).
pub fn flag_issues(items: &mut [Item]) {
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for i in 0..items.len() {
        if let Some(why) = problem(&items[i].serial) {
            items[i].serial_issue = Some(why);
            continue;
        }
        let key = items[i].serial.to_ascii_uppercase();
        match first_seen.get(&key) {
            Some(&j) => {
                let owner = &items[j];
                items[i].serial_issue = Some(format!(
                    "duplicate serial: also on {} ({})",
                    owner.index,
                    display_name(owner)
                ));
            }
            None => {
                first_seen.insert(key, i);
            }
        }
    }
}

fn display_name(item: &Item) -> &str {
    if item.name.is_empty() {
        &item.description
    } else {
        &item.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("\"FDO25310ZXV\n\""), "FDO25310ZXV");
        assert_eq!(clean("\"FDO25310ZXV\n"), "FDO25310ZXV");
        assert_eq!(clean("S/N ACAB6788"), "ACAB6788");
        assert_eq!(clean("  HA16260330677   "), "HA16260330677");
        assert_eq!(clean("S/N"), "S/N");
        assert_eq!(clean("SNOWBALL"), "SNOWBALL");
        assert_eq!(clean("S/NABC1234"), "S/NABC1234");
        assert_eq!(clean("SN: FOX1234"), "FOX1234");
    }

    #[test]
    fn problems() {
        assert_eq!(problem("FOC1234X0AB"), None);
        assert!(problem("builtin").unwrap().contains("BUILTIN"));
        assert!(problem("abc").unwrap().contains("shorter"));
        assert!(problem("0000000000").unwrap().contains("placeholder"));
        assert!(problem("N/A").is_some());
        assert!(problem("0x00ff10").unwrap().contains("binary"));
        assert!(seed_accepts("ABCD") && !seed_accepts("ABC") && !seed_accepts(" builtin "));
    }

    #[test]
    fn duplicates_keep_the_first() {
        let item = |index: &str, serial: &str| Item {
            index: index.into(),
            serial: serial.into(),
            ..Item::default()
        };
        let mut items = vec![
            item("1", "ACAD8300"),
            item("2", "ACAD8300"),
            item("3", "QCS1614N076"),
        ];
        flag_issues(&mut items);
        assert_eq!(items[0].serial_issue, None);
        assert!(
            items[1]
                .serial_issue
                .as_deref()
                .unwrap()
                .contains("also on 1")
        );
        assert_eq!(items[2].serial_issue, None);
    }
}
