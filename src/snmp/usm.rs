//! SNMPv3 User-based Security Model settings, and their mapping onto snmp2.

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use snmp2::v3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityLevel {
    NoAuthNoPriv,
    AuthNoPriv,
    AuthPriv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

/// How a short auth hash is stretched into an AES-192/256 key. Cisco's
/// "AES-256C" is Reeder; the IETF draft most other vendors follow is Blumenthal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyExtension {
    Blumenthal,
    Reeder,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsmParseError(pub String);

fn norm(s: &str) -> String {
    s.trim().to_ascii_uppercase().replace(['-', '_', ' '], "")
}

impl FromStr for SecurityLevel {
    type Err = UsmParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Case-insensitive on purpose: `AuthPriv` and `authpriv` mean the same.
        match norm(s).as_str() {
            "NOAUTHNOPRIV" => Ok(Self::NoAuthNoPriv),
            "AUTHNOPRIV" => Ok(Self::AuthNoPriv),
            "AUTHPRIV" => Ok(Self::AuthPriv),
            _ => Err(UsmParseError(format!(
                "{s:?} is not a security level (noAuthNoPriv, authNoPriv, authPriv)"
            ))),
        }
    }
}

impl FromStr for AuthProtocol {
    type Err = UsmParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match norm(s).as_str() {
            "MD5" => Ok(Self::Md5),
            "SHA" | "SHA1" => Ok(Self::Sha1),
            "SHA224" => Ok(Self::Sha224),
            "SHA256" => Ok(Self::Sha256),
            "SHA384" => Ok(Self::Sha384),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(UsmParseError(format!(
                "{s:?} is not an auth protocol (MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512)"
            ))),
        }
    }
}

/// Parses a privacy protocol; a `C` suffix (`AES-256C`) selects the Reeder
/// key extension, as Cisco names it.
pub fn parse_privacy(s: &str) -> Result<(PrivProtocol, Option<KeyExtension>), UsmParseError> {
    let n = norm(s);
    let (base, reeder) = match n.strip_suffix('C') {
        Some(b) if b.starts_with("AES") && b.len() > 3 => (b.to_owned(), true),
        _ => (n.clone(), false),
    };
    let proto = match base.as_str() {
        "DES" => PrivProtocol::Des,
        "AES" | "AES128" => PrivProtocol::Aes128,
        "AES192" => PrivProtocol::Aes192,
        "AES256" => PrivProtocol::Aes256,
        "3DES" | "TRIPLEDES" | "DES3" | "3DESEDE" => {
            return Err(UsmParseError(
                "3DES privacy is not supported (the SNMP stack has no 3DES); use AES or DES on the device".into(),
            ));
        }
        _ => {
            return Err(UsmParseError(format!(
                "{s:?} is not a privacy protocol (DES, AES, AES-192, AES-256, AES-192C, AES-256C)"
            )));
        }
    };
    Ok((proto, reeder.then_some(KeyExtension::Reeder)))
}

impl FromStr for KeyExtension {
    type Err = UsmParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match norm(s).as_str() {
            "BLUMENTHAL" => Ok(Self::Blumenthal),
            "REEDER" | "CISCO" => Ok(Self::Reeder),
            _ => Err(UsmParseError(format!(
                "{s:?} is not a key extension (blumenthal, reeder)"
            ))),
        }
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoAuthNoPriv => "noAuthNoPriv",
            Self::AuthNoPriv => "authNoPriv",
            Self::AuthPriv => "authPriv",
        })
    }
}

impl fmt::Display for AuthProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA",
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        })
    }
}

impl fmt::Display for PrivProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Des => "DES",
            Self::Aes128 => "AES",
            Self::Aes192 => "AES-192",
            Self::Aes256 => "AES-256",
        })
    }
}

/// Everything needed to talk SNMPv3 as one user. Secrets stay wrapped until
/// a session is built; `Debug` never shows them.
#[derive(Clone, Debug)]
pub struct V3Params {
    pub user: String,
    pub level: SecurityLevel,
    pub auth_protocol: AuthProtocol,
    pub auth_password: SecretString,
    pub priv_protocol: PrivProtocol,
    pub priv_password: SecretString,
    pub key_extension: KeyExtension,
    pub context: String,
}

impl V3Params {
    /// The same user at another security level (used to pinpoint a failure).
    pub fn at_level(&self, level: SecurityLevel) -> V3Params {
        V3Params {
            level,
            ..self.clone()
        }
    }

    /// Builds snmp2's security state. Its `Debug` prints the passwords, so the
    /// value must never be logged or kept beyond the session.
    pub(crate) fn security(&self) -> v3::Security {
        let auth_password = match self.level {
            SecurityLevel::NoAuthNoPriv => &b""[..],
            _ => self.auth_password.expose_secret().as_bytes(),
        };
        let auth = match self.level {
            SecurityLevel::NoAuthNoPriv => v3::Auth::NoAuthNoPriv,
            SecurityLevel::AuthNoPriv => v3::Auth::AuthNoPriv,
            SecurityLevel::AuthPriv => v3::Auth::AuthPriv {
                cipher: match self.priv_protocol {
                    PrivProtocol::Des => v3::Cipher::Des,
                    PrivProtocol::Aes128 => v3::Cipher::Aes128,
                    PrivProtocol::Aes192 => v3::Cipher::Aes192,
                    PrivProtocol::Aes256 => v3::Cipher::Aes256,
                },
                privacy_password: self.priv_password.expose_secret().as_bytes().to_vec(),
            },
        };
        let mut security = v3::Security::new(self.user.as_bytes(), auth_password)
            .with_auth(auth)
            .with_auth_protocol(match self.auth_protocol {
                AuthProtocol::Md5 => v3::AuthProtocol::Md5,
                AuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
                AuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
                AuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
                AuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
                AuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
            })
            .with_key_extension_method(match self.key_extension {
                KeyExtension::Blumenthal => v3::KeyExtension::Blumenthal,
                KeyExtension::Reeder => v3::KeyExtension::Reeder,
            });
        if !self.context.is_empty() {
            security = security.with_context_name(&self.context);
        }
        security
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_forgiving() {
        assert_eq!("AuthPriv".parse(), Ok(SecurityLevel::AuthPriv));
        assert_eq!("auth_no_priv".parse(), Ok(SecurityLevel::AuthNoPriv));
        assert_eq!("sha-256".parse(), Ok(AuthProtocol::Sha256));
        assert_eq!("SHA".parse(), Ok(AuthProtocol::Sha1));
        assert_eq!(parse_privacy("AES"), Ok((PrivProtocol::Aes128, None)));
        assert_eq!(
            parse_privacy("AES-256C"),
            Ok((PrivProtocol::Aes256, Some(KeyExtension::Reeder)))
        );
        assert_eq!(parse_privacy("aes192"), Ok((PrivProtocol::Aes192, None)));
        assert!(
            parse_privacy("3DES")
                .unwrap_err()
                .0
                .contains("not supported")
        );
        assert!("SHA3".parse::<AuthProtocol>().is_err());
    }
}
