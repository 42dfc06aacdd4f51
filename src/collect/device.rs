//! One device: connect with the configured versions in order, read the
//! system group, walk the vendor's tables once each, parse.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::time::timeout;

use crate::config::credentials::Profile;
use crate::config::targets::{Target, split_address};
use crate::inventory::parsers::Vendor;
use crate::inventory::{Item, Notice};
use crate::snapshot::Status;
use crate::snmp::session::Snmp2Session;
use crate::snmp::walk::Walker;
use crate::snmp::{Credentials, Reply, Session, SessionStats, SnmpError, diagnose};
use crate::walk::Value;
use crate::walk::Walk;
use crate::walk::oid::oid;

/// How to talk to devices; the same for every device of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub timeout: Duration,
    pub retries: u32,
    pub max_repetitions: u32,
    pub deadline: Duration,
    pub max_rows: usize,
}

/// What one collection produced.
#[derive(Debug)]
pub struct DeviceRun {
    pub status: Status,
    pub reason: Option<String>,
    pub walk: Walk,
    pub items: Vec<Item>,
    pub notices: Vec<Notice>,
    pub facts: BTreeMap<String, String>,
    pub duration: Duration,
    /// The device answered, but none of the inventory tables did.
    pub no_tables: bool,
    /// Whether timeouts were a large part of the conversation, or ended it:
    /// what a congested path or an overloaded collector does to devices.
    pub congested: bool,
    /// What the conversation cost (also in `facts`, as text).
    pub stats: SessionStats,
    /// Walked with GETNEXT: the agent broke on GETBULK.
    pub getnext: bool,
}

const SYSTEM: [(&str, &str); 4] = [
    ("sysDescr", "1.3.6.1.2.1.1.1.0"),
    ("sysObjectID", "1.3.6.1.2.1.1.2.0"),
    ("sysUpTime", "1.3.6.1.2.1.1.3.0"),
    ("sysName", "1.3.6.1.2.1.1.5.0"),
];

impl DeviceRun {
    pub(crate) fn failed(reason: String, notices: Vec<Notice>, started: Instant) -> Self {
        let mut notices = notices;
        notices.push(Notice::error(reason.clone()));
        DeviceRun {
            status: Status::Failed,
            reason: Some(reason),
            walk: Walk::new(),
            items: Vec::new(),
            notices,
            facts: BTreeMap::new(),
            duration: started.elapsed(),
            no_tables: false,
            congested: false,
            stats: SessionStats::default(),
            getnext: false,
        }
    }
}

async fn resolve(address: &str, wait: Duration) -> Result<SocketAddr, SnmpError> {
    let (host, port) = split_address(address).map_err(|e| SnmpError::Resolve {
        host: address.to_owned(),
        why: e.to_string(),
    })?;
    let failed = |why: String| SnmpError::Resolve {
        host: host.clone(),
        why,
    };
    let lookup = timeout(
        wait.max(Duration::from_secs(5)),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| failed("DNS lookup timed out".into()))?;
    lookup
        .map_err(|e| failed(e.to_string()))?
        .next()
        .ok_or_else(|| failed("no address".into()))
}

/// Opens a session and reads the system group: proof that these credentials
/// work. What a failed try cost is added to `spent`.
async fn open(
    addr: SocketAddr,
    credentials: &Credentials,
    plan: &Plan,
    failed_before: bool,
    spent: &mut SessionStats,
) -> Result<(Snmp2Session, Walk), SnmpError> {
    let mut session = Snmp2Session::connect(
        addr,
        credentials.clone(),
        plan.timeout,
        plan.retries,
        failed_before,
    )
    .await?;
    let oids: Vec<_> = SYSTEM.iter().map(|(_, o)| oid(o)).collect();
    let answer = session.get(&oids).await.and_then(|r| match r.error_status {
        0 => Ok(r),
        status => Err(SnmpError::Agent {
            status,
            index: r.error_index,
        }),
    });
    let response = answer.inspect_err(|_| *spent = spent.plus(session.stats()))?;
    let walk = response
        .varbinds
        .into_iter()
        .filter_map(|vb| match vb.reply {
            Reply::Value(v) => Some((vb.oid, v)),
            _ => None,
        })
        .collect();
    Ok((session, walk))
}

/// Walk statistics as facts (docs/snapshot-format.md).
fn stat_facts(facts: &mut BTreeMap<String, String>, stats: &SessionStats) {
    facts.insert("walk_requests".into(), stats.requests.to_string());
    facts.insert("walk_timeouts".into(), stats.timeouts.to_string());
    facts.insert("walk_reconnects".into(), stats.reconnects.to_string());
    facts.insert(
        "walk_rtt_mean_ms".into(),
        format!("{:.1}", stats.rtt_mean().as_secs_f64() * 1000.0),
    );
    facts.insert(
        "walk_rtt_max_ms".into(),
        format!("{:.1}", stats.rtt_max.as_secs_f64() * 1000.0),
    );
}

fn describe(credentials: &Credentials) -> String {
    match credentials {
        Credentials::V2c { label, .. } => format!("SNMPv2c with {label}"),
        Credentials::V3(p) => format!("SNMPv3 as user {:?} ({})", p.user, p.level),
    }
}

/// Collects one device; `failed_before`: it failed in the last run, so its
/// silence now costs no more than the configured retries.
pub async fn collect(
    target: &Target,
    profile: &Profile,
    plan: &Plan,
    failed_before: bool,
) -> DeviceRun {
    let started = Instant::now();
    let deadline = started + plan.deadline;
    let mut notices = Vec::new();

    let addr = match resolve(&target.address, plan.timeout).await {
        Ok(a) => a,
        Err(why) => return DeviceRun::failed(why.to_string(), notices, started),
    };

    let mut opened = None;
    let mut failures = Vec::new();
    let mut all_timeouts = true;
    let mut spent = SessionStats::default();
    for credentials in &profile.attempts {
        if Instant::now() >= deadline {
            break;
        }
        match open(addr, credentials, plan, failed_before, &mut spent).await {
            Ok(pair) => {
                opened = Some((pair, credentials));
                break;
            }
            Err(e) => {
                all_timeouts &= matches!(e, SnmpError::Timeout(_));
                let mut why = e.to_string();
                if let (SnmpError::Auth(_) | SnmpError::Timeout(_), Credentials::V3(params)) =
                    (&e, credentials)
                    && let Some(hint) = diagnose::explain(addr, params, plan.timeout).await
                {
                    why = format!("{why}; {hint}");
                }
                let line = format!("{}: {why}", describe(credentials));
                notices.push(Notice::warning(line.clone()));
                failures.push(line);
            }
        }
    }
    let Some(((mut session, mut walk), credentials)) = opened else {
        // Each version's failure is already a WARNING; the ERROR sums up.
        let reason = if failures.is_empty() {
            format!(
                "device deadline of {:?} passed before any answer",
                plan.deadline
            )
        } else {
            format!("no SNMP answer from {addr}: {}", failures.join("; "))
        };
        let mut run = DeviceRun::failed(reason, notices, started);
        run.congested = all_timeouts && !failures.is_empty();
        stat_facts(&mut run.facts, &spent);
        run.stats = spent;
        return run;
    };

    if !failures.is_empty() {
        // Collected, but not as configured first: the log says so, not only the snapshot.
        tracing::warn!(device = %target.name, "Answered to {} only: {}.", describe(credentials), failures.join("; "));
    }
    let mut facts = BTreeMap::new();
    for (name, o) in SYSTEM {
        if let Some(v) = walk.get(&oid(o)) {
            facts.insert(name.to_owned(), v.render().trim().to_owned());
        }
    }
    facts.insert("snmp_version".into(), credentials.version().to_string());
    facts.insert("snmp_identity".into(), credentials.identity());
    facts.insert("management_address".into(), addr.to_string());

    let sys_object_id = match walk.get(&oid(SYSTEM[1].1)) {
        Some(Value::ObjectIdentifier(o)) => Some(o.as_ref().clone()),
        _ => None,
    };
    let vendor = Vendor::choose(&target.platform, sys_object_id.as_ref());
    facts.insert("vendor_parser".into(), vendor.to_string());

    let mut walker = Walker::new(plan.max_repetitions, plan.max_rows);
    let mut failure: Option<String> = None;
    let mut walk_timed_out = false;
    let mut walk_one = async |subtrees: &[&str], walk: &mut Walk, failure: &mut Option<String>| {
        for subtree in subtrees {
            if failure.is_some() {
                return;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                *failure = Some(format!("device deadline of {:?} passed", plan.deadline));
                return;
            };
            let prefix = oid(subtree);
            match timeout(left, walker.walk(&mut session, &prefix, walk)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    walk_timed_out |= matches!(e, SnmpError::Timeout(_));
                    *failure = Some(format!("walk of {prefix} failed: {e}"));
                }
                Err(_) => {
                    *failure = Some(format!(
                        "device deadline of {:?} passed during walk of {prefix}",
                        plan.deadline
                    ))
                }
            }
        }
    };
    let system_rows = walk.len();
    walk_one(vendor.subtrees(), &mut walk, &mut failure).await;
    if failure.is_none() && vendor.needs_fallback(&walk) {
        notices.push(Notice::debug(
            "no ENTITY-MIB serials: reading OLD-CISCO-CHASSIS-MIB",
        ));
        walk_one(vendor.fallback_subtrees(), &mut walk, &mut failure).await;
    }
    if let Some(why) = &walker.fallback {
        notices.push(Notice::warning(format!("walked with GETNEXT: {why}")));
    }

    let parsed = vendor.parse(&walk);
    notices.extend(parsed.notices);
    for item in parsed.items.iter().filter(|i| i.serial_issue.is_some()) {
        let what = if item.name.is_empty() {
            &item.index
        } else {
            &item.name
        };
        notices.push(Notice::warning(format!(
            "{} {what:?} serial {:?}: {}",
            item.class,
            item.serial,
            item.serial_issue.as_deref().unwrap_or_default()
        )));
    }

    let stats = session.stats().plus(spent);
    let inventory_rows = walk.len() - system_rows;
    facts.insert("walk_rows".into(), inventory_rows.to_string());
    stat_facts(&mut facts, &stats);
    facts.insert("walk_mode".into(), walker.mode().to_owned());
    facts.insert(
        "walk_max_repetitions".into(),
        walker.max_repetitions.to_string(),
    );
    facts.insert(
        "walk_duration_ms".into(),
        started.elapsed().as_millis().to_string(),
    );
    facts.insert("items".into(), parsed.items.len().to_string());

    let (status, reason) = match failure {
        None => (Status::Ok, None),
        Some(why) => {
            notices.push(Notice::error(why.clone()));
            // Rows were read: what they show is kept, but nothing is inferred absent.
            let status = if inventory_rows > 0 {
                Status::Partial
            } else {
                Status::Failed
            };
            (status, Some(why))
        }
    };
    DeviceRun {
        status,
        reason,
        walk,
        items: parsed.items,
        notices,
        facts,
        duration: started.elapsed(),
        no_tables: parsed.no_tables,
        congested: walk_timed_out || (stats.timeouts > 0 && 4 * stats.timeouts >= stats.requests),
        stats,
        getnext: walker.fallback.is_some(),
    }
}
