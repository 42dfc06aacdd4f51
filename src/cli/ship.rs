//! `invmon ship`: send snapshots to a destination (Sal), plan first.

use std::time::Duration;

use clap::Args;
use secrecy::SecretString;
use tracing::{error, info, warn};

use super::output::outln;
use super::{Context, Outcome};
use crate::config::{self, ConfigError};
use crate::sal::client::Client;
use crate::sal::contract;
use crate::ship::ledger::Ledger;
use crate::ship::{self, Step};
use crate::snapshot::store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Destination {
    /// NetBox's inventory-monitor plugin (Probes)
    Netbox,
    /// A Sal server's /checkin/ endpoint
    Sal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct ShipArgs {
    /// Where to send snapshots
    #[arg(long, value_enum)]
    to: Destination,
    /// Only this device
    #[arg(short = 'd', long, value_name = "NAME")]
    device: Option<String>,
    /// Show what would be sent, send nothing
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: super::StoreArg,
    /// How --dry-run prints the plan
    #[arg(long, value_enum, default_value = "text")]
    format: PlanFormat,
    #[command(flatten)]
    netbox: super::targets::NetboxArgs,
    /// Devices shipped to NetBox at the same time
    #[arg(
        long,
        env = "NETBOX_SHIP_WORKERS",
        hide_env_values = true,
        value_name = "N",
        default_value = "4",
        value_parser = config::count(1..=32)
    )]
    netbox_workers: u32,
    /// Comma-separated models never shipped to NetBox (also read from the seed's misspelt entPhysicalModelName_exludes)
    #[arg(
        long,
        env = "entPhysicalModelName_excludes",
        hide_env_values = true,
        value_name = "MODELS"
    )]
    model_excludes: Option<String>,
    /// Sal server base URL (checkins go to <URL>/checkin/)
    #[arg(long, env = "SAL_URL", hide_env_values = true, value_name = "URL", value_parser = config::url)]
    sal_url: Option<String>,
    /// Sal machine-group key (prefer SAL_KEY in an env file: flags show in `ps`)
    #[arg(long, env = "SAL_KEY", hide_env_values = true, value_name = "SECRET")]
    sal_key: Option<String>,
    /// Seconds to wait for Sal's answer
    #[arg(
        long,
        env = "SAL_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "60",
        value_parser = config::seconds
    )]
    sal_timeout: Duration,
    /// Retries after a connection error or a 5xx answer
    #[arg(
        long,
        env = "SAL_RETRIES",
        hide_env_values = true,
        value_name = "N",
        default_value = "3",
        value_parser = config::count(0..=20)
    )]
    sal_retries: u32,
    /// Seconds before the first retry (doubling after each)
    #[arg(
        long,
        env = "SAL_RETRY_DELAY",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "1",
        value_parser = config::seconds
    )]
    sal_retry_delay: Duration,
}

pub fn run(args: ShipArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(true)?;
    match args.to {
        Destination::Netbox => to_netbox(&args, context),
        Destination::Sal => to_sal(&args, context),
    }
}

fn to_netbox(args: &ShipArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let client = args.netbox.client(context)?;
    let store = Store::new(&args.store.dir);
    // One ledger per NetBox instance: shipping to another one starts afresh.
    let url = args.netbox.url.clone().unwrap_or_default();
    let host = url.trim_end_matches('/').rsplit("//").next().unwrap_or("");
    let ledger_name = crate::snapshot::name::encode(&format!("netbox-{host}"));
    let ledger = Ledger::load(Ledger::path(store.root(), &ledger_name))?;
    let excludes = args
        .model_excludes
        .clone()
        .or_else(|| std::env::var("entPhysicalModelName_exludes").ok())
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    let options = crate::netbox::ship::Options {
        model_excludes: excludes,
        dry_run: args.dry_run,
    };
    let devices = match &args.device {
        Some(d) => vec![d.clone()],
        None => store.devices()?,
    };
    let (
        mut creates,
        mut updates,
        mut unchanged,
        mut requests,
        mut snapshots,
        mut skipped,
        mut failed,
    ) = (0, 0, 0, 0, 0, 0, 0);
    let mut plans = Vec::new();
    // Devices are independent: a bounded pool ships several at once (NetBox
    // runs several workers); each device's own snapshots stay in order.
    let workers = args.netbox_workers as usize;
    let ledger = std::sync::Mutex::new(ledger);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(
        usize,
        String,
        Vec<crate::netbox::ship::Shipped>,
        Option<String>,
    )> = std::thread::scope(|scope| {
        let pool: Vec<_> = (0..workers.min(devices.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(dir) = devices.get(i) else { break };
                        let (done, error) = match crate::netbox::ship::ship_device(
                            &client, &store, &ledger, dir, &options,
                        ) {
                            Ok(done) => (done, None),
                            Err((done, e)) => (done, Some(e)),
                        };
                        out.push((i, dir.clone(), done, error));
                    }
                    out
                })
            })
            .collect();
        pool.into_iter()
            .flat_map(|w| w.join().expect("ship worker does not panic"))
            .collect()
    });
    results.sort_by_key(|r| r.0);
    for (_, dir, done, error) in results {
        for s in &done {
            snapshots += 1;
            skipped += usize::from(s.status == crate::snapshot::Status::Failed);
            creates += s.plan.creates.len();
            updates += s.plan.updates.len();
            unchanged += s.plan.unchanged;
            requests += s.requests;
            if args.format == PlanFormat::Text || !args.dry_run {
                outln!(
                    "{} {} {}: {} new probes, {} time updates, {} unchanged{}",
                    if args.dry_run {
                        "would ship"
                    } else {
                        "shipped"
                    },
                    s.device,
                    s.snapshot,
                    s.plan.creates.len(),
                    s.plan.updates.len(),
                    s.plan.unchanged,
                    if s.status == crate::snapshot::Status::Failed {
                        " (collection failed: nothing to write)"
                    } else {
                        ""
                    }
                );
            }
        }
        plans.extend(done);
        if let Some(e) = error {
            failed += 1;
            error!(device = %dir, "Not shipped to NetBox: {e}.");
            outln!("failed {dir}: {e}");
        }
    }
    if args.dry_run && args.format == PlanFormat::Json {
        outln!("{}", serde_json::to_string_pretty(&plans)?);
    }
    outln!(
        "netbox: {snapshots} snapshots, {creates} new probes, {updates} time updates, {unchanged} unchanged, {skipped} failed collections skipped, {failed} devices failed, {requests} requests, {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if args.dry_run { " (dry run)" } else { "" }
    );
    Ok(if failed == 0 {
        Outcome::Done
    } else {
        Outcome::Incomplete
    })
}

fn to_sal(args: &ShipArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.warn_secret_flags(&[("sal_key", "--sal-key", "SAL_KEY")]);
    let store = Store::new(&args.store.dir);
    let mut ledger = Ledger::load(Ledger::path(store.root(), "sal"))?;
    let steps = ship::plan(&store, &ledger, args.device.as_deref())?;
    let client = if args.dry_run {
        None
    } else {
        let url = args
            .sal_url
            .as_deref()
            .ok_or_else(|| ConfigError::missing("SAL_URL (--sal-url)", ""))?;
        let key = args
            .sal_key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ConfigError::missing("SAL_KEY (--sal-key)", ""))?;
        Some(Client::new(
            url,
            SecretString::from(key),
            args.sal_timeout,
            args.sal_retries,
            args.sal_retry_delay,
        ))
    };
    // The key goes into the body at send time; a dry run shows documents without it.
    let key = if args.dry_run {
        "(SAL_KEY)".to_owned()
    } else {
        args.sal_key.clone().unwrap_or_default()
    };
    let (mut sent, mut current, mut incomplete, mut failed) = (0, 0, 0, 0);
    for step in steps {
        match step {
            Step::UpToDate { device, stamp } => {
                current += 1;
                outln!("up to date {device}: {stamp} already sent");
            }
            Step::NothingComplete { device } => {
                incomplete += 1;
                outln!("skipped {device}: no complete snapshot to send");
            }
            Step::Unreadable { device, error } => {
                failed += 1;
                error!(device = %device, "Cannot ship: {error}.");
                outln!("failed {device}: {error}");
            }
            Step::Send {
                device,
                entry,
                snapshot,
            } => {
                let (body, trimmed) = ship::sal::body(&snapshot, &key);
                let preflight = contract::check(
                    &contract::Request {
                        method: "POST",
                        path: "/checkin/",
                        authorization: None,
                        content_type: Some("application/json"),
                        body: &body,
                    },
                    None,
                );
                if preflight.status != 200 {
                    failed += 1;
                    let why = preflight.rule.unwrap_or(preflight.body);
                    outln!("failed {device}: the checkin breaks Sal's contract ({why}); not sent");
                    continue;
                }
                let size = format!("{} KB", body.len().div_ceil(1024));
                if let Some(note) = &trimmed {
                    warn!(device = %device, "{note}.");
                }
                let Some(client) = &client else {
                    outln!(
                        "would send {device}: snapshot {} ({size}){}",
                        entry.stamp(),
                        trimmed.map(|t| format!("; {t}")).unwrap_or_default()
                    );
                    continue;
                };
                match client.checkin(&body) {
                    Ok(answer) => {
                        ledger.record(&device, &entry.stamp())?;
                        sent += 1;
                        info!(device = %device, snapshot = %entry.stamp(), "Sent to Sal: {}.", answer.trim());
                        outln!(
                            "sent {device}: snapshot {} ({size}): {}",
                            entry.stamp(),
                            answer.trim()
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        error!(device = %device, "Not sent to {}: {e}.", client.endpoint());
                        outln!("failed {device}: {e}");
                    }
                }
            }
        }
    }
    outln!(
        "sal: {sent} sent, {current} up to date, {incomplete} without a complete snapshot, {failed} failed{}",
        if args.dry_run { " (dry run)" } else { "" }
    );
    Ok(if failed == 0 {
        Outcome::Done
    } else {
        Outcome::Incomplete
    })
}
