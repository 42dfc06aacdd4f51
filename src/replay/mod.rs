//! `invmon replay`: serve `.snmprec` recordings as an SNMP agent.
//!
//! v1/v2c requests pick the recording by community, v3 requests by context
//! name; either is the file's path under the directory without `.snmprec`
//! (snmpsim's convention), so a directory of recordings is a fleet of devices
//! on one UDP port. v1/v2c is answered directly (`v2c`); v3 goes through an
//! async-snmp agent for USM (`v3`). A fleet file (`sim`) makes v1/v2c
//! devices answer as real ones do: late, lossy, slow in places, dead.

pub mod sim;
pub(crate) mod v2c;
mod v3;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use async_snmp::{AuthProtocol, PrivProtocol};
use tokio::net::UdpSocket;

use crate::snmp::ber;
use crate::snmp::usm::{self, KeyExtension};
use crate::walk::{Walk, snmprec};
pub use sim::Simulation;

pub struct Recordings {
    by_name: HashMap<Vec<u8>, Arc<Walk>>,
    /// Served to requests without a community or context name.
    default: Option<Arc<Walk>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Recording(#[from] snmprec::SnmprecError),
    #[error("{path}: {why}")]
    Dir { path: String, why: String },
    #[error(
        "refusing to listen on {0}: not a loopback address (a replay agent answers anyone; pass --allow-remote to do it anyway)"
    )]
    NotLoopback(SocketAddr),
    #[error("v3 user {spec:?}: {why}")]
    User { spec: String, why: String },
    #[error("SNMP agent: {0}")]
    Agent(String),
    #[error(transparent)]
    Fleet(#[from] sim::FleetError),
}

/// Lines shown per recording before the rest are only counted.
const SHOWN_LINES: usize = 5;

/// As snmpsim does, a recording is served without the lines it cannot
/// read; each is named, so that the recording can be fixed.
fn report_skipped(path: &Path, recording: &snmprec::Recording) {
    for line in recording.skipped.iter().take(SHOWN_LINES) {
        tracing::warn!("{line}; line skipped");
    }
    if recording.skipped.len() > SHOWN_LINES {
        tracing::warn!(
            "{}: {} more unreadable lines skipped",
            path.display(),
            recording.skipped.len() - SHOWN_LINES
        );
    }
    if recording.walk.is_empty() {
        tracing::warn!("{}: no readable line; not served", path.display());
    }
}

impl Recordings {
    /// Loads every `*.snmprec` under `dir`. As in snmpsim, a recording's name is
    /// its path relative to `dir` without the extension (`switch/c3750`).
    pub fn load(dir: &Path, default: Option<&str>) -> Result<Recordings, ReplayError> {
        let bad = |why: String| ReplayError::Dir {
            path: dir.display().to_string(),
            why,
        };
        let mut by_name = HashMap::new();
        for entry in walkdir::WalkDir::new(dir)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| bad(e.to_string()))?;
            let path = entry.path();
            if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "snmprec") {
                continue;
            }
            let name = path.strip_prefix(dir).unwrap_or(path).with_extension("");
            let name = name
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            let recording = snmprec::read_all(path)?;
            report_skipped(path, &recording);
            if recording.walk.is_empty() {
                continue;
            }
            by_name.insert(name.into_bytes(), Arc::new(recording.walk));
        }
        if by_name.is_empty() {
            return Err(bad("no .snmprec recordings".into()));
        }
        let default = match default {
            Some(name) => Some(
                by_name
                    .get(name.as_bytes())
                    .cloned()
                    .ok_or_else(|| bad(format!("no recording named {name:?}")))?,
            ),
            // With a single recording, an empty context can only mean that one.
            None if by_name.len() == 1 => by_name.values().next().cloned(),
            None => None,
        };
        Ok(Recordings { by_name, default })
    }

    /// Recordings held in memory, by community or context name.
    pub(crate) fn from_walks(walks: Vec<(Vec<u8>, Walk)>) -> Recordings {
        let by_name: HashMap<Vec<u8>, Arc<Walk>> = walks
            .into_iter()
            .map(|(name, walk)| (name, Arc::new(walk)))
            .collect();
        let default = (by_name.len() == 1)
            .then(|| by_name.values().next().cloned())
            .flatten();
        Recordings { by_name, default }
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// The name of every recording.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.by_name.keys().map(Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The recording for a community or context name.
    pub fn named(&self, name: &[u8]) -> Option<&Walk> {
        if name.is_empty() {
            return self.default.as_deref();
        }
        self.by_name.get(name).map(Arc::as_ref)
    }
}

/// A v3 user: `NAME[:AUTH-PROTO:AUTH-KEY[:PRIV-PROTO:PRIV-KEY]]`.
#[derive(Clone)]
pub struct UserSpec {
    pub(crate) name: String,
    pub(crate) auth: Option<(AuthProtocol, String)>,
    pub(crate) privacy: Option<(PrivProtocol, String)>,
}

impl std::str::FromStr for UserSpec {
    type Err = ReplayError;
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |why: String| ReplayError::User {
            spec: spec.split(':').next().unwrap_or("").to_owned(),
            why,
        };
        let parts: Vec<&str> = spec.trim().splitn(5, ':').collect();
        let auth = match parts.get(1..3) {
            Some([proto, key]) => Some((
                match proto.parse::<usm::AuthProtocol>().map_err(|e| err(e.0))? {
                    usm::AuthProtocol::Md5 => AuthProtocol::Md5,
                    usm::AuthProtocol::Sha1 => AuthProtocol::Sha1,
                    usm::AuthProtocol::Sha224 => AuthProtocol::Sha224,
                    usm::AuthProtocol::Sha256 => AuthProtocol::Sha256,
                    usm::AuthProtocol::Sha384 => AuthProtocol::Sha384,
                    usm::AuthProtocol::Sha512 => AuthProtocol::Sha512,
                },
                (*key).to_owned(),
            )),
            _ if parts.len() == 1 => None,
            _ => {
                return Err(err(
                    "expected NAME:AUTH-PROTO:AUTH-KEY[:PRIV-PROTO:PRIV-KEY]".into(),
                ));
            }
        };
        let privacy = match parts.get(3..5) {
            Some([proto, key]) => {
                let (p, ext) = usm::parse_privacy(proto).map_err(|e| err(e.0))?;
                let reeder = ext == Some(KeyExtension::Reeder);
                Some((
                    match p {
                        usm::PrivProtocol::Des => PrivProtocol::Des,
                        usm::PrivProtocol::Aes128 => PrivProtocol::Aes128,
                        usm::PrivProtocol::Aes192 if reeder => PrivProtocol::Aes192Reeder,
                        usm::PrivProtocol::Aes192 => PrivProtocol::Aes192Blumenthal,
                        usm::PrivProtocol::Aes256 if reeder => PrivProtocol::Aes256Reeder,
                        usm::PrivProtocol::Aes256 => PrivProtocol::Aes256Blumenthal,
                    },
                    (*key).to_owned(),
                ))
            }
            _ if parts.len() <= 3 => None,
            _ => return Err(err("privacy needs both PRIV-PROTO and PRIV-KEY".into())),
        };
        if parts[0].is_empty() {
            return Err(err("empty user name".into()));
        }
        Ok(UserSpec {
            name: parts[0].to_owned(),
            auth,
            privacy,
        })
    }
}

/// A UDP socket with a large receive buffer: a whole fleet's requests may
/// arrive at once, and a dropped request costs the client a timeout.
fn listen_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        None,
    )?;
    let _ = socket.set_recv_buffer_size(8 << 20);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Serves until the socket fails. `ready` gets the bound address.
pub async fn serve(
    recordings: Arc<Recordings>,
    sim: Arc<Simulation>,
    listen: SocketAddr,
    users: &[UserSpec],
    ready: impl FnOnce(SocketAddr) -> Result<(), ReplayError>,
) -> Result<(), ReplayError> {
    let io = |e: std::io::Error| ReplayError::Agent(format!("{listen}: {e}"));
    let socket = Arc::new(listen_socket(listen).map_err(io)?);
    let v3 = if users.is_empty() {
        None
    } else {
        Some(v3::V3::start(recordings.clone(), users, sim.v3_restart_after).await?)
    };
    ready(socket.local_addr().map_err(io)?)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, peer) = socket.recv_from(&mut buf).await.map_err(io)?;
        let msg = &buf[..n];
        match ber::message_version(msg) {
            Some(0 | 1) => match v2c::respond(&recordings, &sim, msg) {
                Some((answer, delay)) if delay.is_zero() => {
                    let _ = socket.send_to(&answer, peer).await;
                }
                Some((answer, delay)) => {
                    let socket = socket.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = socket.send_to(&answer, peer).await;
                    });
                }
                None => {}
            },
            Some(3) => {
                if let Some(v3) = &v3
                    && let Err(e) = v3.relay(msg, peer, &socket).await
                {
                    tracing::warn!("Cannot relay an SNMPv3 request from {peer}: {e}.");
                }
            }
            _ => {}
        }
    }
}

/// Refuses non-loopback listen addresses unless explicitly allowed.
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<(), ReplayError> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(ReplayError::NotLoopback(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_specs() {
        let u: UserSpec = "u1:SHA:authpass1:AES:privpass1".parse().unwrap();
        assert_eq!(u.name, "u1");
        assert!(matches!(u.privacy, Some((PrivProtocol::Aes128, _))));
        let u: UserSpec = "u2:SHA:a:AES256C:b:c".parse().unwrap();
        assert!(matches!(u.privacy, Some((PrivProtocol::Aes256Reeder, ref k)) if k == "b:c"));
        assert!("u3".parse::<UserSpec>().unwrap().auth.is_none());
        assert!("u4:SHA".parse::<UserSpec>().is_err());
        assert!("u5:SHA:a:3DES:b".parse::<UserSpec>().is_err());
    }

    #[test]
    fn loopback_only_by_default() {
        assert!(check_listen("127.0.0.1:1161".parse().unwrap(), false).is_ok());
        assert!(check_listen("[::1]:1161".parse().unwrap(), false).is_ok());
        assert!(check_listen("0.0.0.0:1161".parse().unwrap(), false).is_err());
        assert!(check_listen("0.0.0.0:1161".parse().unwrap(), true).is_ok());
    }
}
