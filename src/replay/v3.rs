//! SNMPv3 for replay: an async-snmp agent (which brings USM: engine
//! discovery, every auth and privacy protocol) on a private loopback port,
//! reached through a relay socket per client. A fleet file may have the
//! engine restart after a number of requests, as a device that reboots
//! mid-walk: a second agent with the same engine ID at engineBoots 2 and
//! engineTime 0 takes over, and clients still at boots 1 get RFC 3414's
//! notInTimeWindow report until they resynchronize.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_snmp::agent::Agent;
use async_snmp::handler::{
    BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext,
};
use async_snmp::{AuthoritativeEngine, PersistedAuthoritativeEngine, PrivProtocol, VarBind};
use bytes::Bytes;
use tokio::net::UdpSocket;

use super::{Recordings, ReplayError, UserSpec};
use crate::walk::Value;

/// How long a client's relay socket lives without traffic.
const RELAY_IDLE: Duration = Duration::from_secs(120);

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

/// Serves the recording named by the request's context.
struct Handler(Arc<Recordings>);

impl MibHandler for Handler {
    fn get<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a async_snmp::Oid,
    ) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(async move {
            let Some(walk) = self.0.named(ctx.context_name()) else {
                return Ok(GetResult::NoSuchObject);
            };
            Ok(match walk.get_arcs(oid.arcs()) {
                Some(v) => GetResult::Value(wire(v)),
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
            let Some(walk) = self.0.named(ctx.context_name()) else {
                return Ok(GetNextResult::EndOfMibView);
            };
            Ok(match walk.after(oid.arcs()) {
                Some((o, v)) => GetNextResult::Value(VarBind::new(
                    async_snmp::Oid::from_slice(o.arcs()),
                    wire(v),
                )),
                None => GetNextResult::EndOfMibView,
            })
        })
    }
}

const ENGINE_ID: &[u8] = b"\x80\x00\x00\x00\x04invmon-replay";

/// The private v3 agent (and the one that replaces it at a restart), and
/// the relays to it.
pub struct V3 {
    agent: Mutex<SocketAddr>,
    relays: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>,
    /// After this many requests, the restarted engine's agent answers.
    restart: Option<(u64, SocketAddr)>,
    relayed: AtomicU64,
}

fn agent_err(e: &dyn std::fmt::Display) -> ReplayError {
    ReplayError::Agent(e.to_string())
}

/// Builds and starts an agent for the engine at `boots` (1: new, 2: once
/// restarted) on a free loopback port.
async fn run_agent(
    recordings: Arc<Recordings>,
    users: &[UserSpec],
    boots: u32,
) -> Result<SocketAddr, ReplayError> {
    let id = || Bytes::from_static(ENGINE_ID);
    let engine = match boots {
        1 => AuthoritativeEngine::install(id(), |_| Ok::<(), Infallible>(())),
        _ => PersistedAuthoritativeEngine::new(id(), boots - 1).and_then(|previous| {
            AuthoritativeEngine::restart(previous, |_| Ok::<(), Infallible>(()))
        }),
    }
    .map_err(|e| agent_err(&e))?;
    let mut builder = Agent::builder()
        .bind("127.0.0.1:0")
        .authoritative_engine(engine)
        .handler(
            async_snmp::Oid::from_slice(&[1]),
            Arc::new(Handler(recordings)),
        )
        .without_builtin_handlers()
        .recv_buffer_size(Some(4 << 20))
        .allow_all_access();
    if users
        .iter()
        .any(|u| matches!(u.privacy, Some((PrivProtocol::Des, _))))
    {
        // DES salts restart with the engine, as they must never repeat.
        let salt = match boots {
            1 => async_snmp::DesSaltState::install(|_| Ok::<(), Infallible>(())),
            _ => async_snmp::PersistedDesSaltState::new(boots - 1).and_then(|previous| {
                async_snmp::DesSaltState::restart(previous, |_| Ok::<(), Infallible>(()))
            }),
        }
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
    let agent = builder.build().await.map_err(|e| agent_err(&e))?;
    let addr = agent.local_addr();
    tokio::spawn(async move {
        if let Err(e) = agent.run().await {
            tracing::error!("SNMPv3 agent stopped: {e}.");
        }
    });
    Ok(addr)
}

impl V3 {
    /// Builds and starts the agent; with `restart_after`, also the agent of
    /// the restarted engine, which takes over after that many requests.
    pub async fn start(
        recordings: Arc<Recordings>,
        users: &[UserSpec],
        restart_after: Option<u64>,
    ) -> Result<V3, ReplayError> {
        let agent = run_agent(recordings.clone(), users, 1).await?;
        let restart = match restart_after {
            Some(n) => Some((n, run_agent(recordings, users, 2).await?)),
            None => None,
        };
        Ok(V3 {
            agent: Mutex::new(agent),
            relays: Arc::default(),
            restart,
            relayed: AtomicU64::new(0),
        })
    }

    /// Forwards a v3 datagram from `peer`; answers go back through `main`.
    pub async fn relay(
        &self,
        msg: &[u8],
        peer: SocketAddr,
        main: &Arc<UdpSocket>,
    ) -> std::io::Result<()> {
        let n = self.relayed.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some((after, restarted)) = self.restart
            && n == after + 1
        {
            *self.agent.lock().expect("agent address") = restarted;
            // Relays connected to the old agent drain; new ones reach the restarted engine.
            self.relays.lock().expect("relay table").clear();
            tracing::warn!(
                "SNMPv3 engine restarted after {after} requests: engineBoots 2, engineTime 0."
            );
        }
        let existing = self.relays.lock().expect("relay table").get(&peer).cloned();
        let socket = match existing {
            Some(s) => s,
            None => {
                let s = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
                let agent = *self.agent.lock().expect("agent address");
                s.connect(agent).await?;
                self.relays
                    .lock()
                    .expect("relay table")
                    .insert(peer, s.clone());
                let (s2, main, relays) = (s.clone(), main.clone(), self.relays.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65535];
                    while let Ok(Ok(n)) = tokio::time::timeout(RELAY_IDLE, s2.recv(&mut buf)).await
                    {
                        let _ = main.send_to(&buf[..n], peer).await;
                    }
                    let mut relays = relays.lock().expect("relay table");
                    // Only this relay: after a restart, the peer has a newer one.
                    if relays.get(&peer).is_some_and(|r| Arc::ptr_eq(r, &s2)) {
                        relays.remove(&peer);
                    }
                });
                s
            }
        };
        socket.send(msg).await.map(|_| ())
    }
}
