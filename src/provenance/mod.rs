//! Provenance across zones. A collector signs every snapshot and raw walk it
//! writes (OpenSSH's SSHSIG, the format of `ssh-keygen -Y sign`, with the
//! RustCrypto `ssh-key` crate: no signature code of our own); the host that
//! reads them accepts only what a key its `allowed_signers` file lists for
//! that collector signed; bundles carry snapshots over one-way links.
//!
//! A signature is the file `<file>.sig` beside `<file>`, over the file's
//! bytes as they are on disk, so `ssh-keygen -Y verify -n invmon-snapshot
//! -I <collector> -f allowed_signers -s FILE.sig < FILE` checks it too.

pub mod allowed;
pub mod bundle;
pub mod check;

use std::path::{Path, PathBuf};

use ssh_key::{HashAlg, LineEnding, PrivateKey, SshSig};

/// The namespace of snapshot and raw-walk signatures.
pub const SNAPSHOT_NAMESPACE: &str = "invmon-snapshot";
/// The namespace of bundle-manifest signatures.
pub const BUNDLE_NAMESPACE: &str = "invmon-bundle";

/// The signature file of `path`.
pub fn signature_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".sig");
    path.with_file_name(name)
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("signing key {path}: permissions {mode:04o} let others read it; chmod 600 {path}")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("signing key {path}: {why}")]
    Unusable { path: PathBuf, why: String },
}

/// A collector's signing key and the identity it signs as.
pub struct Signer {
    key: PrivateKey,
    /// The collector id: the principal allowed_signers lists for this key.
    pub id: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} {})", self.id, self.fingerprint)
    }
}

impl Signer {
    /// An OpenSSH ed25519 private key (`ssh-keygen -t ed25519 -N ''`), readable
    /// by its owner only, signing as collector `id`.
    pub fn load(path: &Path, id: &str) -> Result<Signer, KeyError> {
        use std::os::unix::fs::PermissionsExt;
        let unusable = |why: String| KeyError::Unusable {
            path: path.to_owned(),
            why,
        };
        let meta = std::fs::metadata(path).map_err(|cause| KeyError::Read {
            path: path.to_owned(),
            cause,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
        let text = std::fs::read(path).map_err(|cause| KeyError::Read {
            path: path.to_owned(),
            cause,
        })?;
        let key = PrivateKey::from_openssh(&text)
            .map_err(|e| unusable(format!("not an OpenSSH private key ({e})")))?;
        if key.is_encrypted() {
            return Err(unusable(
                "it has a passphrase; a collector signs unattended: ssh-keygen -t ed25519 -N ''"
                    .into(),
            ));
        }
        if key.algorithm() != ssh_key::Algorithm::Ed25519 {
            return Err(unusable(format!(
                "a {} key; use ed25519 (ssh-keygen -t ed25519)",
                key.algorithm()
            )));
        }
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        Ok(Signer {
            key,
            id: id.to_owned(),
            fingerprint,
        })
    }

    /// The signature of `bytes` in `namespace`, as the text of a `.sig` file.
    pub fn sign(&self, namespace: &str, bytes: &[u8]) -> Result<Vec<u8>, ssh_key::Error> {
        let sig = self.key.sign(namespace, HashAlg::Sha512, bytes)?;
        Ok(sig.to_pem(LineEnding::LF)?.into_bytes())
    }
}

/// Why a signed file is not accepted.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("not signed (no {0})")]
    Unsigned(String),
    #[error("the signature cannot be read ({0})")]
    Malformed(String),
    #[error("signed for {found:?}, not {expected:?}")]
    WrongNamespace { found: String, expected: String },
    #[error("signed by {fingerprint}, a key allowed_signers does not list for {principal:?}")]
    NotAllowed {
        principal: String,
        fingerprint: String,
    },
    #[error("signed by {fingerprint}, whose allowed_signers entry for {principal:?} {why}")]
    OutsideValidity {
        principal: String,
        fingerprint: String,
        why: String,
    },
    #[error("the signature does not match the content: altered after signing")]
    Mismatch,
}

/// What the reading host trusts: its allowed_signers file.
#[derive(Debug)]
pub struct Trust {
    entries: Vec<allowed::Entry>,
    pub path: PathBuf,
}

impl Trust {
    pub fn load(path: &Path) -> Result<Trust, allowed::AllowedError> {
        Ok(Trust {
            entries: allowed::read(path)?,
            path: path.to_owned(),
        })
    }

    /// An allowed_signers file's text, as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Trust, allowed::AllowedError> {
        Ok(Trust {
            entries: allowed::parse(text, path)?,
            path: path.to_owned(),
        })
    }

    /// Accepts `bytes` when `signature` (a `.sig` file's text) verifies in
    /// `namespace` with a key listed for `principal`, valid now.
    pub fn verify(
        &self,
        principal: &str,
        namespace: &str,
        bytes: &[u8],
        signature: &[u8],
    ) -> Result<(), Refusal> {
        let sig = authentic(namespace, bytes, signature)?;
        self.allows(principal, namespace, &sig)
    }

    /// Whether the key that made `sig` is listed for `principal` in
    /// `namespace` and valid now.
    pub fn allows(&self, principal: &str, namespace: &str, sig: &Authentic) -> Result<(), Refusal> {
        let key = sig.0.public_key();
        let fingerprint = ssh_key::PublicKey::from(key.clone())
            .fingerprint(HashAlg::Sha256)
            .to_string();
        let now = chrono::Utc::now();
        let mut outside = None;
        for entry in self
            .entries
            .iter()
            .filter(|e| e.key.key_data() == key && e.allows(principal, namespace))
        {
            match entry.valid_at(now) {
                Ok(()) => return Ok(()),
                Err(why) => outside = Some(why),
            }
        }
        Err(match outside {
            Some(why) => Refusal::OutsideValidity {
                principal: principal.to_owned(),
                fingerprint,
                why,
            },
            None => Refusal::NotAllowed {
                principal: principal.to_owned(),
                fingerprint,
            },
        })
    }
}

/// A signature known to match its content, by a key not yet judged.
pub struct Authentic(SshSig);

/// Checks that `signature` was made over `bytes` in `namespace` by the key
/// it carries. Done before the content is parsed, so that an altered file
/// is refused as altered rather than reported as corrupt, and no parser
/// sees bytes nobody signed.
pub fn authentic(namespace: &str, bytes: &[u8], signature: &[u8]) -> Result<Authentic, Refusal> {
    let sig = SshSig::from_pem(signature).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if sig.namespace() != namespace {
        return Err(Refusal::WrongNamespace {
            found: sig.namespace().to_owned(),
            expected: namespace.to_owned(),
        });
    }
    ssh_key::PublicKey::from(sig.public_key().clone())
        .verify(namespace, bytes, &sig)
        .map_err(|_| Refusal::Mismatch)?;
    Ok(Authentic(sig))
}
