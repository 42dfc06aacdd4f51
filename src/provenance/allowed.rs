//! OpenSSH's `allowed_signers` file (ssh-keygen(1), ALLOWED SIGNERS):
//! `principals [options] keytype base64-key [comment]` per line, principals
//! a comma-separated list of patterns (`*` and `?` wildcards, `!` negates),
//! options `namespaces="…"`, `valid-after=…`, `valid-before=…`
//! (`YYYYMMDD[HHMM[SS]]`, UTC with `Z`, else local time). `cert-authority`
//! entries are refused: invmon's signers are plain keys.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

#[derive(Debug, thiserror::Error)]
pub enum AllowedError {
    #[error("allowed signers {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("allowed signers {path}:{line}: {why}")]
    Line {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

/// One allowed_signers line.
#[derive(Clone, Debug)]
pub struct Entry {
    principals: Vec<String>,
    namespaces: Option<Vec<String>>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
    pub key: ssh_key::PublicKey,
}

/// OpenSSH's pattern match: `*` any run, `?` one character.
fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A pattern list: any positive match and no negated one.
fn list_matches(patterns: &[String], text: &str) -> bool {
    let mut hit = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if matches(neg, text) => return false,
            Some(_) => {}
            None => hit |= matches(p, text),
        }
    }
    hit
}

impl Entry {
    pub fn allows(&self, principal: &str, namespace: &str) -> bool {
        list_matches(&self.principals, principal)
            && self
                .namespaces
                .as_ref()
                .is_none_or(|ns| list_matches(ns, namespace))
    }

    /// `Err` says which bound excludes `now`.
    pub fn valid_at(&self, now: DateTime<Utc>) -> Result<(), String> {
        if let Some(after) = self.valid_after
            && now < after
        {
            return Err(format!(
                "is valid only after {}",
                after.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
        if let Some(before) = self.valid_before
            && now >= before
        {
            return Err(format!(
                "expired at {}",
                before.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
        Ok(())
    }
}

/// `YYYYMMDD[HHMM[SS]][Z]`: UTC with `Z`, else local time, as OpenSSH reads it.
fn time(text: &str) -> Option<DateTime<Utc>> {
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (text, false),
    };
    let naive = match digits.len() {
        8 => NaiveDate::parse_from_str(digits, "%Y%m%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?,
        12 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M").ok()?,
        14 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok()?,
        _ => return None,
    };
    if utc {
        Some(naive.and_utc())
    } else {
        chrono::Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Splits off the first field, honouring double quotes.
fn field(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&text[..i], &text[i..]),
            _ => {}
        }
    }
    (text, "")
}

fn parse_line(line: &str) -> Result<Option<Entry>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (principals, rest) = field(line);
    let principals: Vec<String> = principals
        .trim_matches('"')
        .split(',')
        .map(str::to_owned)
        .collect();
    let (second, after) = field(rest);
    // The options field is present when the next one is not a key type.
    let (options, key_text) = if second.starts_with("ssh-")
        || second.starts_with("ecdsa-")
        || second.starts_with("sk-")
    {
        ("", rest.trim())
    } else {
        (second, after.trim())
    };
    let mut entry_options = (None, None, None);
    for option in split_options(options) {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        let value = value.trim_matches('"');
        match name.to_ascii_lowercase().as_str() {
            "namespaces" => entry_options.0 = Some(value.split(',').map(str::to_owned).collect()),
            "valid-after" => {
                entry_options.1 = Some(
                    time(value).ok_or_else(|| format!("valid-after {value:?} is not a time"))?,
                )
            }
            "valid-before" => {
                entry_options.2 = Some(
                    time(value).ok_or_else(|| format!("valid-before {value:?} is not a time"))?,
                )
            }
            "cert-authority" => {
                return Err(
                    "cert-authority entries are not supported: list the collectors' keys".into(),
                );
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let key = ssh_key::PublicKey::from_openssh(key_text)
        .map_err(|e| format!("not a public key ({e})"))?;
    Ok(Some(Entry {
        principals,
        namespaces: entry_options.0,
        valid_after: entry_options.1,
        valid_before: entry_options.2,
        key,
    }))
}

/// Comma-separated options; commas inside quotes belong to the value.
fn split_options(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out.into_iter().filter(|o| !o.is_empty()).collect()
}

pub fn read(path: &Path) -> Result<Vec<Entry>, AllowedError> {
    let text = std::fs::read_to_string(path).map_err(|cause| AllowedError::Read {
        path: path.to_owned(),
        cause,
    })?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<Vec<Entry>, AllowedError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(why) => {
                return Err(AllowedError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                    why,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN0+CSQKi7YsQwuyZXUNptFafBiMUsmpHhnHDWzO4jj8";

    #[test]
    fn patterns_and_options() {
        assert!(matches("east-*", "east-01"));
        assert!(matches("e?st", "east"));
        assert!(!matches("east", "east-01"));
        let text = format!(
            "# collectors\neast-*,!east-old {KEY} east\nwest namespaces=\"invmon-snapshot,invmon-bundle\",valid-after=20260101,valid-before=\"20260601Z\" {KEY}\n"
        );
        let entries = parse(&text, Path::new("a")).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[0].allows("east-01", "anything"));
        assert!(!entries[0].allows("east-old", "x"));
        assert!(entries[1].allows("west", "invmon-bundle"));
        assert!(!entries[1].allows("west", "git"));
        let june = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert!(
            entries[1]
                .valid_at(june)
                .unwrap_err()
                .starts_with("expired at 2026-06-01")
        );
        assert!(parse(&format!("x cert-authority {KEY}"), Path::new("a")).is_err());
        let e = parse("x bogus=1 ssh-ed25519 AAAA", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("allowed signers f:1: unknown option"), "{e}");
    }
}
