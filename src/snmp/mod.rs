//! SNMP transport: the session seam, the snmp2 adapter, the walker and USM.
//!
//! Everything above this module talks to devices through [`Session`], so the
//! walker and the collector can be tested against fakes and real agents alike.

pub mod ber;
pub mod diagnose;
pub mod session;
pub mod usm;
pub mod walk;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use secrecy::SecretString;

use crate::walk::{Oid, Value};

/// What an agent said about one requested OID.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Value(Value),
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VarBind {
    pub oid: Oid,
    pub reply: Reply,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// RFC 3416 error-status (0 = noError, 1 = tooBig, 5 = genErr, …).
    pub error_status: u32,
    pub error_index: u32,
    pub varbinds: Vec<VarBind>,
}

pub const TOO_BIG: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V2c,
    V3,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V2c => "2c",
            Version::V3 => "3",
        })
    }
}

/// The credentials of one SNMP version. `label` names them in facts and
/// messages without revealing the secret (a community is a password).
#[derive(Clone, Debug)]
pub enum Credentials {
    V2c {
        community: SecretString,
        label: String,
    },
    V3(usm::V3Params),
}

impl Credentials {
    pub fn version(&self) -> Version {
        match self {
            Credentials::V2c { .. } => Version::V2c,
            Credentials::V3(_) => Version::V3,
        }
    }

    /// Who we are on the wire, safe to record: the v3 user, or which community setting.
    pub fn identity(&self) -> String {
        match self {
            Credentials::V2c { label, .. } => label.clone(),
            Credentials::V3(p) => p.user.clone(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SnmpError {
    #[error(
        "no answer within {0:?} (wrong community, unknown v3 context, filtered port or device down)"
    )]
    Timeout(Duration),
    #[error("cannot resolve {host}: {why}")]
    Resolve { host: String, why: String },
    #[error("network error: {0}")]
    Network(String),
    #[error("SNMPv3 authentication failed: {0}")]
    Auth(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("malformed answer: {0}")]
    Protocol(String),
    #[error("agent returned error-status {status} ({}) at varbind {index}", status_name(*.status))]
    Agent { status: u32, index: u32 },
    // OIDs boxed: they are kept inline, and an error is passed up many frames.
    #[error(
        "agent returned non-increasing OIDs ({got} after {previous}); walk stopped to avoid a loop"
    )]
    NonIncreasing { previous: Box<Oid>, got: Box<Oid> },
    #[error("agent sent a value the decoder cannot read after {after}; walk stopped")]
    Undecodable { after: Box<Oid> },
    #[error("walk of {subtree} exceeded {limit} rows; stopped as endless")]
    TooManyRows { subtree: Box<Oid>, limit: usize },
    #[error("walk of {subtree} took more than {limit} requests; stopped")]
    TooManyRequests { subtree: Box<Oid>, limit: usize },
}

impl SnmpError {
    /// Errors that mean "this device will not talk to us with these settings",
    /// as opposed to a walk that broke half-way.
    pub fn is_connection_failure(&self) -> bool {
        matches!(
            self,
            SnmpError::Timeout(_)
                | SnmpError::Resolve { .. }
                | SnmpError::Network(_)
                | SnmpError::Auth(_)
        )
    }
}

pub fn status_name(status: u32) -> &'static str {
    const NAMES: [&str; 19] = [
        "noError",
        "tooBig",
        "noSuchName",
        "badValue",
        "readOnly",
        "genErr",
        "noAccess",
        "wrongType",
        "wrongLength",
        "wrongEncoding",
        "wrongValue",
        "noCreation",
        "inconsistentValue",
        "resourceUnavailable",
        "commitFailed",
        "undoFailed",
        "authorizationError",
        "notWritable",
        "inconsistentName",
    ];
    NAMES.get(status as usize).copied().unwrap_or("unknown")
}

/// Counters a session keeps about itself, recorded as walk statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub requests: u64,
    pub timeouts: u64,
    pub reconnects: u64,
    /// Round trips of the requests answered: their sum and the longest.
    pub answered: u64,
    pub rtt_total: Duration,
    pub rtt_max: Duration,
}

impl SessionStats {
    pub fn answered_in(&mut self, rtt: Duration) {
        self.answered += 1;
        self.rtt_total += rtt;
        self.rtt_max = self.rtt_max.max(rtt);
    }

    /// These and `other`'s: one device's sessions (a version tried and
    /// given up, then the one that answered) summed.
    pub fn plus(self, other: SessionStats) -> SessionStats {
        SessionStats {
            requests: self.requests + other.requests,
            timeouts: self.timeouts + other.timeouts,
            reconnects: self.reconnects + other.reconnects,
            answered: self.answered + other.answered,
            rtt_total: self.rtt_total + other.rtt_total,
            rtt_max: self.rtt_max.max(other.rtt_max),
        }
    }

    pub fn rtt_mean(&self) -> Duration {
        match u32::try_from(self.answered) {
            Ok(n) if n > 0 => self.rtt_total / n,
            _ => Duration::ZERO,
        }
    }
}

/// One conversation with one agent. Implementations handle timeouts, retries
/// and stale replies; callers see whole answers or an error.
pub trait Session: Send {
    fn get(&mut self, oids: &[Oid]) -> impl Future<Output = Result<Response, SnmpError>> + Send;
    fn get_next(&mut self, oid: &Oid) -> impl Future<Output = Result<Response, SnmpError>> + Send;
    fn get_bulk(
        &mut self,
        oid: &Oid,
        max_repetitions: u32,
    ) -> impl Future<Output = Result<Response, SnmpError>> + Send;
    fn stats(&self) -> SessionStats;
}
