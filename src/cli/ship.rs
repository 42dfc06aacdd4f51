//! `invmon ship`: send snapshots to a destination (Sal), plan first.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use tracing::{error, info, warn};
use tracing_subscriber::filter::LevelFilter;

use crate::config;
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
        default_value = "4"
    )]
    netbox_workers: String,
    /// Comma-separated models never shipped to NetBox (also read from the seed's misspelt entPhysicalModelName_exludes)
    #[arg(
        long,
        env = "entPhysicalModelName_excludes",
        hide_env_values = true,
        value_name = "MODELS"
    )]
    model_excludes: Option<String>,
    /// Sal server base URL (checkins go to <URL>/checkin/)
    #[arg(long, env = "SAL_URL", hide_env_values = true, value_name = "URL")]
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
        default_value = "60"
    )]
    sal_timeout: String,
    /// Retries after a connection error or a 5xx answer
    #[arg(
        long,
        env = "SAL_RETRIES",
        hide_env_values = true,
        value_name = "N",
        default_value = "3"
    )]
    sal_retries: String,
    /// Seconds before the first retry (doubling after each)
    #[arg(
        long,
        env = "SAL_RETRY_DELAY",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "1"
    )]
    sal_retry_delay: String,
}

pub fn run(
    args: ShipArgs,
    matches: &clap::ArgMatches,
    level: LevelFilter,
    log_dir: &Path,
) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(level, Some(log_dir)).map_err(anyhow::Error::msg)?;
    match args.to {
        Destination::Netbox => to_netbox(&args, matches),
        Destination::Sal => to_sal(&args, matches),
    }
}

fn to_netbox(args: &ShipArgs, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let client = args.netbox.client(matches)?;
    let store = Store::new(&args.store.dir);
    // One ledger per NetBox instance: shipping to another one starts afresh.
    let url = args.netbox.url.clone().unwrap_or_default();
    let host = url.trim_end_matches('/').rsplit("//").next().unwrap_or("");
    let ledger_name = crate::snapshot::store::sanitize(&format!("netbox-{host}"));
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
        Some(d) => vec![crate::snapshot::store::sanitize(d)],
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
    let workers = crate::config::parse_count(
        "NETBOX_SHIP_WORKERS (--netbox-workers)",
        &args.netbox_workers,
        1..=32,
    )? as usize;
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
                println!(
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
            println!("failed {dir}: {e}");
        }
    }
    if args.dry_run && args.format == PlanFormat::Json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
    }
    println!(
        "netbox: {snapshots} snapshots, {creates} new probes, {updates} time updates, {unchanged} unchanged, {skipped} failed collections skipped, {failed} devices failed, {requests} requests, {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if args.dry_run { " (dry run)" } else { "" }
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_INCOMPLETE)
    })
}

fn to_sal(args: &ShipArgs, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    super::warn_secret_flags(matches, &[("sal_key", "--sal-key", "SAL_KEY")]);
    let store = Store::new(&args.store.dir);
    let mut ledger = Ledger::load(Ledger::path(store.root(), "sal"))?;
    let steps = ship::plan(&store, &ledger, args.device.as_deref())?;
    let client = if args.dry_run {
        None
    } else {
        let url = super::require_url(args.sal_url.as_deref(), "SAL_URL (--sal-url)")?;
        let key = args
            .sal_key
            .clone()
            .filter(|k| !k.is_empty())
            .context("SAL_KEY (--sal-key) is not set")?;
        Some(Client::new(
            url,
            SecretString::from(key),
            config::parse_seconds("SAL_TIMEOUT (--sal-timeout)", &args.sal_timeout)?,
            config::parse_count("SAL_RETRIES (--sal-retries)", &args.sal_retries, 0..=20)? as u32,
            config::parse_seconds("SAL_RETRY_DELAY (--sal-retry-delay)", &args.sal_retry_delay)?,
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
                println!("up to date {device}: {stamp} already sent");
            }
            Step::NothingComplete { device } => {
                incomplete += 1;
                println!("skipped {device}: no complete snapshot to send");
            }
            Step::Unreadable { device, error } => {
                failed += 1;
                error!(device = %device, "Cannot ship: {error}.");
                println!("failed {device}: {error}");
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
                    println!(
                        "failed {device}: the checkin breaks Sal's contract ({why}); not sent"
                    );
                    continue;
                }
                let size = format!("{} KB", body.len().div_ceil(1024));
                if let Some(note) = &trimmed {
                    warn!(device = %device, "{note}.");
                }
                let Some(client) = &client else {
                    println!(
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
                        println!(
                            "sent {device}: snapshot {} ({size}): {}",
                            entry.stamp(),
                            answer.trim()
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        error!(device = %device, "Not sent to {}: {e}.", client.endpoint());
                        println!("failed {device}: {e}");
                    }
                }
            }
        }
    }
    println!(
        "sal: {sent} sent, {current} up to date, {incomplete} without a complete snapshot, {failed} failed{}",
        if args.dry_run { " (dry run)" } else { "" }
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_INCOMPLETE)
    })
}
