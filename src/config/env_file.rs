//! The env file (`.env` or `--env-file`): loaded into the environment
//! (variables already set win), and checked for names no setting has, so a
//! typo (`SNMP_COMUNITY=`) is pointed out instead of silently ignored.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("env file {path}: {why}")]
pub struct EnvFileError {
    pub path: PathBuf,
    pub why: String,
}

/// A variable the file sets, with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub line: usize,
}

/// Loads `path` into the environment. A missing default `.env` is no error
/// (`required` is false then); returns the names the file assigns.
pub fn load(path: &Path, required: bool) -> Result<Vec<Assignment>, EnvFileError> {
    let err = |why: String| EnvFileError {
        path: path.to_owned(),
        why,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(Vec::new()),
        Err(e) => return Err(err(e.to_string())),
    };
    dotenvy::from_path(path).map_err(|e| err(e.to_string()))?;
    Ok(assignments(&text))
}

/// `NAME=` lines (also `export NAME=`), ignoring comments.
fn assignments(text: &str) -> Vec<Assignment> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, _) = line.split_once('=')?;
            let name = name.trim();
            let ok = !name.is_empty()
                && !name.starts_with('#')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            ok.then(|| Assignment {
                name: name.to_owned(),
                line: i + 1,
            })
        })
        .collect()
}

/// The closest known name, when one is close enough to be a typo.
pub fn suggestion<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| {
            (
                distance(&name.to_ascii_uppercase(), &k.to_ascii_uppercase()),
                k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 8))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_and_typos() {
        let a = assignments("# c\nSNMP_COMUNITY=x\n  export LOG_LEVEL=INFO\n\n#X=1\nbad line\n");
        assert_eq!(
            a,
            [
                Assignment {
                    name: "SNMP_COMUNITY".into(),
                    line: 2
                },
                Assignment {
                    name: "LOG_LEVEL".into(),
                    line: 3
                }
            ]
        );
        let known = ["SNMP_COMMUNITY", "SNMP_USER", "LOG_LEVEL"];
        assert_eq!(suggestion("SNMP_COMUNITY", known), Some("SNMP_COMMUNITY"));
        assert_eq!(suggestion("FOO", known), None);
    }
}
