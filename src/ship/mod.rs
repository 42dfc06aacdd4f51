//! Shipping snapshots to a destination, plan first, then apply, exactly once.
//!
//! What every destination shares lives here: which snapshots each device
//! still owes (the ledger), oldest first, with bounded concurrency across
//! devices; one writer per destination (a lock); dry runs at the write
//! boundary; a write whose outcome is unknown re-planned against the
//! destination's state, never repeated blindly; progress and the summary.
//! A destination (NetBox, Sal) only says how to find a device, plan one
//! snapshot against what it holds, and apply that plan.

pub mod ledger;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lock::{self, LockError};
use crate::netbox::client::NetboxError;
use crate::progress::Progress;
use crate::snapshot::store::{Entry, Store, StoreError};
use crate::snapshot::{Snapshot, Status};
use crate::text::plural;
use ledger::{Ledger, LedgerError};

/// Which of a device's unshipped snapshots a destination receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backlog {
    /// Every one, oldest first (NetBox keeps the history).
    Every,
    /// Only the newest complete one (Sal keeps the present state).
    NewestComplete,
}

/// What a plan writes, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub creates: usize,
    pub updates: usize,
    pub unchanged: usize,
    /// Parts the destination already knows from a newer snapshot.
    pub superseded: usize,
    /// Documents sent (Sal).
    pub documents: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.creates += o.creates;
        self.updates += o.updates;
        self.unchanged += o.unchanged;
        self.superseded += o.superseded;
        self.documents += o.documents;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error(transparent)]
    Netbox(#[from] NetboxError),
    #[error(transparent)]
    Sal(#[from] crate::sal::client::SalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The destination has no such device, or another one under that id.
    #[error("{0}")]
    Device(String),
    /// The document breaks a rule of the destination's.
    #[error("{0}")]
    Contract(String),
    #[error("{what} stayed unknown after {replans} re-plans; nothing more was sent")]
    StillUnknown { what: String, replans: u32 },
}

impl ShipError {
    /// The write may have been carried out: re-read and re-plan.
    fn is_unknown(&self) -> bool {
        match self {
            ShipError::Netbox(e) => e.is_unknown(),
            ShipError::Sal(e) => e.is_unknown(),
            _ => false,
        }
    }
}

/// A destination: how to find a device, plan a snapshot against what the
/// destination holds, and write the plan.
pub trait Destination: Send + Sync + 'static {
    /// The destination's handle on one device (NetBox: its id and site).
    type Device: Send + Sync + 'static;
    type Plan: Serialize + Send + Sync + 'static;

    /// `netbox`, `sal`: in messages, ledger and lock names.
    fn kind(&self) -> &'static str;
    /// The instance, one spelling per server: ledgers and locks are per instance.
    fn instance(&self) -> &str;
    fn backlog(&self) -> Backlog;
    /// Whether `plan` needs the last snapshot sent (Sal's status dates do).
    fn needs_last_sent(&self) -> bool {
        false
    }
    /// How long a write that cannot be repeated may still land after it was
    /// sent (the request timeout); zero when every write may be repeated.
    fn settle(&self) -> Duration {
        Duration::ZERO
    }
    fn device(
        &self,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<Self::Device, ShipError>> + Send;
    fn plan(
        &self,
        device: &Self::Device,
        snapshot: &Snapshot,
        last_sent: Option<&Snapshot>,
    ) -> impl Future<Output = Result<Self::Plan, ShipError>> + Send;
    fn counts(plan: &Self::Plan) -> Counts;
    /// Writes the plan, calling `before_once` before each write that cannot
    /// be repeated (so that the stage can note it in the ledger first).
    fn apply(
        &self,
        device: &Self::Device,
        plan: &Self::Plan,
        before_once: &(dyn Fn() -> Result<(), ShipError> + Sync),
    ) -> impl Future<Output = Result<(), ShipError>> + Send;
    /// Requests, retries and unknown outcomes so far.
    fn requests(&self) -> (u64, u64, u64);
    /// A plan made from the record alone, asking the destination nothing:
    /// when `snapshot` would write nothing that `last_sent` did not, and
    /// nothing falls due after `touched` (the oldest time the destination
    /// holds for the device, as the last write left it).
    fn quiet_plan(
        &self,
        _snapshot: &Snapshot,
        _last_sent: &Snapshot,
        _touched: DateTime<Utc>,
    ) -> Option<Self::Plan> {
        None
    }
    /// The `touched` that applying `plan` leaves (see `quiet_plan`).
    fn touched(_plan: &Self::Plan) -> Option<DateTime<Utc>> {
        None
    }
}

pub struct Options {
    /// Only this device.
    pub only: Option<String>,
    pub dry_run: bool,
    /// Devices shipped at the same time.
    pub workers: usize,
    /// Where ledgers and locks live (outside the store).
    pub state: PathBuf,
    /// How long to wait for another run shipping to the same destination.
    pub lock_wait: Duration,
}

/// Re-plans after unknown outcomes, per snapshot, before giving up.
const MAX_REPLANS: u32 = 3;

/// One snapshot's outcome.
#[derive(Debug, Serialize)]
pub struct Shipped<P> {
    pub snapshot: String,
    pub status: Status,
    pub counts: Counts,
    pub replans: u32,
    /// Settled from the record alone: no request.
    pub quiet: bool,
    /// The plan itself, in dry runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<P>,
}

/// One device's outcome.
#[derive(Debug, Serialize)]
pub struct DeviceReport<P> {
    pub device: String,
    pub shipped: Vec<Shipped<P>>,
    /// Unshipped snapshots not planned in a dry run (they wait for the first).
    pub waiting: usize,
    /// Snapshots passed over because they cannot be read, by path and reason.
    pub unreadable: Vec<String>,
    /// Why the device stopped short, if it did.
    pub error: Option<String>,
}

impl<P> DeviceReport<P> {
    fn new(device: &str) -> Self {
        DeviceReport {
            device: device.to_owned(),
            shipped: Vec::new(),
            waiting: 0,
            unreadable: Vec::new(),
            error: None,
        }
    }

    pub fn complete(&self) -> bool {
        self.error.is_none() && self.unreadable.is_empty()
    }
}

#[derive(Debug, Serialize)]
pub struct Report<P> {
    pub destination: String,
    pub instance: String,
    pub dry_run: bool,
    pub devices: Vec<DeviceReport<P>>,
    pub requests: u64,
    pub retries: u64,
    pub replans: u64,
    #[serde(skip)]
    pub duration: Duration,
}

impl<P> Report<P> {
    pub fn complete(&self) -> bool {
        self.devices.iter().all(DeviceReport::complete)
    }

    /// This run to one destination in metrics (docs/operations.md).
    pub fn metrics(&self, m: &mut crate::metrics::Metrics) {
        let mut counts = Counts::default();
        let mut snapshots = 0;
        for s in self.devices.iter().flat_map(|d| &d.shipped) {
            snapshots += 1;
            counts += s.counts;
        }
        let failed = self.devices.iter().filter(|d| !d.complete()).count();
        let to: &[(&str, &str)] = &[("destination", &self.destination)];
        m.ended("invmon_ship", "ship", to, self.complete(), self.duration);
        m.gauge(
            "invmon_ship_snapshots",
            "Snapshots shipped by the last ship.",
            to,
            snapshots as f64,
        )
        .gauge(
            "invmon_ship_devices_failed",
            "Devices the last ship left short.",
            to,
            failed as f64,
        )
        .gauge(
            "invmon_ship_creates",
            "Probes (or checkins) created by the last ship.",
            to,
            (counts.creates + counts.documents) as f64,
        )
        .gauge(
            "invmon_ship_time_updates",
            "Probe times moved by the last ship.",
            to,
            counts.updates as f64,
        )
        .gauge(
            "invmon_ship_requests",
            "HTTP requests of the last ship.",
            to,
            self.requests as f64,
        )
        .gauge(
            "invmon_ship_retries",
            "HTTP requests of the last ship sent again.",
            to,
            self.retries as f64,
        )
        .gauge(
            "invmon_ship_replans",
            "Writes of unknown outcome the last ship planned again.",
            to,
            self.replans as f64,
        );
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        let mut counts = Counts::default();
        let (mut snapshots, mut failed_collections, mut waiting, mut unreadable) = (0, 0, 0, 0);
        let mut quiet = 0;
        for d in &self.devices {
            for s in &d.shipped {
                snapshots += 1;
                quiet += usize::from(s.quiet);
                failed_collections += usize::from(s.status == Status::Failed);
                counts += s.counts;
            }
            waiting += d.waiting;
            unreadable += d.unreadable.len();
        }
        let failed = self.devices.iter().filter(|d| d.error.is_some()).count();
        let mut parts = vec![if self.dry_run {
            format!(
                "{} planned (the next of each device)",
                plural(snapshots, "snapshot", "snapshots")
            )
        } else {
            format!("{} shipped", plural(snapshots, "snapshot", "snapshots"))
        }];
        if self.destination == "sal" {
            parts.push(plural(counts.documents, "checkin", "checkins"));
        } else {
            parts.push(plural(counts.creates, "new probe", "new probes"));
            parts.push(plural(counts.updates, "time update", "time updates"));
            parts.push(format!("{} unchanged", counts.unchanged));
            if counts.superseded > 0 {
                parts.push(format!("{} already newer in NetBox", counts.superseded));
            }
        }
        if quiet > 0 {
            parts.push(format!(
                "{} as the last sent, no touch due (no request)",
                plural(quiet, "snapshot", "snapshots")
            ));
        }
        if failed_collections > 0 {
            parts.push(format!(
                "{} with nothing to write",
                plural(
                    failed_collections,
                    "failed collection",
                    "failed collections"
                )
            ));
        }
        if waiting > 0 {
            parts.push(format!(
                "{} more {} behind them",
                waiting,
                if waiting == 1 { "waits" } else { "wait" }
            ));
        }
        if unreadable > 0 {
            parts.push(format!(
                "{} passed over",
                plural(unreadable, "unreadable snapshot", "unreadable snapshots")
            ));
        }
        parts.push(format!("{} failed", plural(failed, "device", "devices")));
        parts.push(plural(self.requests as usize, "request", "requests"));
        parts.push(plural(self.retries as usize, "retry", "retries"));
        parts.push(plural(self.replans as usize, "re-plan", "re-plans"));
        format!(
            "{}{}: {}; {:.1} s",
            self.destination,
            if self.dry_run { " (dry run)" } else { "" },
            parts.join(", "),
            self.duration.as_secs_f64()
        )
    }
}

/// The ledger and lock of a destination instance.
fn names(kind: &str, instance: &str) -> String {
    crate::snapshot::name::encode(&format!("{kind}-{instance}"))
}

/// Reads a snapshot off the runtime's threads.
async fn read(store: &Arc<Store>, device: &str, entry: &Entry) -> Result<Snapshot, StoreError> {
    let (store, device, entry) = (store.clone(), device.to_owned(), entry.clone());
    tokio::task::spawn_blocking(move || store.read(&device, &entry))
        .await
        .unwrap_or_else(|e| {
            Err(StoreError::Io {
                path: PathBuf::new(),
                cause: std::io::Error::other(e.to_string()),
            })
        })
}

/// A snapshot the allowed signers refuse may be a forgery: the device's
/// record stops before it, neither skipping it nor shipping past it, until
/// someone looks (docs/provenance.md).
fn held<P>(mut report: DeviceReport<P>, refused: StoreError) -> DeviceReport<P> {
    report.error = Some(format!(
        "{refused}; held: nothing later is shipped for this device until that file is resolved"
    ));
    report
}

/// Ships every device's unshipped snapshots to `destination`.
pub async fn run<D: Destination>(
    destination: Arc<D>,
    store: Arc<Store>,
    options: &Options,
    legacy_ledger: Option<&Path>,
    progress: Arc<dyn Progress>,
) -> Result<Report<D::Plan>, ShipError> {
    let started = Instant::now();
    let name = names(destination.kind(), destination.instance());
    let what = format!("{} {}", destination.kind(), destination.instance());
    // A dry run writes nothing and needs no lock.
    let _lock = if options.dry_run {
        None
    } else {
        Some(lock::acquire(
            &options.state.join(format!("{name}.lock")),
            &what,
            options.lock_wait,
        )?)
    };
    let ledger = if options.dry_run {
        Ledger::read(&options.state, &name)?
    } else {
        Ledger::open(&options.state, &name, legacy_ledger)?
    };
    let ledger = Arc::new(Mutex::new(ledger));
    let devices = match &options.only {
        Some(d) => {
            if store.list(d)?.is_empty() {
                return Err(StoreError::NoSnapshots {
                    device: d.clone(),
                    root: store.root().to_owned(),
                }
                .into());
            }
            vec![d.clone()]
        }
        None => store.devices()?,
    };
    progress.start(devices.len() as u64);
    let replans = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reports = crate::pool::run_bounded(devices, options.workers, |device| {
        let (destination, store, ledger, replans, progress) = (
            destination.clone(),
            store.clone(),
            ledger.clone(),
            replans.clone(),
            progress.clone(),
        );
        let dry_run = options.dry_run;
        async move {
            let report =
                ship_device(&*destination, &store, &ledger, &device, dry_run, &replans).await;
            progress.step();
            report
        }
    })
    .await;
    progress.finish();
    let (requests, retries, _) = destination.requests();
    let mut devices: Vec<DeviceReport<D::Plan>> = reports;
    devices.sort_by(|a, b| a.device.cmp(&b.device));
    Ok(Report {
        destination: destination.kind().to_owned(),
        instance: destination.instance().to_owned(),
        dry_run: options.dry_run,
        devices,
        requests,
        retries,
        replans: replans.load(std::sync::atomic::Ordering::Relaxed),
        duration: started.elapsed(),
    })
}

/// One device's backlog. Snapshots the ledger covers are not even read.
async fn ship_device<D: Destination>(
    destination: &D,
    store: &Arc<Store>,
    ledger: &Mutex<Ledger>,
    device: &str,
    dry_run: bool,
    replans: &std::sync::atomic::AtomicU64,
) -> DeviceReport<D::Plan> {
    let mut report = DeviceReport::new(device);
    // Read before listing: a snapshot written after this moves the time.
    let changed = store.settled_change(device, SETTLED);
    if changed.is_some() && ledger_of(ledger).get(device).and_then(|s| s.listed) == changed {
        tracing::debug!(device = %device, "Directory unchanged since it last left nothing to ship; not listed.");
        return report;
    }
    let entries = match store.list(device) {
        Ok(e) => e,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let (done, last_sent, mut touched) = {
        let ledger = ledger_of(ledger);
        let shipped = ledger.get(device);
        (
            ledger.shipped(device),
            shipped.map(|s| s.last_sent().to_owned()),
            shipped.and_then(|s| s.touched),
        )
    };
    let last_entry = last_sent
        .filter(|_| destination.needs_last_sent())
        .and_then(|stamp| entries.iter().find(|e| e.stamp() == stamp).cloned());
    let pending: Vec<Entry> = entries.into_iter().filter(|e| e.stamp() > done).collect();
    let Some(newest) = pending.last().cloned() else {
        if !dry_run {
            note_listed(ledger, device, changed, &mut report);
        }
        return report;
    };
    // Sal: only the newest complete snapshot is sent; older ones are covered by it.
    let queue: Vec<Entry> = match destination.backlog() {
        Backlog::Every => pending,
        Backlog::NewestComplete => {
            let mut chosen = Vec::new();
            for entry in pending.iter().rev() {
                match read(store, device, entry).await {
                    Ok(s) if s.outcome.status == Status::Ok => {
                        chosen.push(entry.clone());
                        break;
                    }
                    Ok(_) => {}
                    Err(e @ StoreError::Refused { .. }) => return held(report, e),
                    Err(e) => report.unreadable.push(e.to_string()),
                }
            }
            if chosen.is_empty() && !dry_run {
                // Nothing complete to send: done with these until a newer one comes.
                if let Err(e) = record(ledger, device, &newest.stamp(), None, None) {
                    report.error = Some(e.to_string());
                }
                return report;
            }
            chosen
        }
    };
    let mut last_sent = match &last_entry {
        Some(entry) => read(store, device, entry).await.ok(),
        None => None,
    };
    // A write of a run that was killed may still be landing: wait it out,
    // so the plan reads what the destination will hold.
    let pending = ledger_of(ledger).pending(device);
    if let Some(until) = pending.filter(|_| !dry_run)
        && let Ok(wait) = (until - chrono::Utc::now()).to_std()
    {
        tracing::info!(device = %device, "Waiting {:.0} s for a write of an interrupted run to settle.", wait.as_secs_f64());
        tokio::time::sleep(wait).await;
    }
    let mut handle: Option<D::Device> = None;
    let total = queue.len();
    for (i, entry) in queue.into_iter().enumerate() {
        let snapshot = match read(store, device, &entry).await {
            Ok(s) => s,
            Err(e @ StoreError::Refused { .. }) => return held(report, e),
            // Each snapshot is a whole state: later ones still ship (docs/netbox.md).
            Err(e) => {
                report.unreadable.push(e.to_string());
                continue;
            }
        };
        let mut shipped = Shipped {
            snapshot: entry.stamp(),
            status: snapshot.outcome.status,
            counts: Counts::default(),
            replans: 0,
            quiet: false,
            plan: None,
        };
        let quiet = match (&last_sent, touched) {
            (Some(last), Some(t)) if snapshot.outcome.status != Status::Failed => {
                destination.quiet_plan(&snapshot, last, t)
            }
            _ => None,
        };
        let mut left = None;
        if let Some(plan) = quiet {
            shipped.counts = D::counts(&plan);
            shipped.quiet = true;
            if dry_run {
                shipped.plan = Some(plan);
            }
        // A failed collection says nothing about the hardware: nothing to write.
        } else if snapshot.outcome.status != Status::Failed {
            if handle.is_none() {
                match destination.device(&snapshot).await {
                    Ok(h) => handle = Some(h),
                    Err(e) => {
                        report.error = Some(e.to_string());
                        return report;
                    }
                }
            }
            let Some(dev) = handle.as_ref() else { break };
            let intend = || {
                let until = chrono::Utc::now()
                    + chrono::TimeDelta::from_std(destination.settle()).unwrap_or_default();
                ledger_of(ledger)
                    .intend(device, until)
                    .map_err(ShipError::from)
            };
            let apply = Apply {
                dry_run,
                before_once: &intend,
            };
            match plan_and_apply(
                destination,
                dev,
                &snapshot,
                last_sent.as_ref(),
                &apply,
                &mut shipped,
            )
            .await
            {
                Ok(t) => left = t,
                Err(e) => {
                    replans.fetch_add(
                        u64::from(shipped.replans),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    report.error = Some(e.to_string());
                    return report;
                }
            }
            replans.fetch_add(
                u64::from(shipped.replans),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if dry_run {
            report.waiting = total - i - 1;
            report.shipped.push(shipped);
            // Later snapshots would be planned against writes this one has not made.
            break;
        }
        let through = match destination.backlog() {
            Backlog::Every => entry.stamp(),
            Backlog::NewestComplete => newest.stamp(),
        };
        let sent = (snapshot.outcome.status != Status::Failed).then(|| entry.stamp());
        if let Err(e) = record(ledger, device, &through, sent.as_deref(), left) {
            report.error = Some(e.to_string());
            return report;
        }
        touched = left.or(touched);
        if sent.is_some() && destination.needs_last_sent() {
            last_sent = Some(snapshot);
        }
        report.shipped.push(shipped);
    }
    if report.unreadable.is_empty() && ledger_of(ledger).shipped(device) == newest.stamp() {
        note_listed(ledger, device, changed, &mut report);
    }
    report
}

/// How long a device directory must have been unchanged before its time
/// vouches that it holds nothing new (file systems' clocks tick coarsely;
/// a network file system's may also lag).
const SETTLED: Duration = Duration::from_secs(2);

fn ledger_of(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(|p| p.into_inner())
}

/// Notes a directory that left nothing to ship, so that while it stays as
/// it is, later runs do not list it: a ship with nothing new then costs
/// one `stat` per device, however many snapshots the store keeps.
fn note_listed(
    ledger: &Mutex<Ledger>,
    device: &str,
    changed: Option<u64>,
    report: &mut DeviceReport<impl Sized>,
) {
    let Some(changed) = changed else { return };
    if let Err(e) = ledger_of(ledger).note_listed(device, changed) {
        report.error = Some(e.to_string());
    }
}

fn record(
    ledger: &Mutex<Ledger>,
    device: &str,
    through: &str,
    sent: Option<&str>,
    touched: Option<DateTime<Utc>>,
) -> Result<(), LedgerError> {
    ledger_of(ledger).record(device, through, sent, touched)
}

/// How a plan is applied.
struct Apply<'a> {
    dry_run: bool,
    before_once: &'a (dyn Fn() -> Result<(), ShipError> + Sync),
}

/// Plans and writes one snapshot; an unknown outcome is re-planned, once
/// the write can no longer land, against what the destination now holds,
/// which shows what the write did. Returns what the written plan leaves
/// `touched` (none in a dry run).
async fn plan_and_apply<D: Destination>(
    destination: &D,
    device: &D::Device,
    snapshot: &Snapshot,
    last_sent: Option<&Snapshot>,
    how: &Apply<'_>,
    shipped: &mut Shipped<D::Plan>,
) -> Result<Option<DateTime<Utc>>, ShipError> {
    let dry_run = how.dry_run;
    loop {
        let plan = destination.plan(device, snapshot, last_sent).await?;
        // A re-plan shows what an unknown write did; the first plan says what
        // this snapshot changes.
        if shipped.replans == 0 {
            shipped.counts = D::counts(&plan);
        }
        if dry_run {
            shipped.plan = Some(plan);
            return Ok(None);
        }
        match destination.apply(device, &plan, how.before_once).await {
            Ok(()) => return Ok(D::touched(&plan)),
            Err(e) if e.is_unknown() && shipped.replans < MAX_REPLANS => {
                let settle = destination.settle();
                tracing::warn!(device = %snapshot.device.name, "{e}; reading the destination again in {:.0} s, when the write can no longer land.", settle.as_secs_f64());
                tokio::time::sleep(settle).await;
                shipped.replans += 1;
            }
            Err(e) if e.is_unknown() => {
                return Err(ShipError::StillUnknown {
                    what: e.to_string(),
                    replans: shipped.replans,
                });
            }
            Err(e) => return Err(e),
        }
    }
}
