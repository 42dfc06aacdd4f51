//! Settings, validated once: the seed tool's names (`SNMP_*`, `PARALLEL_JOBS`,
//! `NETBOX_*`, …) read from flags, the environment and the env file, in that
//! precedence, turned into typed values before any command runs. The parsers
//! here are clap value parsers; what they reject is reported naming the
//! setting and its flag.

pub mod credentials;
pub mod env_file;
pub mod paths;
pub mod targets;

use std::time::Duration;

use chrono::TimeDelta;

use crate::snmp::Version;

/// A configuration that cannot be used, naming the setting at fault.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{setting}: {why}")]
    Invalid { setting: String, why: String },
    #[error("{setting} is not set{hint}")]
    Missing { setting: String, hint: String },
    /// Settings that leave nothing to do or contradict each other.
    #[error("{0}")]
    Unusable(String),
}

impl ConfigError {
    pub fn invalid(setting: impl Into<String>, why: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            setting: setting.into(),
            why: why.to_string(),
        }
    }

    pub fn missing(setting: impl Into<String>, hint: &str) -> ConfigError {
        ConfigError::Missing {
            setting: setting.into(),
            hint: if hint.is_empty() {
                String::new()
            } else {
                format!(": {hint}")
            },
        }
    }
}

/// Why one value was refused; the caller names the setting.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ValueError(pub String);

/// A positive number of seconds below a day (`1.5`, `30s`).
pub fn seconds(text: &str) -> Result<Duration, ValueError> {
    let t = text.trim();
    let number = t.strip_suffix('s').unwrap_or(t);
    match number.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v < 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(ValueError(format!(
            "{text:?} is not a positive number of seconds (below 86400)"
        ))),
    }
}

/// Zero or a positive number of seconds (a wait that may be none).
pub fn seconds_or_zero(text: &str) -> Result<Duration, ValueError> {
    match text.trim().trim_end_matches('s').parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => seconds(text),
    }
}

/// A whole number in `range`, as a clap value parser.
pub fn count(
    range: std::ops::RangeInclusive<u32>,
) -> impl Fn(&str) -> Result<u32, ValueError> + Clone + Send + Sync + 'static {
    move |text: &str| match text.trim().parse::<u32>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(ValueError(format!(
            "{text:?} is not a whole number from {} to {}",
            range.start(),
            range.end()
        ))),
    }
}

/// A span of time with a unit: `45s`, `90min`, `12h`, `30d`, `2w`, or `0`.
/// Another bare number or `m` (minutes or months?) is refused rather than
/// guessed.
pub fn span(text: &str) -> Result<TimeDelta, ValueError> {
    let t = text.trim();
    if t == "0" {
        return Ok(TimeDelta::zero());
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number.parse().map_err(|_| {
        ValueError(format!(
            "{text:?} is not a span of time: a whole number and a unit (s, min, h, d, w), e.g. 30d"
        ))
    })?;
    let seconds_per = match unit.trim() {
        "s" => 1,
        "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        "" => {
            return Err(ValueError(format!(
                "{text:?} has no unit: write s, min, h, d or w (e.g. {n}d)"
            )));
        }
        "m" => {
            return Err(ValueError(format!(
                "{text:?} is ambiguous: write {n}min for minutes, or days (30d) for a month"
            )));
        }
        other => {
            return Err(ValueError(format!(
                "{text:?}: unknown unit {other:?} (s, min, h, d, w)"
            )));
        }
    };
    // A hundred years is more than any retention; beyond it is a typo.
    const MAX: i64 = 100 * 366 * 86_400;
    n.checked_mul(seconds_per)
        .filter(|s| *s <= MAX)
        .map(TimeDelta::seconds)
        .ok_or_else(|| ValueError(format!("{text:?} is longer than a hundred years")))
}

/// `true`/`false` as the seed spells them (also 1/0, yes/no).
pub fn flag(text: &str) -> Result<bool, ValueError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ValueError(format!("{text:?} is not true or false"))),
    }
}

/// `SNMP_VERSION`: the versions to try, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionList(pub Vec<Version>);

impl std::str::FromStr for VersionList {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        versions(s).map(VersionList)
    }
}

/// SNMP versions to try, in order (`3,2`).
pub fn versions(text: &str) -> Result<Vec<Version>, ValueError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v = match part.to_ascii_lowercase().as_str() {
            "2" | "2c" | "v2" | "v2c" => Version::V2c,
            "3" | "v3" => Version::V3,
            _ => {
                return Err(ValueError(format!(
                    "{part:?} is not a supported SNMP version (use 2 or 3, e.g. \"3,2\")"
                )));
            }
        };
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err(ValueError("no SNMP version given".into()));
    }
    Ok(out)
}

/// An http:// or https:// URL, without trailing slashes.
pub fn url(text: &str) -> Result<String, ValueError> {
    let t = text.trim();
    if !(t.starts_with("http://") || t.starts_with("https://")) {
        return Err(ValueError(format!(
            "{text:?} is not an http:// or https:// URL"
        )));
    }
    Ok(t.trim_end_matches('/').to_owned())
}

/// A comma-separated list, blanks dropped.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The log level as the seed spells it (DEBUG, INFO, WARNING, ERROR, CRITICAL).
pub fn log_level(text: &str) -> Result<tracing::level_filters::LevelFilter, ValueError> {
    use tracing::level_filters::LevelFilter;
    match text.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Ok(LevelFilter::TRACE),
        "DEBUG" => Ok(LevelFilter::DEBUG),
        "INFO" => Ok(LevelFilter::INFO),
        "WARNING" | "WARN" => Ok(LevelFilter::WARN),
        "ERROR" | "CRITICAL" => Ok(LevelFilter::ERROR),
        "OFF" => Ok(LevelFilter::OFF),
        _ => Err(ValueError(format!(
            "{text:?} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        ))),
    }
}

/// A path made absolute against the working directory: messages and logs
/// then name the file whatever directory a run started in (cron: `$HOME`).
pub fn absolute_path(text: &str) -> Result<std::path::PathBuf, String> {
    if text.is_empty() {
        return Err("an empty path".into());
    }
    std::path::absolute(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_spans() {
        assert_eq!(seconds("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(seconds("30s").unwrap(), Duration::from_secs(30));
        for bad in ["-1", "0", "soon", "inf", "NaN", "1e9"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(span("30d").unwrap(), TimeDelta::days(30));
        assert_eq!(span("90min").unwrap(), TimeDelta::minutes(90));
        assert_eq!(span("2w").unwrap(), TimeDelta::weeks(2));
        assert!(span("1m").unwrap_err().0.contains("ambiguous"));
        assert!(span("60").unwrap_err().0.contains("no unit"));
        assert!(
            span("99999999999999d")
                .unwrap_err()
                .0
                .contains("hundred years")
        );
        assert!(span("99999999999999999999999d").is_err());
        assert!(span("d").is_err());
        assert!(span("5y").is_err());
    }

    #[test]
    fn versions_and_flags() {
        assert_eq!(versions("3, 2,3").unwrap(), [Version::V3, Version::V2c]);
        assert!(versions("2d").unwrap_err().0.contains("\"2d\""));
        assert!(versions(" , ").is_err());
        assert!(flag("FALSE").is_ok_and(|b| !b));
        assert!(flag("maybe").is_err());
        assert_eq!(url("https://nb.example/").unwrap(), "https://nb.example");
        assert!(url("nb.example").is_err());
    }
}
