//! `invmon replay`: serve `.snmprec` recordings as an SNMP agent.
//!
//! v1/v2c requests pick the recording by community, v3 requests by context
//! name; either is the file's stem (snmpsim's convention), so a directory of
//! recordings is a fleet of devices on one UDP port.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use async_snmp::agent::Agent;
use async_snmp::handler::{
    BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext,
};
use async_snmp::{AuthProtocol, AuthoritativeEngine, PrivProtocol, VarBind};
use bytes::Bytes;

use crate::snmp::Value;
use crate::snmp::usm::{self, KeyExtension};
use crate::walk::snmprec;

/// One recording in the agent's own types, sorted for binary search, so a
/// request costs no conversion or allocation.
struct Recording {
    rows: Vec<(async_snmp::Oid, async_snmp::Value)>,
}

impl Recording {
    fn get(&self, oid: &[u32]) -> Option<&async_snmp::Value> {
        self.rows
            .binary_search_by(|(o, _)| o.arcs().cmp(oid))
            .ok()
            .map(|i| &self.rows[i].1)
    }

    fn next(&self, oid: &[u32]) -> Option<&(async_snmp::Oid, async_snmp::Value)> {
        self.rows
            .get(self.rows.partition_point(|(o, _)| o.arcs() <= oid))
    }
}

pub struct Recordings {
    by_name: HashMap<Bytes, Arc<Recording>>,
    /// Served to v3 requests without a context name.
    default: Option<Arc<Recording>>,
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
}

fn wire(value: &Value) -> async_snmp::Value {
    match value {
        Value::Integer(v) => {
            async_snmp::Value::Integer((*v).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
        }
        Value::OctetString(b) => async_snmp::Value::OctetString(Bytes::copy_from_slice(b)),
        Value::ObjectIdentifier(o) => {
            async_snmp::Value::ObjectIdentifier(async_snmp::Oid::from_slice(o.arcs()))
        }
        Value::IpAddress(a) => async_snmp::Value::IpAddress(*a),
        Value::Counter32(v) => async_snmp::Value::Counter32(*v),
        Value::Gauge32(v) => async_snmp::Value::Gauge32(*v),
        Value::TimeTicks(v) => async_snmp::Value::TimeTicks(*v),
        Value::Opaque(b) => async_snmp::Value::Opaque(Bytes::copy_from_slice(b)),
        Value::Counter64(v) => async_snmp::Value::Counter64(*v),
        Value::Null => async_snmp::Value::Null,
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
            let walk = snmprec::read(path)?;
            let rows = walk
                .iter()
                .map(|(o, v)| (async_snmp::Oid::from_slice(o.arcs()), wire(v)))
                .collect();
            by_name.insert(Bytes::from(name), Arc::new(Recording { rows }));
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

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    fn for_request(&self, ctx: &RequestContext) -> Option<&Recording> {
        let key: &[u8] = match ctx.version() {
            async_snmp::Version::V3 => ctx.context_name(),
            _ => ctx.security_name().as_bytes(),
        };
        if key.is_empty() {
            return self.default.as_deref();
        }
        self.by_name.get(key).map(Arc::as_ref)
    }
}

struct Handler(Arc<Recordings>);

impl MibHandler for Handler {
    fn get<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a async_snmp::Oid,
    ) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(async move {
            let Some(rec) = self.0.for_request(ctx) else {
                return Ok(GetResult::NoSuchObject);
            };
            Ok(match rec.get(oid.arcs()) {
                Some(v) => GetResult::Value(v.clone()),
                None => GetResult::NoSuchInstance,
            })
        })
    }

    fn get_next<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a async_snmp::Oid,
    ) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(async move {
            let Some(rec) = self.0.for_request(ctx) else {
                return Ok(GetNextResult::EndOfMibView);
            };
            Ok(match rec.next(oid.arcs()) {
                Some((o, v)) => GetNextResult::Value(VarBind::new(o.clone(), v.clone())),
                None => GetNextResult::EndOfMibView,
            })
        })
    }
}

/// A v3 user: `NAME[:AUTH-PROTO:AUTH-KEY[:PRIV-PROTO:PRIV-KEY]]`.
#[derive(Clone)]
pub struct UserSpec {
    name: String,
    auth: Option<(AuthProtocol, String)>,
    privacy: Option<(PrivProtocol, String)>,
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

/// Builds the agent, bound and ready; `run()` it to serve.
pub async fn agent(
    recordings: Arc<Recordings>,
    listen: SocketAddr,
    users: &[UserSpec],
) -> Result<Agent, ReplayError> {
    let agent_err = |e: &dyn std::fmt::Display| ReplayError::Agent(e.to_string());
    let engine = AuthoritativeEngine::install(
        Bytes::from_static(b"\x80\x00\x00\x00\x04invmon-replay"),
        |_| Ok::<(), Infallible>(()),
    )
    .map_err(|e| agent_err(&e))?;
    let mut builder = Agent::builder()
        .bind(listen.to_string())
        .communities(recordings.by_name.keys().cloned())
        .authoritative_engine(engine)
        .handler(
            async_snmp::Oid::from_slice(&[1]),
            Arc::new(Handler(recordings.clone())),
        )
        .without_builtin_handlers()
        .recv_buffer_size(Some(4 << 20))
        .allow_all_access();
    if users
        .iter()
        .any(|u| matches!(u.privacy, Some((PrivProtocol::Des, _))))
    {
        let salt = async_snmp::DesSaltState::install(|_| Ok::<(), Infallible>(()))
            .map_err(|e| agent_err(&e))?;
        builder = builder.des_salt_state(salt);
    }
    for user in users {
        let u = user.clone();
        builder = builder
            .usm_user(user.name.clone(), move |b| match (u.auth, u.privacy) {
                (None, _) => Ok(b),
                (Some((ap, ak)), None) => b.auth(ap, ak),
                (Some((ap, ak)), Some((pp, pk))) => b.auth_priv(ap, ak, pp, pk),
            })
            .map_err(|e| ReplayError::User {
                spec: user.name.clone(),
                why: e.to_string(),
            })?;
    }
    builder.build().await.map_err(|e| agent_err(&e))
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
