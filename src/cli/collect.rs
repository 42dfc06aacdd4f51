//! `invmon collect`: flags, environment and targets file → collection jobs
//! with their credentials → the collect stage → summary and exit code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use tracing::{error, warn};

use super::output::reportln;
use super::{Context, Outcome};
use crate::collect::{self, Job, Options, Plan};
use crate::config::credentials::{self, CredentialSettings, PrivacyMethod, Profiles};
use crate::config::targets::{self, RowError, Target};
use crate::config::{self, ConfigError, VersionList};
use crate::snapshot::store::Store;
use crate::snmp::usm::{AuthProtocol, KeyExtension, SecurityLevel};

#[derive(Args)]
pub struct CollectArgs {
    /// Device list, CSV (name,address,platform,site,location,netbox_id[,credentials]) or JSON
    #[arg(value_parser = crate::config::absolute_path,
        long,
        env = "INVMON_TARGETS",
        hide_env_values = true,
        value_name = "FILE"
    )]
    targets: Option<PathBuf>,
    /// Collect only this device; with --address, a device not in any targets file
    #[arg(short = 'd', long, value_name = "NAME")]
    device: Option<String>,
    /// Address (IPv4, IPv6 or DNS name, optionally :port) of an ad hoc --device
    #[arg(long, value_name = "ADDR", requires = "device")]
    address: Option<String>,
    /// Platform of an ad hoc --device (sros, junos, ios, …; empty: by sysObjectID)
    #[arg(long, value_name = "PLATFORM", requires = "address")]
    platform: Option<String>,
    #[command(flatten)]
    store: super::StoreArg,
    #[command(flatten)]
    signer: super::SignerArg,
    #[command(flatten)]
    metrics: super::MetricsArg,
    /// Also keep each device's raw walk as .snmprec beside its snapshot
    #[arg(long)]
    raw: bool,
    /// Write every device's raw SNMP data as JSON to FILE (implies --raw)
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "FILE")]
    debug_dump: Option<PathBuf>,

    /// SNMP versions to try, in order (e.g. "3,2") [default: 3,2]
    #[arg(
        help_heading = "SNMP",
        long,
        env = "SNMP_VERSION",
        hide_env_values = true,
        value_name = "LIST"
    )]
    snmp_version: Option<VersionList>,
    /// SNMPv2c community (prefer SNMP_COMMUNITY in an env file: flags show in `ps`)
    #[arg(
        help_heading = "SNMP",
        long,
        env = "SNMP_COMMUNITY",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    snmp_community: Option<String>,
    /// SNMPv3 user name
    #[arg(
        help_heading = "SNMP",
        long,
        env = "SNMP_USER",
        hide_env_values = true,
        value_name = "USER"
    )]
    snmp_user: Option<String>,
    /// SNMPv3 auth password (prefer SNMP_AUTH in an env file)
    #[arg(
        help_heading = "SNMP",
        long,
        env = "SNMP_AUTH",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    snmp_auth: Option<String>,
    /// SNMPv3 auth protocol: MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512 [default: SHA]
    #[arg(help_heading = "SNMP",
        long,
        env = "SNMP_AUTH_METHOD",
        hide_env_values = true,
        value_name = "PROTO",
        value_parser = credentials::parsed::<AuthProtocol>
    )]
    snmp_auth_method: Option<AuthProtocol>,
    /// SNMPv3 privacy password (prefer SNMP_PRIVACY in an env file)
    #[arg(
        help_heading = "SNMP",
        long,
        env = "SNMP_PRIVACY",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    snmp_privacy: Option<String>,
    /// SNMPv3 privacy protocol: DES, AES, AES-192, AES-256, AES-192C, AES-256C [default: AES]
    #[arg(
        help_heading = "SNMP",
        long,
        env = "SNMP_PRIVACY_METHOD",
        hide_env_values = true,
        value_name = "PROTO"
    )]
    snmp_privacy_method: Option<PrivacyMethod>,
    /// Key extension for AES-192/256 with a short auth hash: blumenthal or reeder [default: blumenthal]
    #[arg(help_heading = "SNMP",
        long,
        env = "SNMP_PRIVACY_KEY_EXTENSION",
        hide_env_values = true,
        value_name = "METHOD",
        value_parser = credentials::parsed::<KeyExtension>
    )]
    snmp_privacy_key_extension: Option<KeyExtension>,
    /// SNMPv3 security level: noAuthNoPriv, authNoPriv, authPriv [default: from the passwords given]
    #[arg(help_heading = "SNMP",
        long,
        env = "SNMP_SECURITY",
        hide_env_values = true,
        value_name = "LEVEL",
        value_parser = credentials::parsed::<SecurityLevel>
    )]
    snmp_security: Option<SecurityLevel>,
    /// SNMPv3 context name
    #[arg(
        help_heading = "SNMP",
        long,
        env = "SNMP_CONTEXT",
        hide_env_values = true,
        value_name = "NAME"
    )]
    snmp_context: Option<String>,
    /// Seconds to wait for each answer
    #[arg(help_heading = "SNMP",
        long,
        env = "SNMP_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "1",
        value_parser = config::seconds
    )]
    snmp_timeout: Duration,
    /// Retries per request and per SNMP version
    #[arg(help_heading = "SNMP",
        long,
        env = "SNMP_RETRIES",
        hide_env_values = true,
        value_name = "N",
        default_value = "1",
        value_parser = config::count(0..=10)
    )]
    snmp_retries: u32,
    /// GETBULK max-repetitions (halved automatically on tooBig)
    #[arg(help_heading = "SNMP",
        long,
        env = "SNMP_MAX_REPETITIONS",
        hide_env_values = true,
        value_name = "N",
        default_value = "50",
        value_parser = config::count(1..=1000)
    )]
    snmp_max_repetitions: u32,
    /// Seconds one device may take in all
    #[arg(
        long,
        env = "INVMON_DEVICE_DEADLINE",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "300",
        value_parser = config::seconds
    )]
    device_deadline: Duration,
    /// Devices walked at the same time, at most (fewer while timeouts surge; docs/collection.md)
    #[arg(
        long,
        env = "PARALLEL_JOBS",
        hide_env_values = true,
        value_name = "N",
        default_value = "500",
        value_parser = config::count(1..=4096)
    )]
    parallel_jobs: u32,
    /// Directory of checkin modules run for each device that answered
    #[arg(value_parser = crate::config::absolute_path,
        long,
        env = "INVMON_MODULES_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    modules: Option<PathBuf>,
    /// Seconds one checkin module may run
    #[arg(
        long,
        env = "INVMON_MODULE_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "30",
        value_parser = config::seconds
    )]
    module_timeout: Duration,
    /// Sal os_family recorded for devices
    #[arg(
        long,
        env = "INVMON_OS_FAMILY",
        hide_env_values = true,
        value_name = "NAME",
        default_value = "Linux"
    )]
    os_family: String,
}

impl CollectArgs {
    fn credentials(&self) -> CredentialSettings {
        CredentialSettings {
            version: self.snmp_version.clone().map(|v| v.0),
            community: self.snmp_community.clone(),
            user: self.snmp_user.clone(),
            auth: self.snmp_auth.clone(),
            auth_method: self.snmp_auth_method,
            privacy: self.snmp_privacy.clone(),
            privacy_method: self.snmp_privacy_method,
            key_extension: self.snmp_privacy_key_extension,
            security: self.snmp_security,
            context: self.snmp_context.clone(),
        }
    }

    /// The devices to collect, and the targets rows that cannot be used.
    fn targets(&self) -> anyhow::Result<(Vec<Target>, Vec<RowError>)> {
        if let (Some(name), Some(address)) = (&self.device, &self.address) {
            targets::split_address(address).map_err(|e| ConfigError::invalid("--address", e))?;
            let target = Target {
                name: name.clone(),
                address: address.clone(),
                platform: self.platform.clone().unwrap_or_default(),
                ..Target::default()
            };
            return Ok((vec![target], Vec::new()));
        }
        let Some(path) = &self.targets else {
            return Err(ConfigError::Unusable(
                "no devices: give --targets FILE (or INVMON_TARGETS), or --device NAME --address ADDR".into(),
            )
            .into());
        };
        let (mut list, errors) = targets::load(path)?;
        if let Some(name) = &self.device {
            list.retain(|t| &t.name == name);
            if list.is_empty() {
                return Err(ConfigError::Unusable(format!(
                    "device {name:?} is not in {} (use --address to collect a device not in the file)",
                    path.display()
                ))
                .into());
            }
            return Ok((list, Vec::new()));
        }
        Ok((list, errors))
    }

    /// Jobs with their credentials, and the rows that cannot be collected
    /// (said once each). Warnings are given once, for the profiles in use.
    fn jobs(&self) -> anyhow::Result<(Vec<Job>, Vec<String>)> {
        let (targets, rows) = self.targets()?;
        let mut bad: Vec<String> = rows.iter().map(RowError::to_string).collect();
        let profiles = Profiles::build(&self.credentials(), std::env::vars())?;
        let mut jobs = Vec::new();
        let mut first_error = None;
        let mut warned = std::collections::BTreeSet::new();
        for target in targets {
            match profiles.for_set(target.credentials.as_deref()) {
                Ok(profile) => {
                    for w in profile
                        .warnings
                        .iter()
                        .filter(|w| warned.insert((*w).clone()))
                    {
                        warn!("{w}.");
                    }
                    jobs.push(Job { target, profile });
                }
                Err(e) => {
                    bad.push(format!("{}: {e}", target.name));
                    first_error.get_or_insert(e);
                }
            }
        }
        // No device can be asked at all: the settings are at fault, not the devices.
        if let (true, Some(e)) = (jobs.is_empty(), first_error) {
            return Err(e.into());
        }
        Ok((jobs, bad))
    }

    fn options(&self) -> anyhow::Result<Options> {
        let modules = match &self.modules {
            Some(dir) if !dir.is_dir() => {
                return Err(ConfigError::invalid(
                    "INVMON_MODULES_DIR (--modules)",
                    format!("{} is not a directory", dir.display()),
                )
                .into());
            }
            Some(dir) => Some(collect::modules::Modules {
                dir: dir.clone(),
                timeout: self.module_timeout,
            }),
            None => None,
        };
        Ok(Options {
            plan: Plan {
                timeout: self.snmp_timeout,
                retries: self.snmp_retries,
                max_repetitions: self.snmp_max_repetitions,
                deadline: self.device_deadline,
                max_rows: 1_000_000,
            },
            parallel_jobs: self.parallel_jobs as usize,
            raw: self.raw,
            debug_dump: self.debug_dump.clone(),
            os_family: self.os_family.clone(),
            collector_id: self.signer.id(),
            modules,
        })
    }
}

pub fn run(args: CollectArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(true)?;
    context.warn_secret_flags(&[
        ("snmp_community", "--snmp-community", "SNMP_COMMUNITY"),
        ("snmp_auth", "--snmp-auth", "SNMP_AUTH"),
        ("snmp_privacy", "--snmp-privacy", "SNMP_PRIVACY"),
    ]);
    let (jobs, bad_rows) = args.jobs()?;
    for e in &bad_rows {
        error!("Skipping target {e}.");
    }
    let options = args.options()?;
    let store = Store::new(&args.store.dir).signing(args.signer.signer()?);
    store.ensure_writable()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let summary = runtime.block_on(collect::run(
        jobs,
        Arc::new(store),
        Arc::new(options),
        Arc::new(super::progress::Bar::new("devices")),
    ));
    super::output::report(&summary.render());
    if !bad_rows.is_empty() {
        reportln!("{} target rows skipped (see the log)", bad_rows.len());
    }
    let complete = summary.all_ok() && bad_rows.is_empty();
    let mut metrics = args.metrics.open();
    summary.metrics(&mut metrics, complete);
    let written = args.metrics.save(&metrics);
    Ok(if complete && written == Outcome::Done {
        Outcome::Done
    } else {
        Outcome::Incomplete
    })
}
