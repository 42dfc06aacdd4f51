//! Pinpointing which SNMPv3 setting is wrong.
//!
//! snmp2 reports every USM failure as "not authenticated". The agent knows
//! better, and says so in unauthenticated Report PDUs; this module asks it,
//! one security level at a time, the way an engineer would with net-snmp:
//! 1. a noAuthNoPriv GET as the user: `usmStatsUnknownUserNames` means the
//!    user name is wrong;
//! 2. an authNoPriv session: rejected digests mean the auth password or
//!    protocol is wrong; accepted means the privacy settings are.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::usm::{SecurityLevel, V3Params};
use crate::snmp::ber::{int, read, seq, tlv};

/// usmStats counters (1.3.6.1.6.3.15.1.1.N.0) as BER content, minus N and the trailing 0.
const USM_STATS_PREFIX: [u8; 10] = [0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x0f, 0x01, 0x01];
const UNSUPPORTED_SEC_LEVELS: u8 = 1;
const UNKNOWN_USER_NAMES: u8 = 3;
const SYS_DESCR: [u8; 8] = [0x2b, 6, 1, 2, 1, 1, 1, 0];

/// A sentence naming the setting most likely wrong after `params` failed
/// against `addr`, or `None` when the agent does not answer at all (then the
/// device, not a setting, is the problem). Many agents silently drop what
/// they cannot decrypt, so this is worth asking after a timeout too.
pub async fn explain(addr: SocketAddr, params: &V3Params, wait: Duration) -> Option<String> {
    let user = &params.user;
    match probe_user(addr, params, wait).await {
        Some(Probe::UnknownUser) => {
            return Some(format!(
                "the agent does not know user {user:?}: check SNMP_USER"
            ));
        }
        Some(Probe::UserKnown) => {}
        None => return None,
    }
    if params.level == SecurityLevel::NoAuthNoPriv {
        return Some(format!(
            "user {user:?} exists but needs authentication here: check SNMP_SECURITY and SNMP_AUTH"
        ));
    }
    Some(match auth_only(addr, params, wait).await {
        AuthOnly::Rejected => format!(
            "user {user:?} exists but the agent rejects its authentication: check SNMP_AUTH (password) and SNMP_AUTH_METHOD ({})",
            params.auth_protocol
        ),
        AuthOnly::Accepted if params.level == SecurityLevel::AuthPriv => format!(
            "user {user:?} authenticates but its encrypted requests fail: check SNMP_PRIVACY (password), SNMP_PRIVACY_METHOD ({}), for AES-192/256 SNMP_PRIVACY_KEY_EXTENSION, and SNMP_CONTEXT ({:?})",
            params.priv_protocol, params.context
        ),
        AuthOnly::Accepted => format!(
            "user {user:?} authenticates; check SNMP_CONTEXT ({:?}) and SNMP_SECURITY",
            params.context
        ),
        AuthOnly::Unclear(why) => {
            format!("could not narrow it down ({why}); check SNMP_AUTH and SNMP_PRIVACY")
        }
    })
}

enum Probe {
    UnknownUser,
    UserKnown,
}

enum AuthOnly {
    Rejected,
    Accepted,
    Unclear(String),
}

async fn auth_only(addr: SocketAddr, params: &V3Params, wait: Duration) -> AuthOnly {
    let security = params.at_level(SecurityLevel::AuthNoPriv).security();
    let Ok(mut session) = snmp2::AsyncSession::new_v3(addr, 1, security).await else {
        return AuthOnly::Unclear("no socket".into());
    };
    let init = match timeout(wait, session.init()).await {
        Err(_) => return AuthOnly::Unclear("no answer to engine discovery".into()),
        Ok(r) => r,
    };
    if let Err(e) = init {
        return AuthOnly::Unclear(e.to_string());
    }
    let oid = snmp2::Oid::new(std::borrow::Cow::Borrowed(&SYS_DESCR[..]));
    match timeout(wait, session.get(&oid)).await {
        Ok(Ok(_)) => AuthOnly::Accepted,
        // A Report at authNoPriv that passed authentication: unsupported level.
        Ok(Err(snmp2::Error::AsnWrongType)) => AuthOnly::Accepted,
        Ok(Err(snmp2::Error::AuthFailure(_))) => AuthOnly::Rejected,
        Ok(Err(e)) => AuthOnly::Unclear(e.to_string()),
        // Wrong digests are dropped silently by some agents.
        Err(_) => AuthOnly::Rejected,
    }
}

/// Asks the agent about the user alone; `None` when it does not say
/// (no answer, unreadable answer): the diagnosis then has nothing to add.
async fn probe_user(addr: SocketAddr, params: &V3Params, wait: Duration) -> Option<Probe> {
    let bind = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).await.ok()?;
    socket.connect(addr).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let mut exchange = async |msg: Vec<u8>| -> Option<Vec<u8>> {
        socket.send(&msg).await.ok()?;
        let n = timeout(wait, socket.recv(&mut buf)).await.ok()?.ok()?;
        Some(buf[..n].to_vec())
    };
    let discovery = exchange(message(0x1001, b"", b"", b"")).await?;
    let engine_id = engine_id(&discovery)?;
    let answer = exchange(message(
        0x1002,
        &engine_id,
        params.user.as_bytes(),
        params.context.as_bytes(),
    ))
    .await?;
    Some(match usm_stat(&answer) {
        Some(UNKNOWN_USER_NAMES) => Probe::UnknownUser,
        Some(UNSUPPORTED_SEC_LEVELS) | None => Probe::UserKnown,
        Some(_) => Probe::UserKnown,
    })
}

/// What the diagnosis reads from an agent's report (for the fuzz target).
pub(crate) fn read_report(msg: &[u8]) -> (Option<Vec<u8>>, Option<u8>) {
    (engine_id(msg), usm_stat(msg))
}

fn usm_stat(msg: &[u8]) -> Option<u8> {
    msg.windows(USM_STATS_PREFIX.len() + 2)
        .find(|w| {
            w[..USM_STATS_PREFIX.len()] == USM_STATS_PREFIX && w[USM_STATS_PREFIX.len() + 1] == 0
        })
        .map(|w| w[USM_STATS_PREFIX.len()])
}

/// An unauthenticated, reportable SNMPv3 GET of sysDescr.0.
fn message(id: i64, engine_id: &[u8], user: &[u8], context: &[u8]) -> Vec<u8> {
    let usm = seq(&[
        tlv(0x04, engine_id),
        int(0),
        int(0),
        tlv(0x04, user),
        tlv(0x04, b""),
        tlv(0x04, b""),
    ]);
    let varbinds = seq(&[seq(&[tlv(0x06, &SYS_DESCR), tlv(0x05, b"")])]);
    let pdu = tlv(0xa0, &[int(id), int(0), int(0), varbinds].concat());
    seq(&[
        int(3),
        seq(&[int(id), int(65507), tlv(0x04, &[0x04]), int(3)]),
        tlv(0x04, &usm),
        seq(&[tlv(0x04, engine_id), tlv(0x04, context), pdu]),
    ])
}

/// msgAuthoritativeEngineID from a discovery Report.
fn engine_id(msg: &[u8]) -> Option<Vec<u8>> {
    let (_, body, _) = read(msg)?;
    let (_, _, body) = read(body)?; // msgVersion
    let (_, _, body) = read(body)?; // msgGlobalData
    let (_, usm, _) = read(body)?; // msgSecurityParameters
    let (_, usm_seq, _) = read(usm)?;
    let (tag, id, _) = read(usm_seq)?;
    (tag == 0x04 && !id.is_empty()).then(|| id.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_message_parses_back() {
        let msg = message(7, b"\x80\x00\x1f\x88\x04", b"u", b"ctx");
        assert_eq!(engine_id(&msg).unwrap(), b"\x80\x00\x1f\x88\x04");
        assert!(
            snmp2::Pdu::from_bytes(&msg).is_err(),
            "v3 needs security to decode"
        );
    }

    #[test]
    fn finds_usm_counter() {
        let mut report = vec![0u8; 4];
        report.extend(USM_STATS_PREFIX);
        report.extend([3, 0, 0x41, 1, 1]);
        assert_eq!(usm_stat(&report), Some(UNKNOWN_USER_NAMES));
        assert_eq!(usm_stat(&[1, 2, 3]), None);
    }
}
