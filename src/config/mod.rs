//! Validated settings: the seed tool's names (`SNMP_*`, `PARALLEL_JOBS`, …)
//! read from flags, the environment and the env file, in that precedence,
//! plus named credential sets for networks with per-region SNMP secrets.

pub mod targets;

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;

use crate::snmp::usm::{self, AuthProtocol, KeyExtension, SecurityLevel, V3Params};
use crate::snmp::{Credentials, Version};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// SNMP credential settings as they arrived, before validation. Field names
/// follow the environment variables (`SNMP_<FIELD>`).
#[derive(Clone, Debug, Default)]
pub struct RawCredentials {
    pub version: Option<String>,
    pub community: Option<String>,
    pub user: Option<String>,
    pub auth: Option<String>,
    pub auth_method: Option<String>,
    pub privacy: Option<String>,
    pub privacy_method: Option<String>,
    pub key_extension: Option<String>,
    pub security: Option<String>,
    pub context: Option<String>,
}

/// (environment suffix, flag) per field, in declaration order.
const FIELDS: [(&str, &str); 10] = [
    ("VERSION", "--snmp-version"),
    ("COMMUNITY", "--snmp-community"),
    ("USER", "--snmp-user"),
    ("AUTH", "--snmp-auth"),
    ("AUTH_METHOD", "--snmp-auth-method"),
    ("PRIVACY", "--snmp-privacy"),
    ("PRIVACY_METHOD", "--snmp-privacy-method"),
    ("PRIVACY_KEY_EXTENSION", "--snmp-privacy-key-extension"),
    ("SECURITY", "--snmp-security"),
    ("CONTEXT", "--snmp-context"),
];

impl RawCredentials {
    fn slot(&mut self, field: &str) -> &mut Option<String> {
        match field {
            "VERSION" => &mut self.version,
            "COMMUNITY" => &mut self.community,
            "USER" => &mut self.user,
            "AUTH" => &mut self.auth,
            "AUTH_METHOD" => &mut self.auth_method,
            "PRIVACY" => &mut self.privacy,
            "PRIVACY_METHOD" => &mut self.privacy_method,
            "PRIVACY_KEY_EXTENSION" => &mut self.key_extension,
            "SECURITY" => &mut self.security,
            "CONTEXT" => &mut self.context,
            _ => unreachable!("unknown credential field {field}"),
        }
    }

    /// Credential sets from variables named `SNMP_<FIELD>__<SET>`. Set names
    /// are case-insensitive; a set inherits every field it does not name.
    pub fn sets_from_env(
        &self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> BTreeMap<String, RawCredentials> {
        let mut sets: BTreeMap<String, RawCredentials> = BTreeMap::new();
        for (key, value) in vars {
            let Some(rest) = key.strip_prefix("SNMP_") else {
                continue;
            };
            let Some((field, set)) = rest.split_once("__") else {
                continue;
            };
            if set.is_empty() || !FIELDS.iter().any(|(f, _)| *f == field) {
                continue;
            }
            let entry = sets
                .entry(set.to_ascii_uppercase())
                .or_insert_with(|| self.clone());
            *entry.slot(field) = Some(value);
        }
        sets
    }
}

/// The credentials to try for a device, in the configured version order.
#[derive(Clone, Debug)]
pub struct Profile {
    pub attempts: Vec<Credentials>,
}

/// Where a setting comes from, for messages: `SNMP_USER (--snmp-user)` or `SNMP_USER__EAST`.
fn setting_name(field: &str, set: Option<&str>) -> String {
    match set {
        Some(set) => format!("SNMP_{field}__{set}"),
        None => {
            let flag = FIELDS
                .iter()
                .find(|(f, _)| *f == field)
                .map_or("", |(_, flag)| flag);
            format!("SNMP_{field} ({flag})")
        }
    }
}

impl Profile {
    /// Validates one credential set (`set` is `None` for the global settings).
    /// Versions without credentials are skipped with a warning; no usable
    /// version at all is an error.
    pub fn build(
        raw: &RawCredentials,
        set: Option<&str>,
        warnings: &mut Vec<String>,
    ) -> Result<Profile, ConfigError> {
        let name = |field: &str| setting_name(field, set);
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let versions = parse_versions(raw.version.as_deref().unwrap_or("3,2"))
            .map_err(|why| ConfigError(format!("{}: {why}", name("VERSION"))))?;
        let mut attempts = Vec::new();
        for version in versions {
            match version {
                Version::V2c => match present(&raw.community) {
                    Some(c) => attempts.push(Credentials::V2c {
                        community: SecretString::from(c),
                        label: setting_name("COMMUNITY", set)
                            .split(' ')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    }),
                    None => warnings.push(format!(
                        "{} lists 2 but {} is not set: skipping SNMPv2c",
                        name("VERSION"),
                        name("COMMUNITY")
                    )),
                },
                Version::V3 => match present(&raw.user) {
                    Some(user) => attempts.push(Credentials::V3(v3_params(raw, user, set)?)),
                    None => warnings.push(format!(
                        "{} lists 3 but {} is not set: skipping SNMPv3",
                        name("VERSION"),
                        name("USER")
                    )),
                },
            }
        }
        if attempts.is_empty() {
            return Err(ConfigError(format!(
                "no usable SNMP credentials{}: set {} for v2c or {} for v3",
                set.map(|s| format!(" in credential set {s}"))
                    .unwrap_or_default(),
                name("COMMUNITY"),
                name("USER")
            )));
        }
        Ok(Profile { attempts })
    }
}

fn parse_versions(text: &str) -> Result<Vec<Version>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v = match part.to_ascii_lowercase().as_str() {
            "2" | "2c" | "v2" | "v2c" => Version::V2c,
            "3" | "v3" => Version::V3,
            _ => {
                return Err(format!(
                    "{part:?} is not a supported SNMP version (use 2 or 3, e.g. \"3,2\")"
                ));
            }
        };
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err("no SNMP version given".into());
    }
    Ok(out)
}

fn v3_params(
    raw: &RawCredentials,
    user: String,
    set: Option<&str>,
) -> Result<V3Params, ConfigError> {
    let name = |field: &str| setting_name(field, set);
    let present = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let auth = present(&raw.auth);
    let privacy = present(&raw.privacy);
    // Without SNMP_SECURITY, the passwords given decide the level.
    let level = match raw.security.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => s
            .parse::<SecurityLevel>()
            .map_err(|e| ConfigError(format!("{}: {e}", name("SECURITY"))))?,
        None if privacy.is_some() => SecurityLevel::AuthPriv,
        None if auth.is_some() => SecurityLevel::AuthNoPriv,
        None => SecurityLevel::NoAuthNoPriv,
    };
    if level != SecurityLevel::NoAuthNoPriv && auth.is_none() {
        return Err(ConfigError(format!(
            "{} is {level} but {} is not set",
            name("SECURITY"),
            name("AUTH")
        )));
    }
    if level == SecurityLevel::AuthPriv && privacy.is_none() {
        return Err(ConfigError(format!(
            "{} is {level} but {} is not set",
            name("SECURITY"),
            name("PRIVACY")
        )));
    }
    let auth_protocol = raw
        .auth_method
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map_or(Ok(AuthProtocol::Sha1), str::parse)
        .map_err(|e: usm::UsmParseError| ConfigError(format!("{}: {e}", name("AUTH_METHOD"))))?;
    let (priv_protocol, implied_extension) = usm::parse_privacy(
        raw.privacy_method
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or("AES"),
    )
    .map_err(|e| ConfigError(format!("{}: {e}", name("PRIVACY_METHOD"))))?;
    let key_extension = match raw
        .key_extension
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        Some(s) => s.parse().map_err(|e: usm::UsmParseError| {
            ConfigError(format!("{}: {e}", name("PRIVACY_KEY_EXTENSION")))
        })?,
        None => implied_extension.unwrap_or(KeyExtension::Blumenthal),
    };
    Ok(V3Params {
        user,
        level,
        auth_protocol,
        auth_password: SecretString::from(auth.unwrap_or_default()),
        priv_protocol,
        priv_password: SecretString::from(privacy.unwrap_or_default()),
        key_extension,
        context: raw.context.clone().unwrap_or_default(),
    })
}

/// All SNMP settings of a run.
#[derive(Clone, Debug)]
pub struct SnmpConfig {
    pub global: Option<Profile>,
    pub sets: BTreeMap<String, Profile>,
    pub timeout: Duration,
    pub retries: u32,
    pub max_repetitions: u32,
    pub warnings: Vec<String>,
}

impl SnmpConfig {
    /// The credentials for a target's `credentials` column (global when empty).
    pub fn profile(&self, set: Option<&str>) -> Result<&Profile, String> {
        match set.map(str::trim).filter(|s| !s.is_empty()) {
            None => self
                .global
                .as_ref()
                .ok_or_else(|| "no global SNMP credentials are configured".to_owned()),
            Some(name) => self.sets.get(&name.to_ascii_uppercase()).ok_or_else(|| {
                format!(
                    "credential set {name:?} is not defined (no SNMP_*__{} settings)",
                    name.to_ascii_uppercase()
                )
            }),
        }
    }
}

/// Parses a positive number of seconds, naming the setting when it is not one.
pub fn parse_seconds(setting: &str, text: &str) -> Result<Duration, ConfigError> {
    let t = text.trim().trim_end_matches('s');
    match t.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v < 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(ConfigError(format!(
            "{setting}: {text:?} is not a positive number of seconds"
        ))),
    }
}

/// Parses a whole number in `range`, naming the setting when it is not one.
pub fn parse_count(
    setting: &str,
    text: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    match text.trim().parse::<u64>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(ConfigError(format!(
            "{setting}: {text:?} is not a whole number from {} to {}",
            range.start(),
            range.end()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn raw() -> RawCredentials {
        RawCredentials {
            community: Some("c0mm".into()),
            user: Some("u".into()),
            auth: Some("authpass1".into()),
            privacy: Some("privpass1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_order() {
        let mut w = Vec::new();
        let p = Profile::build(&raw(), None, &mut w).unwrap();
        assert_eq!(
            p.attempts
                .iter()
                .map(Credentials::version)
                .collect::<Vec<_>>(),
            vec![Version::V3, Version::V2c]
        );
        let Credentials::V3(v3) = &p.attempts[0] else {
            panic!()
        };
        assert_eq!(v3.level, SecurityLevel::AuthPriv);
        assert_eq!(v3.auth_protocol, AuthProtocol::Sha1);
        assert!(w.is_empty());
    }

    #[test]
    fn missing_pieces_are_named() {
        let mut w = Vec::new();
        let r = RawCredentials {
            version: Some("3,2".into()),
            community: Some("c".into()),
            ..Default::default()
        };
        let p = Profile::build(&r, None, &mut w).unwrap();
        assert_eq!(p.attempts.len(), 1);
        assert!(w[0].contains("SNMP_USER (--snmp-user) is not set"), "{w:?}");
        let r = RawCredentials {
            version: Some("4".into()),
            ..raw()
        };
        assert!(
            Profile::build(&r, None, &mut w)
                .unwrap_err()
                .0
                .starts_with("SNMP_VERSION (--snmp-version): \"4\"")
        );
        let r = RawCredentials {
            security: Some("authPriv".into()),
            privacy: None,
            ..raw()
        };
        assert!(
            Profile::build(&r, Some("EAST"), &mut w)
                .unwrap_err()
                .0
                .contains("SNMP_PRIVACY__EAST is not set")
        );
        let r = RawCredentials {
            privacy_method: Some("3DES".into()),
            ..raw()
        };
        let e = Profile::build(&r, None, &mut w).unwrap_err().0;
        assert!(
            e.starts_with(
                "SNMP_PRIVACY_METHOD (--snmp-privacy-method): 3DES privacy is not supported"
            ),
            "{e}"
        );
    }

    #[test]
    fn sets_inherit_and_override() {
        let vars = vec![
            ("SNMP_COMMUNITY__east".to_owned(), "eastcomm".to_owned()),
            ("SNMP_VERSION__EAST".to_owned(), "2".to_owned()),
            ("NETBOX_TAGS__N".to_owned(), "x".to_owned()),
            ("SNMP_BOGUS__X".to_owned(), "x".to_owned()),
        ];
        let sets = raw().sets_from_env(vars);
        assert_eq!(sets.keys().collect::<Vec<_>>(), vec!["EAST"]);
        let mut w = Vec::new();
        let p = Profile::build(&sets["EAST"], Some("EAST"), &mut w).unwrap();
        let Credentials::V2c { community, label } = &p.attempts[0] else {
            panic!()
        };
        assert_eq!(community.expose_secret(), "eastcomm");
        assert_eq!(label, "SNMP_COMMUNITY__EAST");
    }

    #[test]
    fn numbers() {
        assert_eq!(
            parse_seconds("SNMP_TIMEOUT", "1.5").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(
            parse_seconds("SNMP_TIMEOUT", "-1")
                .unwrap_err()
                .0
                .starts_with("SNMP_TIMEOUT: ")
        );
        assert!(parse_count("PARALLEL_JOBS", "0", 1..=1024).is_err());
    }
}
