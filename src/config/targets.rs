//! The device list: CSV or JSON, one target per row.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One device to collect from, as the targets file describes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// IPv4, IPv6 or DNS name, optionally with `:port` (`[v6]:port` for IPv6).
    pub address: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub netbox_id: Option<u64>,
    /// Name of a credential set (`SNMP_COMMUNITY__<SET>`, …); global settings when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// A row that could not be used, with where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error("cannot read targets file {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("targets file {path}: {why}")]
    Format { path: String, why: String },
}

/// Why an address field cannot be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct AddressError(String);

/// Host and port of an address field; the port defaults to 161.
pub fn split_address(address: &str) -> Result<(String, u16), AddressError> {
    let a = address.trim();
    let bad = |why: String| AddressError(why);
    if a.is_empty() {
        return Err(bad("address is empty".into()));
    }
    let bad_port = |p: &str| bad(format!("invalid port {p:?} in address {a:?}"));
    if let Some(rest) = a.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| bad(format!("unclosed '[' in address {a:?}")))?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad(format!("{host:?} is not an IPv6 address")))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad_port(p))?,
            None if tail.is_empty() => 161,
            None => {
                return Err(bad(format!(
                    "unexpected {tail:?} after ']' in address {a:?}"
                )));
            }
        };
        return Ok((host.to_owned(), port));
    }
    if a.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((a.to_owned(), 161));
    }
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad_port(p))?),
        None => (a, 161),
    };
    if host.parse::<std::net::Ipv4Addr>().is_err() && !valid_dns_name(host) {
        return Err(bad(format!(
            "{host:?} is neither an IP address nor a DNS name"
        )));
    }
    if port == 0 {
        return Err(bad_port("0"));
    }
    Ok((host.to_owned(), port))
}

fn valid_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
        })
}

fn check(target: &Target) -> Result<(), String> {
    if target.name.trim().is_empty() {
        return Err("name is empty".into());
    }
    split_address(&target.address)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Loads targets; unusable rows come back as errors beside the good ones.
pub fn load(path: &Path) -> Result<(Vec<Target>, Vec<RowError>), TargetsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| TargetsError::Read {
        path: file.clone(),
        cause,
    })?;
    parse(&text, &file)
}

/// Parses a targets file's text; `file` only names it in errors.
pub fn parse(text: &str, file: &str) -> Result<(Vec<Target>, Vec<RowError>), TargetsError> {
    let text = text.to_owned();
    let file = file.to_owned();
    let rows = if text.trim_start().starts_with('[') {
        json_rows(&text, &file)?
    } else {
        csv_rows(&text, &file)?
    };
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (line, row) in rows {
        let row = row.and_then(|t| check(&t).map(|()| t));
        match row {
            Ok(t) if !seen.insert(t.name.clone()) => errors.push(RowError {
                file: file.clone(),
                line,
                message: format!("duplicate device name {:?}", t.name),
            }),
            Ok(t) => targets.push(t),
            Err(message) => errors.push(RowError {
                file: file.clone(),
                line,
                message,
            }),
        }
    }
    Ok((targets, errors))
}

type Rows = Vec<(usize, Result<Target, String>)>;

fn csv_rows(text: &str, file: &str) -> Result<Rows, TargetsError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| TargetsError::Format {
            path: file.into(),
            why: e.to_string(),
        })?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect::<Vec<_>>();
    for required in ["name", "address"] {
        if !headers.iter().any(|h| h == required) {
            return Err(TargetsError::Format {
                path: file.into(),
                why: format!(
                    "header has no {required:?} column (expected name,address,platform,site,location,netbox_id)"
                ),
            });
        }
    }
    let col = |rec: &csv::StringRecord, name: &str| -> String {
        headers
            .iter()
            .position(|h| h == name)
            .and_then(|i| rec.get(i))
            .unwrap_or("")
            .to_owned()
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                rows.push((line, Err(e.to_string())));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let netbox_id = col(&record, "netbox_id");
        let target = match netbox_id.parse::<u64>() {
            Ok(id) => Ok(Some(id)),
            Err(_) if netbox_id.is_empty() => Ok(None),
            Err(_) => Err(format!("netbox_id {netbox_id:?} is not a number")),
        }
        .map(|netbox_id| Target {
            name: col(&record, "name"),
            address: col(&record, "address"),
            platform: col(&record, "platform"),
            site: col(&record, "site"),
            location: col(&record, "location"),
            netbox_id,
            credentials: Some(col(&record, "credentials")).filter(|c| !c.is_empty()),
        });
        rows.push((line, target));
    }
    Ok(rows)
}

fn json_rows(text: &str, file: &str) -> Result<Rows, TargetsError> {
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| TargetsError::Format {
            path: file.into(),
            why: e.to_string(),
        })?;
    let lines = element_lines(text);
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let line = lines.get(i).copied().unwrap_or(0);
            (
                line,
                serde_json::from_value::<Target>(v).map_err(|e| e.to_string()),
            )
        })
        .collect())
}

/// Line numbers where each element of a top-level JSON array starts.
fn element_lines(text: &str) -> Vec<usize> {
    let (mut depth, mut line, mut in_string, mut escaped) = (0usize, 1usize, false, false);
    let mut starts = Vec::new();
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                if depth == 1 {
                    starts.push(line);
                }
                depth += 1;
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            split_address("192.0.2.1").unwrap(),
            ("192.0.2.1".into(), 161)
        );
        assert_eq!(
            split_address("192.0.2.1:1161").unwrap(),
            ("192.0.2.1".into(), 1161)
        );
        assert_eq!(
            split_address("2001:db8::1").unwrap(),
            ("2001:db8::1".into(), 161)
        );
        assert_eq!(
            split_address("[2001:db8::1]:1161").unwrap(),
            ("2001:db8::1".into(), 1161)
        );
        assert_eq!(
            split_address("r1.example.net:162").unwrap(),
            ("r1.example.net".into(), 162)
        );
        assert!(split_address("r1 example").is_err());
        assert!(split_address("192.0.2.1:x").is_err());
        assert!(split_address("").is_err());
    }

    #[test]
    fn csv_with_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(
            &p,
            "name,address,platform,site,location,netbox_id,extra,credentials\n\
             r1,192.0.2.1,junos,PRG,R1,7,x,east\n\
             r2,not an address,,,,,,\n\
             r1,192.0.2.2,,,,,,\n\
             r3,[2001:db8::3]:1161,,,,x,,\n",
        )
        .unwrap();
        let (targets, errors) = load(&p).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].netbox_id, Some(7));
        assert_eq!(targets[0].credentials.as_deref(), Some("east"));
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(errors[1].to_string().contains("duplicate device name"));
        assert!(
            errors[0]
                .to_string()
                .starts_with(&format!("{}:3: ", p.display()))
        );
    }

    #[test]
    fn json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        std::fs::write(
            &p,
            "[\n  {\"name\": \"a\", \"address\": \"10.0.0.1\"},\n  {\"name\": \"b\"}\n]\n",
        )
        .unwrap();
        let (targets, errors) = load(&p).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(errors[0].line, 3);
        assert!(errors[0].message.contains("address"));
    }
}
