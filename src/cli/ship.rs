//! `invmon ship`: flags and environment → destinations → the ship stage →
//! what was shipped, and the exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use secrecy::SecretString;

use super::output::{outln, reportln};
use super::{Context, Outcome};
use crate::config::{self, ConfigError};
use crate::http::RetryPolicy;
use crate::netbox::ship::Netbox;
use crate::sal::ship::Sal;
use crate::ship::{self, Destination, Options, Report, ShipError};
use crate::snapshot::store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum To {
    Netbox,
    Sal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct ShipArgs {
    /// Where to send snapshots: netbox (inventory-monitor Probes) or sal (a Sal server's /checkin/), repeatable [default: every destination configured: NETBOX_INSTANCE_URL, SAL_URL]
    #[arg(long, value_enum, value_name = "DEST", hide_possible_values = true)]
    to: Vec<To>,
    /// Only this device
    #[arg(short = 'd', long, value_name = "NAME")]
    device: Option<String>,
    /// Show what would be sent, send nothing
    #[arg(long)]
    dry_run: bool,
    /// How --dry-run prints the plan (json: the plan on stdout, the summary on stderr)
    #[arg(long, value_enum, default_value = "text")]
    format: PlanFormat,
    #[command(flatten)]
    metrics: super::MetricsArg,
    #[command(flatten)]
    store: super::StoreArg,
    #[command(flatten)]
    trust: super::TrustArg,
    #[command(flatten)]
    state: super::StateArg,
    #[command(flatten)]
    netbox: super::targets::NetboxArgs,
    /// Seconds to wait for each NetBox answer
    #[arg(help_heading = "NetBox",
        long,
        env = "NETBOX_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "120",
        value_parser = config::seconds
    )]
    netbox_timeout: Duration,
    /// Retries of a NetBox request that may be repeated (reads, time updates)
    #[arg(help_heading = "NetBox",
        long,
        env = "NETBOX_RETRIES",
        hide_env_values = true,
        value_name = "N",
        default_value = "3",
        value_parser = config::count(0..=20)
    )]
    netbox_retries: u32,
    /// Devices shipped to NetBox at the same time
    #[arg(help_heading = "NetBox",
        long,
        env = "NETBOX_SHIP_WORKERS",
        hide_env_values = true,
        value_name = "N",
        default_value = "4",
        value_parser = config::count(1..=32)
    )]
    netbox_workers: u32,
    /// Move an unchanged probe's time only once it is this old: a number and a unit (s, min, h, d, w), 0 = on every snapshot, as the seed did (docs/netbox.md)
    #[arg(help_heading = "NetBox",
        long,
        env = "NETBOX_TOUCH_INTERVAL",
        hide_env_values = true,
        value_name = "SPAN",
        default_value = "0",
        value_parser = config::span
    )]
    touch_interval: chrono::TimeDelta,
    /// Comma-separated models never shipped to NetBox (also read from the seed's misspelt entPhysicalModelName_exludes)
    #[arg(
        help_heading = "NetBox",
        long,
        env = "entPhysicalModelName_excludes",
        hide_env_values = true,
        value_name = "MODELS"
    )]
    model_excludes: Option<String>,
    /// Sal server base URL (checkins go to <URL>/checkin/)
    #[arg(help_heading = "Sal",
        long,
        env = "SAL_URL",
        hide_env_values = true,
        value_name = "URL",
        value_parser = config::url
    )]
    sal_url: Option<String>,
    /// Sal machine-group key (prefer SAL_KEY in an env file: flags show in `ps`)
    #[arg(
        help_heading = "Sal",
        long,
        env = "SAL_KEY",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    sal_key: Option<String>,
    /// Seconds to wait for Sal's answer
    #[arg(help_heading = "Sal",
        long,
        env = "SAL_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "60",
        value_parser = config::seconds
    )]
    sal_timeout: Duration,
    /// Retries after a connection error or a 5xx answer
    #[arg(help_heading = "Sal",
        long,
        env = "SAL_RETRIES",
        hide_env_values = true,
        value_name = "N",
        default_value = "3",
        value_parser = config::count(0..=20)
    )]
    sal_retries: u32,
    /// Seconds before the first retry (doubling after each)
    #[arg(help_heading = "Sal",
        long,
        env = "SAL_RETRY_DELAY",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "1",
        value_parser = config::seconds
    )]
    sal_retry_delay: Duration,
}

impl ShipArgs {
    /// The destinations asked for, or every one configured.
    fn destinations(&self) -> Result<Vec<To>, ConfigError> {
        if !self.to.is_empty() {
            let mut to = self.to.clone();
            to.dedup();
            return Ok(to);
        }
        let mut to = Vec::new();
        if self.netbox.url.is_some() {
            to.push(To::Netbox);
        }
        if self.sal_url.is_some() {
            to.push(To::Sal);
        }
        if to.is_empty() {
            return Err(ConfigError::Unusable(
                "nothing to ship to: set NETBOX_INSTANCE_URL (--netbox-url) or SAL_URL (--sal-url), or give --to".into(),
            ));
        }
        Ok(to)
    }

    fn options(&self) -> Options {
        Options {
            only: self.device.clone(),
            dry_run: self.dry_run,
            workers: self.netbox_workers as usize,
            state: self.state.state_dir.clone(),
            lock_wait: self.state.lock_wait,
        }
    }

    fn netbox(&self, context: &Context<'_>) -> anyhow::Result<Netbox> {
        let excludes = self
            .model_excludes
            .clone()
            .or_else(|| std::env::var("entPhysicalModelName_exludes").ok())
            .map(|m| config::list(&m))
            .unwrap_or_default();
        let policy = RetryPolicy {
            retries: self.netbox_retries,
            ..RetryPolicy::default()
        };
        let client = self.netbox.client(context, self.netbox_timeout, policy)?;
        let url = self.netbox.url.clone().unwrap_or_default();
        Ok(Netbox::new(
            client,
            &url,
            excludes,
            self.netbox_timeout,
            self.touch_interval,
        ))
    }

    fn sal(&self, context: &Context<'_>) -> anyhow::Result<Sal> {
        context.warn_secret_flags(&[("sal_key", "--sal-key", "SAL_KEY")]);
        let url = self
            .sal_url
            .as_deref()
            .ok_or_else(|| ConfigError::missing("SAL_URL (--sal-url)", ""))?;
        // A dry run shows documents without the key, so it needs none.
        let key = match self.sal_key.clone().filter(|k| !k.is_empty()) {
            Some(k) => k,
            None if self.dry_run => String::new(),
            None => return Err(ConfigError::missing("SAL_KEY (--sal-key)", "").into()),
        };
        let policy = RetryPolicy {
            retries: self.sal_retries,
            backoff: self.sal_retry_delay,
            ..RetryPolicy::default()
        };
        let client = crate::sal::client::Client::new(
            url,
            SecretString::from(key),
            self.sal_timeout,
            policy,
        )?;
        Ok(Sal::new(client, url))
    }

    /// Where versions before 0.2 kept this destination's ledger.
    fn legacy_ledger(&self, to: To) -> PathBuf {
        let name = match to {
            To::Netbox => {
                let url = self.netbox.url.clone().unwrap_or_default();
                let host = url
                    .trim_end_matches('/')
                    .rsplit("//")
                    .next()
                    .unwrap_or("")
                    .to_owned();
                crate::snapshot::name::legacy(&format!("netbox-{host}"))
            }
            To::Sal => "sal".to_owned(),
        };
        self.store.dir.join(".ledger").join(format!("{name}.json"))
    }
}

fn print<P: serde::Serialize>(report: &Report<P>, format: PlanFormat) {
    let verb = if report.dry_run {
        "would ship"
    } else {
        "shipped"
    };
    if report.dry_run && format == PlanFormat::Json {
        outln!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        eprintln!("{}", report.summary());
        return;
    }
    for d in &report.devices {
        for s in &d.shipped {
            let c = s.counts;
            let what = if report.destination == "sal" {
                "a checkin".to_owned()
            } else {
                format!(
                    "{} new probes, {} time updates, {} unchanged",
                    c.creates, c.updates, c.unchanged
                )
            };
            let note = match (s.status, s.replans) {
                (crate::snapshot::Status::Failed, _) => {
                    " (collection failed: nothing to write)".to_owned()
                }
                (_, 0) => String::new(),
                (_, n) => format!(" ({n} re-plans after an unknown outcome)"),
            };
            reportln!("{verb} {} {}: {what}{note}", d.device, s.snapshot);
        }
        for u in &d.unreadable {
            reportln!("unreadable {}: {u} (passed over)", d.device);
        }
        if let Some(e) = &d.error {
            reportln!("failed {}: {e}", d.device);
        }
    }
    reportln!("{}", report.summary());
}

/// Ships to one destination. Another run holding it is its own outcome;
/// a store or ledger that cannot be used stops the run.
async fn ship_to<D: Destination>(
    destination: D,
    store: &Arc<Store>,
    options: &Options,
    legacy: &Path,
    format: PlanFormat,
    metrics: &mut crate::metrics::Metrics,
) -> anyhow::Result<Outcome> {
    let kind = destination.kind();
    let started = std::time::Instant::now();
    let result = ship::run(
        Arc::new(destination),
        store.clone(),
        options,
        Some(legacy),
        Arc::new(super::progress::Bar::new("devices")),
    )
    .await;
    match result {
        Ok(report) => {
            for d in report.devices.iter().filter(|d| d.error.is_some()) {
                tracing::error!(device = %d.device, "Not shipped to {kind}: {}.", d.error.as_deref().unwrap_or(""));
            }
            print(&report, format);
            report.metrics(metrics);
            Ok(if report.complete() {
                Outcome::Done
            } else {
                Outcome::Incomplete
            })
        }
        Err(e) => {
            metrics.ended(
                "invmon_ship",
                "ship",
                &[("destination", kind)],
                false,
                started.elapsed(),
            );
            match e {
                ShipError::Lock(e) => {
                    eprintln!("invmon: {kind}: {e}");
                    Ok(Outcome::Busy)
                }
                e => Err(anyhow::Error::new(e).context(format!("shipping to {kind}"))),
            }
        }
    }
}

pub fn run(args: ShipArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(true)?;
    let destinations = args.destinations()?;
    let options = args.options();
    let store = Arc::new(args.trust.store(&args.store.dir)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut worst = Outcome::Done;
    let mut metrics = args.metrics.open();
    for to in destinations {
        let legacy = args.legacy_ledger(to);
        let shipped = match to {
            To::Netbox => args.netbox(context).and_then(|netbox| {
                runtime.block_on(ship_to(
                    netbox,
                    &store,
                    &options,
                    &legacy,
                    args.format,
                    &mut metrics,
                ))
            }),
            To::Sal => args.sal(context).and_then(|sal| {
                runtime.block_on(ship_to(
                    sal,
                    &store,
                    &options,
                    &legacy,
                    args.format,
                    &mut metrics,
                ))
            }),
        };
        match shipped {
            Ok(outcome) => worst = worst.max(outcome),
            Err(e) => {
                // The metrics say so too before the run stops.
                args.metrics.save(&metrics);
                return Err(e);
            }
        }
    }
    Ok(worst.max(args.metrics.save(&metrics)))
}
