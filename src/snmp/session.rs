//! The snmp2 adapter: timeouts, retries, reconnects and owned values.
//!
//! snmp2 has no timeouts of its own, keeps one request in flight per socket,
//! and lets a late reply poison every later request (`RequestIdMismatch`).
//! After any timeout or mismatch the socket is replaced, so stale datagrams
//! are never read.
//!
//! A request is first sent with a retransmission timeout learned from the
//! device's round trips (RFC 6298's estimator: mean + 4 deviations, at least
//! `MIN_RTO`), so a request lost on the way to a 20 ms device costs a
//! fraction of a second rather than the whole `SNMP_TIMEOUT`. Before the
//! first answer it is RFC 6298's initial second: the first requests to a
//! device are the likeliest lost (an address being resolved, a firewall
//! setting up state), except for a device that failed in the last run,
//! whose silence then costs no more than `SNMP_RETRIES` say. That early
//! attempt comes on top of the configured ones, which each wait the whole
//! timeout: a slow answer is still taken, and a run is never less robust to
//! loss than its `SNMP_RETRIES` say.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::ExposeSecret;
use snmp2::AsyncSession;
use tokio::time::timeout;

use super::{Credentials, Oid, Reply, Response, SessionStats, SnmpError, Value, VarBind};

pub struct Snmp2Session {
    addr: SocketAddr,
    credentials: Credentials,
    timeout: Duration,
    retries: u32,
    inner: Option<AsyncSession>,
    stats: SessionStats,
    /// Smoothed round trip and its deviation, in seconds, once measured.
    rtt: Option<(f64, f64)>,
    /// No early attempt before the first answer.
    failed_before: bool,
}

/// The shortest wait before a retry: an agent's answer time varies with its
/// load, and retrying a busy agent sooner only adds to that load.
const MIN_RTO: Duration = Duration::from_millis(250);

/// Room made at most for an answer's varbinds before it is read.
const MAX_VARBINDS: usize = 1024;

/// The early attempt's wait before any round trip is measured (RFC 6298 §2.1).
const INITIAL_RTO: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
enum Op<'a> {
    Get(&'a [Oid]),
    GetNext(&'a Oid),
    GetBulk(&'a Oid, u32),
}

/// A request id start that differs between sessions, so a reply meant for an
/// earlier socket on the same port can never match.
fn start_request_id() -> i32 {
    use std::hash::{BuildHasher, RandomState};
    (RandomState::new().hash_one(std::time::SystemTime::now()) as i32 & 0x3fff_ffff).max(1)
}

impl Snmp2Session {
    /// Opens a session; for v3 this runs engine discovery. `failed_before`:
    /// the device failed in the last run.
    pub async fn connect(
        addr: SocketAddr,
        credentials: Credentials,
        timeout: Duration,
        retries: u32,
        failed_before: bool,
    ) -> Result<Self, SnmpError> {
        let mut session = Self {
            addr,
            credentials,
            timeout,
            retries,
            inner: None,
            stats: SessionStats::default(),
            rtt: None,
            failed_before,
        };
        session.ensure_connected().await?;
        Ok(session)
    }

    async fn open(&mut self, wait: Duration) -> Result<AsyncSession, SnmpError> {
        let io = |e: std::io::Error| {
            SnmpError::Network(format!("cannot open a UDP socket to {}: {e}", self.addr))
        };
        match &self.credentials {
            Credentials::V2c { community, .. } => AsyncSession::new_v2c(
                self.addr,
                community.expose_secret().as_bytes(),
                start_request_id(),
            )
            .await
            .map_err(io),
            Credentials::V3(params) => {
                let mut s = AsyncSession::new_v3(self.addr, start_request_id(), params.security())
                    .await
                    .map_err(io)?;
                self.stats.requests += 1;
                match timeout(wait, s.init()).await {
                    Err(_) => {
                        self.stats.timeouts += 1;
                        Err(SnmpError::Timeout(self.timeout))
                    }
                    Ok(Err(e)) => Err(map_error(e)),
                    Ok(Ok(())) => Ok(s),
                }
            }
        }
    }

    async fn ensure_connected(&mut self) -> Result<(), SnmpError> {
        if self.inner.is_some() {
            return Ok(());
        }
        let mut last = None;
        let early = self.rto();
        for attempt in 0..=self.retries + u32::from(early.is_some()) {
            if attempt > 0 {
                self.stats.reconnects += 1;
            }
            let wait = match early {
                Some(rto) if attempt == 0 => rto,
                _ => self.timeout,
            };
            match self.open(wait).await {
                Ok(s) => {
                    self.inner = Some(s);
                    return Ok(());
                }
                Err(e @ SnmpError::Timeout(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(SnmpError::Timeout(self.timeout)))
    }

    /// The early attempt's wait, if there is one.
    fn rto(&self) -> Option<Duration> {
        let rto = match self.rtt {
            Some((srtt, rttvar)) => Duration::from_secs_f64(srtt + 4.0 * rttvar),
            None if self.failed_before => return None,
            None => INITIAL_RTO,
        };
        Some(rto.clamp(MIN_RTO, self.timeout.max(MIN_RTO)))
    }

    fn measured(&mut self, rtt: Duration) {
        self.stats.answered_in(rtt);
        let r = rtt.as_secs_f64();
        self.rtt = Some(match self.rtt {
            None => (r, r / 2.0),
            Some((srtt, rttvar)) => (
                0.875 * srtt + 0.125 * r,
                0.75 * rttvar + 0.25 * (srtt - r).abs(),
            ),
        });
    }

    async fn request(&mut self, op: Op<'_>) -> Result<Response, SnmpError> {
        let wire_oids = |oids: &[Oid]| -> Result<Vec<snmp2::Oid<'static>>, SnmpError> {
            oids.iter().map(to_wire).collect()
        };
        let (targets, expected) = match op {
            Op::Get(oids) => (wire_oids(oids)?, Some(oids.len())),
            Op::GetNext(oid) => (wire_oids(std::slice::from_ref(oid))?, Some(1)),
            Op::GetBulk(oid, _) => (wire_oids(std::slice::from_ref(oid))?, None),
        };
        let refs: Vec<&snmp2::Oid<'_>> = targets.iter().collect();
        let mut attempts = 0;
        let early = self.rto();
        let allowed = self.retries + u32::from(early.is_some());
        let mut resends = 0;
        loop {
            self.ensure_connected().await?;
            let wait = match early {
                Some(rto) if attempts == 0 => rto,
                _ => self.timeout,
            };
            if tracing::enabled!(tracing::Level::DEBUG) {
                let what = match op {
                    Op::Get(oids) => format!(
                        "GET of {} OIDs from {}",
                        oids.len(),
                        oids.first().map(ToString::to_string).unwrap_or_default()
                    ),
                    Op::GetNext(oid) => format!("GETNEXT {oid}"),
                    Op::GetBulk(oid, max) => format!("GETBULK {oid} x{max}"),
                };
                tracing::debug!(agent = %self.addr, attempt = attempts + 1, wait_ms = wait.as_millis() as u64, "SNMP {what}.");
            }
            let session = self.inner.as_mut().expect("connected above");
            self.stats.requests += 1;
            let sent = std::time::Instant::now();
            let outcome = match op {
                Op::Get(_) => timeout(wait, session.get_many(&refs))
                    .await
                    .map(|r| r.map(|p| owned(&p, refs.len()))),
                Op::GetNext(_) => timeout(wait, session.getnext(refs[0]))
                    .await
                    .map(|r| r.map(|p| owned(&p, 1))),
                Op::GetBulk(_, max) => timeout(wait, session.getbulk(&refs, 0, max))
                    .await
                    .map(|r| r.map(|p| owned(&p, max as usize))),
            };
            let timed_out = outcome.is_err();
            match outcome {
                Ok(Ok(response)) => {
                    self.measured(sent.elapsed());
                    let response = response?;
                    if let Some(n) = expected
                        && response.error_status == 0
                        && response.varbinds.len() < n
                    {
                        let after = match op {
                            Op::Get(oids) => oids[response.varbinds.len()].clone(),
                            Op::GetNext(oid) | Op::GetBulk(oid, _) => oid.clone(),
                        };
                        return Err(SnmpError::Undecodable {
                            after: Box::new(after),
                        });
                    }
                    return Ok(response);
                }
                // Engine boots/time re-synchronised: resend as the crate asks.
                Ok(Err(snmp2::Error::AuthUpdated)) if resends < 3 => resends += 1,
                Ok(Err(snmp2::Error::RequestIdMismatch)) | Err(_) => {
                    if timed_out {
                        self.stats.timeouts += 1;
                    }
                    // A stale or lost datagram: never reuse this socket.
                    self.inner = None;
                    attempts += 1;
                    if attempts > allowed {
                        return Err(SnmpError::Timeout(self.timeout));
                    }
                    self.stats.reconnects += 1;
                }
                Ok(Err(e)) => return Err(map_error(e)),
            }
        }
    }
}

impl super::Session for Snmp2Session {
    async fn get(&mut self, oids: &[Oid]) -> Result<Response, SnmpError> {
        self.request(Op::Get(oids)).await
    }

    async fn get_next(&mut self, oid: &Oid) -> Result<Response, SnmpError> {
        self.request(Op::GetNext(oid)).await
    }

    async fn get_bulk(&mut self, oid: &Oid, max_repetitions: u32) -> Result<Response, SnmpError> {
        self.request(Op::GetBulk(oid, max_repetitions)).await
    }

    fn stats(&self) -> SessionStats {
        self.stats
    }
}

fn to_wire(oid: &Oid) -> Result<snmp2::Oid<'static>, SnmpError> {
    let ber = oid
        .to_ber()
        .ok_or_else(|| SnmpError::Protocol(format!("OID {oid} cannot be encoded")))?;
    Ok(snmp2::Oid::new(std::borrow::Cow::Owned(ber)))
}

/// Copies a borrowed PDU out of the session's receive buffer; `expected`:
/// the varbinds asked for, room made for them at once.
pub(crate) fn owned(pdu: &snmp2::Pdu<'_>, expected: usize) -> Result<Response, SnmpError> {
    let mut varbinds = Vec::with_capacity(expected.min(MAX_VARBINDS));
    for (name, value) in pdu.varbinds.clone() {
        let oid = Oid::from_ber(name.as_bytes())
            .ok_or_else(|| SnmpError::Protocol("undecodable OID in response".into()))?;
        let reply = match value {
            snmp2::Value::Integer(v) => Reply::Value(Value::Integer(v)),
            snmp2::Value::OctetString(b) => Reply::Value(Value::OctetString(b.into())),
            snmp2::Value::ObjectIdentifier(o) => Reply::Value(Value::ObjectIdentifier(Box::new(
                Oid::from_ber(o.as_bytes()).ok_or_else(|| SnmpError::Undecodable {
                    after: Box::new(oid.clone()),
                })?,
            ))),
            snmp2::Value::IpAddress(a) => Reply::Value(Value::IpAddress(a)),
            snmp2::Value::Counter32(v) => Reply::Value(Value::Counter32(v)),
            snmp2::Value::Unsigned32(v) => Reply::Value(Value::Gauge32(v)),
            snmp2::Value::Timeticks(v) => Reply::Value(Value::TimeTicks(v)),
            snmp2::Value::Opaque(b) => Reply::Value(Value::Opaque(b.into())),
            snmp2::Value::Counter64(v) => Reply::Value(Value::Counter64(v)),
            snmp2::Value::Null => Reply::Value(Value::Null),
            snmp2::Value::Boolean(b) => Reply::Value(Value::Integer(i64::from(b))),
            snmp2::Value::EndOfMibView => Reply::EndOfMibView,
            snmp2::Value::NoSuchObject => Reply::NoSuchObject,
            snmp2::Value::NoSuchInstance => Reply::NoSuchInstance,
            _ => {
                return Err(SnmpError::Undecodable {
                    after: Box::new(oid),
                });
            }
        };
        varbinds.push(VarBind { oid, reply });
    }
    Ok(Response {
        error_status: pdu.error_status,
        error_index: pdu.error_index,
        varbinds,
    })
}

fn map_error(e: snmp2::Error) -> SnmpError {
    use snmp2::Error as E;
    use snmp2::v3::AuthErrorKind as K;
    match e {
        E::AuthFailure(K::KeyExtensionRequired) => SnmpError::Auth(
            "this auth/privacy pair needs a key extension: set SNMP_PRIVACY_KEY_EXTENSION (blumenthal or reeder)".into(),
        ),
        E::AuthFailure(kind) => SnmpError::Auth(kind.to_string()),
        // A Report instead of a Response: the agent refused the security level.
        E::AsnWrongType => SnmpError::Auth("the agent answered with a Report (security level refused)".into()),
        E::Send => SnmpError::Network("cannot send".into()),
        E::Receive => SnmpError::Network("connection refused (ICMP port unreachable: no SNMP agent on that port)".into()),
        E::Crypto(why) => SnmpError::Auth(format!("decryption failed: {why}")),
        other => SnmpError::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_early_attempt_waits_for_what_the_device_has_shown() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let credentials = Credentials::V2c {
            community: "x".to_owned().into(),
            label: "SNMP_COMMUNITY".into(),
        };
        let addr = "127.0.0.1:9".parse().unwrap();
        let five = Duration::from_secs(5);
        let connect = |failed_before| {
            rt.block_on(Snmp2Session::connect(
                addr,
                credentials.clone(),
                five,
                2,
                failed_before,
            ))
            .unwrap()
        };
        assert_eq!(connect(true).rto(), None, "failed before: no early attempt");
        let mut s = connect(false);
        assert_eq!(s.rto(), Some(INITIAL_RTO), "nothing measured yet");
        for _ in 0..10 {
            s.measured(Duration::from_millis(20));
        }
        assert_eq!(s.rto(), Some(MIN_RTO));
        for _ in 0..10 {
            s.measured(Duration::from_secs(3));
        }
        let rto = s.rto().unwrap();
        assert!(rto > Duration::from_secs(3) && rto <= five, "{rto:?}");
        assert_eq!(s.stats.answered, 20);
    }
}
