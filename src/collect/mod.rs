//! A collection run: every target walked with bounded concurrency, each one
//! ending in exactly one new snapshot, whatever happened to the others.

mod congestion;
pub mod device;
pub mod modules;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use tracing::{error, info, warn};

use crate::config::credentials::Profile;
use crate::config::targets::Target;
use crate::inventory::Notice;
use crate::progress::Progress;
use crate::snapshot::checkin::{self, Collected, Previous};
use crate::snapshot::store::{Staged, Store, StoreError};
use crate::snapshot::{self, Outcome, Snapshot, Status};
use crate::walk::{Walk, snmprec};
use congestion::Congestion;
pub use device::{DeviceRun, Plan};

/// One device to collect, with the credentials its targets row selects.
#[derive(Clone, Debug)]
pub struct Job {
    pub target: Target,
    pub profile: Arc<Profile>,
}

pub struct Options {
    pub plan: Plan,
    pub parallel_jobs: usize,
    /// Keep each device's raw walk as `.snmprec` beside its snapshot.
    pub raw: bool,
    /// The seed tool's `--debug-dump FILE`: every raw walk as one JSON file.
    pub debug_dump: Option<PathBuf>,
    pub os_family: String,
    /// Recorded in every snapshot: the principal its signatures are checked for.
    pub collector_id: String,
    /// Checkin modules run for every device that answered.
    pub modules: Option<modules::Modules>,
}

/// How one device ended, for the summary.
#[derive(Clone, Debug)]
pub struct DeviceResult {
    pub name: String,
    pub status: Status,
    pub items: usize,
    pub duration: Duration,
    pub reason: Option<String>,
    pub snapshot: Option<PathBuf>,
    pub snmp: crate::snmp::SessionStats,
    /// Walked with GETNEXT: the agent broke on GETBULK.
    pub getnext: bool,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub devices: Vec<DeviceResult>,
    pub duration: Duration,
}

impl DeviceResult {
    /// A device whose snapshot writer panicked (a bug): nothing was written.
    fn crashed(name: String, why: &tokio::task::JoinError) -> DeviceResult {
        DeviceResult {
            name,
            status: Status::Failed,
            items: 0,
            duration: Duration::ZERO,
            reason: Some(format!("internal error while saving: {why}")),
            snapshot: None,
            snmp: crate::snmp::SessionStats::default(),
            getnext: false,
        }
    }
}

impl Summary {
    pub fn count(&self, status: Status) -> usize {
        self.devices.iter().filter(|d| d.status == status).count()
    }

    pub fn all_ok(&self) -> bool {
        self.devices
            .iter()
            .all(|d| d.status == Status::Ok && d.snapshot.is_some())
    }

    /// This run in metrics (docs/operations.md lists them); `complete` says
    /// whether the run did all its work, which alone moves the last success.
    pub fn metrics(&self, m: &mut crate::metrics::Metrics, complete: bool) {
        let now = crate::metrics::now_seconds();
        let sum =
            |f: fn(&DeviceResult) -> u64| -> f64 { self.devices.iter().map(f).sum::<u64>() as f64 };
        m.ended("invmon_collect", "collect", &[], complete, self.duration);
        for status in [Status::Ok, Status::Partial, Status::Failed] {
            m.gauge(
                "invmon_collect_devices",
                "Devices of the last collect by outcome.",
                &[("outcome", &status.to_string())],
                self.count(status) as f64,
            );
        }
        m.gauge(
            "invmon_collect_snapshots_unwritten",
            "Devices of the last collect whose snapshot could not be written.",
            &[],
            self.devices.iter().filter(|d| d.snapshot.is_none()).count() as f64,
        )
        .gauge(
            "invmon_collect_items",
            "Items recorded by the last collect.",
            &[],
            sum(|d| d.items as u64),
        )
        .gauge(
            "invmon_collect_snmp_requests",
            "SNMP requests sent by the last collect, retries included.",
            &[],
            sum(|d| d.snmp.requests),
        )
        .gauge(
            "invmon_collect_snmp_retries",
            "SNMP requests sent again after a timeout or a stale answer.",
            &[],
            sum(|d| d.snmp.reconnects),
        )
        .gauge(
            "invmon_collect_snmp_timeouts",
            "SNMP requests that got no answer in time.",
            &[],
            sum(|d| d.snmp.timeouts),
        )
        .gauge(
            "invmon_collect_snmp_getnext_fallbacks",
            "Devices walked with GETNEXT because they broke on GETBULK.",
            &[],
            sum(|d| u64::from(d.getnext)),
        );
        for d in &self.devices {
            let ok = d.status == Status::Ok && d.snapshot.is_some();
            m.last_time(
                "invmon_collect_device_last_ok_timestamp_seconds",
                "When each device was last collected completely.",
                &[("device", &d.name)],
                ok.then_some(now),
            );
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let items: usize = self.devices.iter().map(|d| d.items).sum();
        let unsaved = self.devices.iter().filter(|d| d.snapshot.is_none()).count();
        out += &format!(
            "devices: {} ok, {} partial, {} failed{}; items: {items}; duration: {:.1} s\n",
            self.count(Status::Ok),
            self.count(Status::Partial),
            self.count(Status::Failed),
            if unsaved > 0 {
                format!(" ({unsaved} snapshots not written)")
            } else {
                String::new()
            },
            self.duration.as_secs_f64()
        );
        let mut slowest: Vec<&DeviceResult> = self.devices.iter().collect();
        slowest.sort_by_key(|d| std::cmp::Reverse(d.duration));
        if !slowest.is_empty() {
            let list: Vec<String> = slowest
                .iter()
                .take(5)
                .map(|d| format!("{} {:.2} s", d.name, d.duration.as_secs_f64()))
                .collect();
            out += &format!("slowest: {}\n", list.join(", "));
        }
        for d in self
            .devices
            .iter()
            .filter(|d| d.status != Status::Ok || d.snapshot.is_none())
        {
            out += &format!(
                "{} {}: {}\n",
                d.status,
                d.name,
                d.reason.as_deref().unwrap_or("snapshot not written")
            );
        }
        out
    }
}

/// How long each device took in the runs before, beside the store: a cache
/// that orders the next run, rebuilt by every run that finds it missing.
const DURATIONS: &str = ".index/collect-durations-1.json";

fn durations(store: &Store) -> HashMap<String, u64> {
    std::fs::read(store.root().join(DURATIONS))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// A device this many times slower than the median starts first.
const OUTLIER: u64 = 10;

/// The outliers first: devices whose last complete walk took at least ten
/// times the median start first, longest first, so that the slowest walks
/// run beside the rest of the fleet instead of finishing alone at the end.
/// Everything else keeps the targets' order: in particular the devices that
/// failed last time, whose timeouts bunched at the start would look like a
/// congested path (docs/collection.md).
fn outliers_first<T>(jobs: &mut [T], name: impl Fn(&T) -> &str, last: &HashMap<String, u64>) {
    let mut known: Vec<u64> = last.values().copied().collect();
    if known.is_empty() {
        return;
    }
    let mid = known.len() / 2;
    let median = *known.select_nth_unstable(mid).1;
    let threshold = median.max(1).saturating_mul(OUTLIER);
    let key = |j: &T| {
        let d = last.get(name(j)).copied().unwrap_or(0);
        if d >= threshold { d } else { 0 }
    };
    jobs.sort_by_key(|j| std::cmp::Reverse(key(j)));
}

/// The devices collected before, but without a complete walk in the last
/// run (dead, filtered), when there was one. One of them that times out
/// again says nothing about the path: it is not collected again after a
/// surge, and its first request has no early attempt.
fn failed_before(jobs: &[Job], last: &HashMap<String, u64>, store: &Store) -> HashSet<String> {
    if last.is_empty() {
        return HashSet::new();
    }
    let names = jobs.iter().map(|j| &j.target.name);
    // A device new to the store has no past to judge it by.
    let failed = |n: &&String| !last.contains_key(*n) && store.device_dir(n).exists();
    names.filter(failed).cloned().collect()
}

/// Keeps the walk times of the devices collected completely: a device that
/// was not (a dead one costs its timeouts) says nothing about its walk, and
/// must not move to the front with the others like it.
fn note_durations(store: &Store, mut last: HashMap<String, u64>, devices: &[DeviceResult]) {
    for d in devices {
        if d.status == Status::Ok {
            let ms = u64::try_from(d.duration.as_millis()).unwrap_or(u64::MAX);
            last.insert(d.name.clone(), ms);
        } else {
            last.remove(&d.name);
        }
    }
    let path = store.root().join(DURATIONS);
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| serde_json::to_vec(&last).map_err(std::io::Error::other))
        .and_then(|bytes| crate::atomic::write(&path, &bytes, crate::atomic::Mode::Replace));
    // Only the next run's order depends on it.
    if let Err(e) = written {
        tracing::debug!("Device durations {} not written: {e}.", path.display());
    }
}

/// Collects every target. Never fails as a whole once started: each device's
/// outcome is in the summary.
pub async fn run(
    mut jobs: Vec<Job>,
    store: Arc<Store>,
    options: Arc<Options>,
    progress: Arc<dyn Progress>,
) -> Summary {
    let started = Instant::now();
    let last = durations(&store);
    outliers_first(&mut jobs, |j| &j.target.name, &last);
    progress.start(jobs.len() as u64);
    let failed_before = Arc::new(failed_before(&jobs, &last, &store));
    let saver = Saver {
        store,
        options: options.clone(),
        progress: progress.clone(),
        slots: Arc::new(tokio::sync::Semaphore::new(crate::pool::cpus())),
        group: Arc::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let ticker = tokio::spawn(saver.group.clone().tick(saver.store.clone(), stopped));
    let congestion = Arc::new(Congestion::new(options.parallel_jobs));
    let mut results = Vec::new();
    let mut pending = jobs;
    for again in 0..=AGAIN {
        let asked = pending.len();
        let mut timed_out = Vec::new();
        for r in pass(
            pending,
            again == AGAIN,
            &congestion,
            &failed_before,
            &options,
            &saver,
        )
        .await
        {
            match r {
                Ok(done) => results.push(done),
                Err(pair) => timed_out.push(pair),
            }
        }
        if timed_out.is_empty() {
            break;
        }
        // Timeouts without a surge, or a pass of them that brought back few:
        // those devices are down, or filtered.
        let surge = if again == 0 {
            congestion.surged()
        } else {
            4 * (asked - timed_out.len()) >= asked
        };
        if !surge {
            // A device that answered in the last run and not once now is
            // tried once more: an outage shorter than its timeouts, or a
            // first request lost three times, is not a failed device.
            let (retry, down): (Vec<_>, Vec<_>) = timed_out.into_iter().partition(|(job, run)| {
                again == 0 && run.stats.answered == 0 && last.contains_key(&job.target.name)
            });
            for (job, run) in down {
                results.push(saver.clone().save(job, run).await);
            }
            if retry.is_empty() {
                break;
            }
            warn!(
                "Collecting again {} that answered in the last run and not now.",
                crate::text::plural(retry.len(), "device", "devices")
            );
            pending = retry.into_iter().map(|(job, _)| job).collect();
            continue;
        }
        congestion.calm();
        warn!(
            "Collecting again {} that timed out while timeouts surged, {} in flight.",
            crate::text::plural(timed_out.len(), "device", "devices"),
            congestion.window().limit()
        );
        pending = timed_out.into_iter().map(|(job, _)| job).collect();
    }
    let _ = stop.send(());
    let (store, group) = (saver.store.clone(), saver.group.clone());
    let finished = match ticker.await {
        Ok(()) => tokio::task::spawn_blocking(move || group.finish(&store)).await,
        Err(e) => Err(e),
    };
    match finished {
        Ok(unplaced) => {
            for (name, e) in unplaced {
                if let Some((result, _)) = results.iter_mut().find(|(r, _)| r.name == name) {
                    not_written(result, &e);
                }
            }
        }
        // A bug: which snapshots are in place is not known, so none is claimed.
        Err(e) => {
            for (result, _) in &mut results {
                let e = StoreError::Io {
                    path: saver.store.root().to_owned(),
                    cause: std::io::Error::other(format!(
                        "putting snapshots in place crashed: {e}"
                    )),
                };
                not_written(result, &e);
            }
        }
    }
    let mut devices = Vec::new();
    let mut dumps = Vec::new();
    for (result, dump) in results {
        devices.push(result);
        dumps.extend(dump);
    }
    progress.finish();
    note_durations(&saver.store, last, &devices);
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(path) = &options.debug_dump {
        write_debug_dump(path, dumps);
    }
    Summary {
        devices,
        duration: started.elapsed(),
    }
}

type Dump = Option<(String, serde_json::Value)>;

/// Passes after the first, for devices that timed out in a surge.
const AGAIN: usize = 3;

/// Collects `jobs` within the congestion window. A device that timed out
/// comes back unsaved (unless this is the `last` pass): whether that was the
/// device or a surge across the fleet is known at the end of the pass.
async fn pass(
    jobs: Vec<Job>,
    last: bool,
    congestion: &Arc<Congestion>,
    failed_before: &Arc<HashSet<String>>,
    options: &Arc<Options>,
    saver: &Saver,
) -> Vec<Result<(DeviceResult, Dump), (Job, DeviceRun)>> {
    let (c, f, o, s) = (
        congestion.clone(),
        failed_before.clone(),
        options.clone(),
        saver.clone(),
    );
    crate::pool::run_windowed(jobs, congestion.window(), move |job| {
        let (congestion, failed_before, options, saver) =
            (c.clone(), f.clone(), o.clone(), s.clone());
        async move {
            let failed_before = failed_before.contains(&job.target.name);
            let run =
                device::collect(&job.target, &job.profile, &options.plan, failed_before).await;
            let congested = run.congested && !failed_before;
            congestion.finished(congested, run.stats.timeouts, run.stats.requests);
            if !last && run.status != Status::Ok && congested {
                return Err((job, run));
            }
            Ok(saver.save(job, run).await)
        }
    })
    .await
}

/// Writes what devices gave. Saving is CPU and disk work (zstd, signing,
/// fsync): as many at once as there are cores, whatever is in flight on
/// the network, so that threads and their compression contexts follow the
/// machine, not the fleet.
#[derive(Clone)]
struct Saver {
    store: Arc<Store>,
    options: Arc<Options>,
    progress: Arc<dyn Progress>,
    slots: Arc<tokio::sync::Semaphore>,
    group: Arc<Group>,
}

impl Saver {
    async fn save(self, job: Job, mut run: DeviceRun) -> (DeviceResult, Dump) {
        let name = job.target.name.clone();
        if !self.options.raw && self.options.debug_dump.is_none() {
            // Parsed already: freed now, on the thread that built it, rather
            // than held while waiting for a slot.
            run.walk = Walk::default();
        }
        // The semaphore is never closed, so a permit always comes.
        let _slot = self.slots.clone().acquire_owned().await.ok();
        let (store, group, options) =
            (self.store.clone(), self.group.clone(), self.options.clone());
        let saved =
            tokio::task::spawn_blocking(move || save(job.target, run, &store, &group, &options))
                .await;
        self.progress.step();
        // A panic while saving is a bug; the device counts as not saved, the others go on.
        saved.unwrap_or_else(|e| (DeviceResult::crashed(name, &e), None))
    }
}

fn not_written(result: &mut DeviceResult, e: &StoreError) {
    error!(device = %result.name, "Snapshot not written: {e}.");
    result.snapshot = None;
    result.reason = Some(format!("snapshot not written: {e}"));
}

/// Snapshots staged and not yet in place, committed a group at a time: the
/// file system is flushed twice per group instead of twice per snapshot
/// (docs/benchmarks.md). A group is committed once it has `GROUP` snapshots
/// or its first is `GROUP_AGE` old, and at the end of the run: a run killed
/// loses at most the snapshots of its last moments, as temporary files that
/// the next one sweeps.
#[derive(Default)]
struct Group {
    pending: Mutex<Pending>,
    failed: Mutex<Vec<(String, StoreError)>>,
}

/// Staged snapshots by device, and when the first of them was.
#[derive(Default)]
struct Pending {
    staged: Vec<(String, Staged)>,
    since: Option<Instant>,
}

const GROUP: usize = 64;
const GROUP_AGE: Duration = Duration::from_secs(1);

impl Group {
    fn add(&self, store: &Store, device: &str, staged: Staged) {
        let due = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.staged.push((device.to_owned(), staged));
            p.since.get_or_insert_with(Instant::now);
            Self::take_due(&mut p)
        };
        self.commit(store, due);
    }

    /// The pending group, if it is due.
    fn due(&self) -> Vec<(String, Staged)> {
        Self::take_due(&mut self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn take_due(p: &mut Pending) -> Vec<(String, Staged)> {
        match p.since {
            Some(first) if p.staged.len() >= GROUP || first.elapsed() >= GROUP_AGE => {
                p.since = None;
                std::mem::take(&mut p.staged)
            }
            _ => Vec::new(),
        }
    }

    /// Commits groups that come due while no device is being saved, until
    /// `stop` (after a commit under way).
    async fn tick(
        self: Arc<Self>,
        store: Arc<Store>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let mut every = tokio::time::interval(GROUP_AGE / 2);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = &mut stop => return,
            }
            let due = self.due();
            if !due.is_empty() {
                let (group, store) = (self.clone(), store.clone());
                let committed = tokio::task::spawn_blocking(move || group.commit(&store, due));
                // A commit that panicked leaves its snapshots unaccounted for:
                // the end of the run must know (it claims none then).
                if let Err(e) = committed.await
                    && e.is_panic()
                {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
    }

    fn commit(&self, store: &Store, group: Vec<(String, Staged)>) {
        if group.is_empty() {
            return;
        }
        let (names, staged): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        let failed = names
            .into_iter()
            .zip(store.commit(staged))
            .filter_map(|(name, r)| Some((name, r.err()?)));
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(failed);
    }

    /// Commits what is left; the snapshots that could not be put in place.
    fn finish(&self, store: &Store) -> Vec<(String, StoreError)> {
        let rest = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        self.commit(store, rest.staged);
        std::mem::take(&mut self.failed.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Builds and stages the device's snapshot (and raw walk); logs the outcome.
fn save(
    target: Target,
    mut run: DeviceRun,
    store: &Store,
    group: &Group,
    options: &Options,
) -> (DeviceResult, Dump) {
    let name = target.name.clone();
    let (previous, problems) = store.latest_ok(&name);
    // Tables that used to answer and now do not: the parts are not gone.
    if run.status == Status::Ok
        && run.no_tables
        && let Some(known) = previous
            .as_ref()
            .map(Previous::present_count)
            .filter(|n| *n > 0)
    {
        let why = format!(
            "no inventory table answered, where the last complete snapshot has {known} items: nothing is inferred absent"
        );
        run.notices.push(Notice::error(why.clone()));
        run.status = Status::Partial;
        run.reason = Some(why);
    }
    let mut notices = run.notices.clone();
    notices.extend(
        problems
            .into_iter()
            .map(|p| Notice::warning(format!("previous snapshot unreadable: {p}"))),
    );
    let device = snapshot::Device {
        name: target.name.clone(),
        address: target.address.clone(),
        platform: target.platform.clone(),
        site: target.site.clone(),
        location: target.location.clone(),
        netbox_id: target.netbox_id,
    };
    // Millisecond precision, the same as the snapshot's file name.
    let at = Utc::now().trunc_subsecs(3);
    let items = run.items.len();
    let checkin = checkin::build(Collected {
        device: &device,
        at,
        status: run.status,
        items: run.items,
        notices: &notices,
        facts: run.facts.clone(),
        os_family: &options.os_family,
        previous: previous.as_ref(),
    });
    let outcome = Outcome {
        status: run.status,
        reason: run.reason.clone(),
        duration_ms: run.duration.as_millis() as u64,
    };
    let mut snap = Snapshot::new(at, device, outcome, checkin);
    snap.tool.collector = options.collector_id.clone();
    if let Some(m) = &options.modules
        && run.status != Status::Failed
    {
        modules::run(m, &mut snap);
    }
    let mut result = DeviceResult {
        name: name.clone(),
        status: run.status,
        items,
        duration: run.duration,
        reason: run.reason.clone(),
        snapshot: None,
        snmp: run.stats,
        getnext: run.getnext,
    };
    let raw = ((options.raw || options.debug_dump.is_some()) && !run.walk.is_empty()).then(|| {
        let mut text = Vec::new();
        // Writing into memory cannot fail.
        let _ = snmprec::write(&run.walk, &mut text);
        text
    });
    match store.stage(snap, raw.as_deref()) {
        Ok(staged) => {
            result.snapshot = Some(staged.path().to_owned());
            group.add(store, &name, staged);
        }
        Err(e) => not_written(&mut result, &e),
    }
    match run.status {
        Status::Ok => {
            info!(device = %name, items = result.items, ms = run.duration.as_millis() as u64, "Collected.")
        }
        Status::Partial => {
            warn!(device = %name, items = result.items, "Partial collection: {}.", run.reason.as_deref().unwrap_or(""))
        }
        Status::Failed => {
            error!(device = %name, "Collection failed: {}.", run.reason.as_deref().unwrap_or(""))
        }
    }
    let dump = options.debug_dump.as_ref().map(|_| {
        let rows: serde_json::Map<String, serde_json::Value> = run
            .walk
            .iter()
            .filter_map(|(o, v)| Some((o.to_string(), serde_json::to_value(v).ok()?)))
            .collect();
        (name, serde_json::Value::Object(rows))
    });
    (result, dump)
}

fn write_debug_dump(path: &std::path::Path, dumps: Vec<(String, serde_json::Value)>) {
    let doc: serde_json::Map<String, serde_json::Value> = dumps.into_iter().collect();
    let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    match crate::atomic::write(path, &text, crate::atomic::Mode::Replace) {
        Ok(()) => info!("Raw SNMP data written to {}.", path.display()),
        Err(e) => error!("Cannot write debug dump {}: {e}.", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_outliers_move_to_the_front_and_the_rest_keep_their_order() {
        let mut last: HashMap<String, u64> = (0..20).map(|i| (format!("d{i}"), 2_000)).collect();
        last.insert("slow".into(), 70_000);
        last.insert("slower".into(), 80_000);
        last.insert("a-bit-slow".into(), 15_000);
        let mut jobs = ["d1", "new", "slow", "a-bit-slow", "dead", "slower", "d2"];
        outliers_first(&mut jobs, |j| j, &last);
        assert_eq!(
            jobs,
            ["slower", "slow", "d1", "new", "a-bit-slow", "dead", "d2"]
        );
        let mut none = ["b", "a"];
        outliers_first(&mut none, |j| j, &HashMap::new());
        assert_eq!(none, ["b", "a"]);
    }
}
