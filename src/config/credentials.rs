//! SNMP credentials: the global settings (`SNMP_*`, flags) and named
//! credential sets (`SNMP_<FIELD>__<SET>`) for networks with per-region
//! secrets, validated into the attempts a device is tried with.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, ValueError};
use crate::snmp::usm::{self, AuthProtocol, KeyExtension, PrivProtocol, SecurityLevel, V3Params};
use crate::snmp::{Credentials, Version};

/// `SNMP_PRIVACY_METHOD`: a protocol, and the key extension a `C` suffix implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrivacyMethod {
    pub protocol: PrivProtocol,
    pub implied_extension: Option<KeyExtension>,
}

impl std::str::FromStr for PrivacyMethod {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        usm::parse_privacy(s)
            .map(|(protocol, implied_extension)| PrivacyMethod {
                protocol,
                implied_extension,
            })
            .map_err(|e| ValueError(e.0))
    }
}

/// Parses with a type's `FromStr`, for clap.
pub fn parsed<T: std::str::FromStr<Err = usm::UsmParseError>>(text: &str) -> Result<T, ValueError> {
    text.parse()
        .map_err(|e: usm::UsmParseError| ValueError(e.0))
}

/// One credential set as configured, typed but not yet checked for
/// completeness. Field names follow the variables (`SNMP_<FIELD>`).
#[derive(Clone, Debug, Default)]
pub struct CredentialSettings {
    /// `None`: the default order, 3 then 2, as far as credentials are given.
    pub version: Option<Vec<Version>>,
    pub community: Option<String>,
    pub user: Option<String>,
    pub auth: Option<String>,
    pub auth_method: Option<AuthProtocol>,
    pub privacy: Option<String>,
    pub privacy_method: Option<PrivacyMethod>,
    pub key_extension: Option<KeyExtension>,
    pub security: Option<SecurityLevel>,
    pub context: Option<String>,
}

/// (variable suffix, flag) of every field.
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

/// Whether `name` is a credential-set variable (`SNMP_<FIELD>__<SET>`).
pub fn is_set_variable(name: &str) -> bool {
    split_set_variable(name).is_some()
}

fn split_set_variable(name: &str) -> Option<(&str, &str)> {
    let (field, set) = name.strip_prefix("SNMP_")?.split_once("__")?;
    (!set.is_empty() && FIELDS.iter().any(|(f, _)| *f == field)).then_some((field, set))
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

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl CredentialSettings {
    /// Sets from `SNMP_<FIELD>__<SET>` variables. Set names are
    /// case-insensitive; a set inherits every field it does not name, and
    /// its own values are validated and blamed on their own names.
    pub fn sets_from_env(
        &self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<BTreeMap<String, CredentialSettings>, ConfigError> {
        let mut sets: BTreeMap<String, CredentialSettings> = BTreeMap::new();
        for (key, value) in vars {
            let Some((field, set)) = split_set_variable(&key) else {
                continue;
            };
            let set = set.to_ascii_uppercase();
            let entry = sets.entry(set.clone()).or_insert_with(|| self.clone());
            let bad = |e: ValueError| ConfigError::invalid(setting_name(field, Some(&set)), e);
            let text = Some(value.clone()).filter(|v| !v.trim().is_empty());
            match field {
                "VERSION" => {
                    entry.version = text.map(|t| super::versions(&t)).transpose().map_err(bad)?
                }
                "COMMUNITY" => entry.community = text,
                "USER" => entry.user = text,
                "AUTH" => entry.auth = text,
                "AUTH_METHOD" => {
                    entry.auth_method = text.map(|t| parsed(&t)).transpose().map_err(bad)?
                }
                "PRIVACY" => entry.privacy = text,
                "PRIVACY_METHOD" => {
                    entry.privacy_method = text.map(|t| t.parse()).transpose().map_err(bad)?
                }
                "PRIVACY_KEY_EXTENSION" => {
                    entry.key_extension = text.map(|t| parsed(&t)).transpose().map_err(bad)?
                }
                "SECURITY" => entry.security = text.map(|t| parsed(&t)).transpose().map_err(bad)?,
                "CONTEXT" => entry.context = text,
                _ => {}
            }
        }
        Ok(sets)
    }
}

/// The credentials to try for a device, in the configured version order,
/// and what the configuration leaves out (said only if the profile is used).
#[derive(Clone, Debug)]
pub struct Profile {
    pub attempts: Vec<Credentials>,
    pub warnings: Vec<String>,
}

impl Profile {
    /// Validates one credential set (`set` is `None` for the global
    /// settings). A version listed explicitly without its credentials is
    /// skipped with a warning; with the default order it is skipped
    /// silently. No usable version at all is an error.
    pub fn build(raw: &CredentialSettings, set: Option<&str>) -> Result<Profile, ConfigError> {
        let name = |field: &str| setting_name(field, set);
        let explicit = raw.version.is_some();
        let versions = raw
            .version
            .clone()
            .unwrap_or_else(|| vec![Version::V3, Version::V2c]);
        let mut attempts = Vec::new();
        let mut warnings = Vec::new();
        for version in versions {
            match version {
                Version::V2c => match non_empty(&raw.community) {
                    Some(c) => attempts.push(Credentials::V2c {
                        community: SecretString::from(c),
                        label: name("COMMUNITY")
                            .split(' ')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    }),
                    None if explicit => warnings.push(format!(
                        "{} lists 2 but {} is not set: skipping SNMPv2c",
                        name("VERSION"),
                        name("COMMUNITY")
                    )),
                    None => {}
                },
                Version::V3 => match non_empty(&raw.user) {
                    Some(user) => attempts.push(Credentials::V3(v3_params(raw, user, set)?)),
                    None if explicit => warnings.push(format!(
                        "{} lists 3 but {} is not set: skipping SNMPv3",
                        name("VERSION"),
                        name("USER")
                    )),
                    None => {}
                },
            }
        }
        if attempts.is_empty() {
            return Err(ConfigError::Unusable(format!(
                "no usable SNMP credentials{}: set {} for v2c or {} for v3",
                set.map(|s| format!(" in credential set {s}"))
                    .unwrap_or_default(),
                name("COMMUNITY"),
                name("USER")
            )));
        }
        Ok(Profile { attempts, warnings })
    }
}

fn v3_params(
    raw: &CredentialSettings,
    user: String,
    set: Option<&str>,
) -> Result<V3Params, ConfigError> {
    let name = |field: &str| setting_name(field, set);
    let auth = non_empty(&raw.auth);
    let privacy = non_empty(&raw.privacy);
    // Without SNMP_SECURITY, the passwords given decide the level.
    let level = match raw.security {
        Some(level) => level,
        None if privacy.is_some() => SecurityLevel::AuthPriv,
        None if auth.is_some() => SecurityLevel::AuthNoPriv,
        None => SecurityLevel::NoAuthNoPriv,
    };
    let unset = |field: &str| ConfigError::Missing {
        setting: name(field),
        hint: String::new(),
    };
    if level != SecurityLevel::NoAuthNoPriv && auth.is_none() {
        return Err(ConfigError::Unusable(format!(
            "{} is {level} but {}",
            name("SECURITY"),
            unset("AUTH")
        )));
    }
    if level == SecurityLevel::AuthPriv && privacy.is_none() {
        return Err(ConfigError::Unusable(format!(
            "{} is {level} but {}",
            name("SECURITY"),
            unset("PRIVACY")
        )));
    }
    let privacy_method = raw.privacy_method.unwrap_or(PrivacyMethod {
        protocol: PrivProtocol::Aes128,
        implied_extension: None,
    });
    Ok(V3Params {
        user,
        level,
        auth_protocol: raw.auth_method.unwrap_or(AuthProtocol::Sha1),
        auth_password: SecretString::from(auth.unwrap_or_default()),
        priv_protocol: privacy_method.protocol,
        priv_password: SecretString::from(privacy.unwrap_or_default()),
        key_extension: raw
            .key_extension
            .or(privacy_method.implied_extension)
            .unwrap_or(KeyExtension::Blumenthal),
        context: raw.context.clone().unwrap_or_default(),
    })
}

/// Every credential profile of a run, validated.
#[derive(Clone, Debug)]
pub struct Profiles {
    /// The global settings; an error kept until a target needs them.
    pub global: Result<Arc<Profile>, ConfigError>,
    pub sets: BTreeMap<String, Arc<Profile>>,
}

impl Profiles {
    /// Validates the global settings and every set (an invalid set is an
    /// error even when no target names it: it would fail the day one does).
    pub fn build(
        global: &CredentialSettings,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Profiles, ConfigError> {
        let mut sets = BTreeMap::new();
        for (name, set) in global.sets_from_env(vars)? {
            let profile = Profile::build(&set, Some(&name))?;
            sets.insert(name, Arc::new(profile));
        }
        Ok(Profiles {
            global: Profile::build(global, None).map(Arc::new),
            sets,
        })
    }

    /// The profile for a target's `credentials` column (global when empty).
    pub fn for_set(&self, set: Option<&str>) -> Result<Arc<Profile>, ConfigError> {
        match set.map(str::trim).filter(|s| !s.is_empty()) {
            None => self.global.clone(),
            Some(name) => self
                .sets
                .get(&name.to_ascii_uppercase())
                .cloned()
                .ok_or_else(|| {
                    ConfigError::Unusable(format!(
                        "credential set {name:?} is not defined (no SNMP_*__{} settings)",
                        name.to_ascii_uppercase()
                    ))
                }),
        }
    }
}

/// How devices are asked: the same for every device of a run.
#[derive(Clone, Debug)]
pub struct SnmpTiming {
    pub timeout: Duration,
    pub retries: u32,
    pub max_repetitions: u32,
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn raw() -> CredentialSettings {
        CredentialSettings {
            community: Some("c0mm".into()),
            user: Some("u".into()),
            auth: Some("authpass1".into()),
            privacy: Some("privpass1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_order() {
        let p = Profile::build(&raw(), None).unwrap();
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
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn missing_pieces_are_named() {
        let r = CredentialSettings {
            version: Some(vec![Version::V3, Version::V2c]),
            community: Some("c".into()),
            ..Default::default()
        };
        let p = Profile::build(&r, None).unwrap();
        assert_eq!(p.attempts.len(), 1);
        assert!(
            p.warnings[0].contains("SNMP_USER (--snmp-user) is not set"),
            "{:?}",
            p.warnings
        );
        // The default order skips a version without credentials silently.
        let r = CredentialSettings {
            community: Some("c".into()),
            ..Default::default()
        };
        assert!(Profile::build(&r, None).unwrap().warnings.is_empty());
        let r = CredentialSettings {
            security: Some(SecurityLevel::AuthPriv),
            privacy: None,
            ..raw()
        };
        let e = Profile::build(&r, Some("EAST")).unwrap_err().to_string();
        assert!(e.contains("SNMP_PRIVACY__EAST is not set"), "{e}");
    }

    #[test]
    fn sets_inherit_override_and_are_blamed_by_name() {
        let vars = vec![
            ("SNMP_COMMUNITY__east".to_owned(), "eastcomm".to_owned()),
            ("SNMP_VERSION__EAST".to_owned(), "2".to_owned()),
            ("NETBOX_TAGS__N".to_owned(), "x".to_owned()),
            ("SNMP_BOGUS__X".to_owned(), "x".to_owned()),
        ];
        let sets = raw().sets_from_env(vars).unwrap();
        assert_eq!(sets.keys().collect::<Vec<_>>(), vec!["EAST"]);
        let p = Profile::build(&sets["EAST"], Some("EAST")).unwrap();
        let Credentials::V2c { community, label } = &p.attempts[0] else {
            panic!()
        };
        assert_eq!(community.expose_secret(), "eastcomm");
        assert_eq!(label, "SNMP_COMMUNITY__EAST");
        let e = raw()
            .sets_from_env([("SNMP_AUTH_METHOD__ASR9K".to_owned(), "bogus".to_owned())])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("SNMP_AUTH_METHOD__ASR9K: \"bogus\""), "{e}");
        assert!(is_set_variable("SNMP_USER__X") && !is_set_variable("SNMP_COMUNITY__X"));
    }
}
