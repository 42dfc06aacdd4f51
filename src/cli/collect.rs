//! `invmon collect`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use tracing::{error, warn};
use tracing_subscriber::filter::LevelFilter;

use crate::collect::{self, Options, Plan};
use crate::config::targets::{self, Target};
use crate::config::{self, Profile, RawCredentials, SnmpConfig};
use crate::snapshot::store::Store;

#[derive(Args)]
pub struct CollectArgs {
    /// Device list, CSV (name,address,platform,site,location,netbox_id[,credentials]) or JSON
    #[arg(
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
    /// Also keep each device's raw walk as .snmprec beside its snapshot
    #[arg(long)]
    raw: bool,
    /// Write every device's raw SNMP data as JSON to FILE (implies --raw)
    #[arg(long, value_name = "FILE")]
    debug_dump: Option<PathBuf>,

    /// SNMP versions to try, in order (e.g. "3,2")
    #[arg(
        long,
        env = "SNMP_VERSION",
        hide_env_values = true,
        value_name = "LIST"
    )]
    snmp_version: Option<String>,
    /// SNMPv2c community (prefer SNMP_COMMUNITY in an env file: flags show in `ps`)
    #[arg(
        long,
        env = "SNMP_COMMUNITY",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    snmp_community: Option<String>,
    /// SNMPv3 user name
    #[arg(long, env = "SNMP_USER", hide_env_values = true, value_name = "USER")]
    snmp_user: Option<String>,
    /// SNMPv3 auth password (prefer SNMP_AUTH in an env file)
    #[arg(long, env = "SNMP_AUTH", hide_env_values = true, value_name = "SECRET")]
    snmp_auth: Option<String>,
    /// SNMPv3 auth protocol: MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512 [default: SHA]
    #[arg(
        long,
        env = "SNMP_AUTH_METHOD",
        hide_env_values = true,
        value_name = "PROTO"
    )]
    snmp_auth_method: Option<String>,
    /// SNMPv3 privacy password (prefer SNMP_PRIVACY in an env file)
    #[arg(
        long,
        env = "SNMP_PRIVACY",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    snmp_privacy: Option<String>,
    /// SNMPv3 privacy protocol: DES, AES, AES-192, AES-256, AES-192C, AES-256C [default: AES]
    #[arg(
        long,
        env = "SNMP_PRIVACY_METHOD",
        hide_env_values = true,
        value_name = "PROTO"
    )]
    snmp_privacy_method: Option<String>,
    /// Key extension for AES-192/256 with a short auth hash: blumenthal or reeder [default: blumenthal]
    #[arg(
        long,
        env = "SNMP_PRIVACY_KEY_EXTENSION",
        hide_env_values = true,
        value_name = "METHOD"
    )]
    snmp_privacy_key_extension: Option<String>,
    /// SNMPv3 security level: noAuthNoPriv, authNoPriv, authPriv [default: from the passwords given]
    #[arg(
        long,
        env = "SNMP_SECURITY",
        hide_env_values = true,
        value_name = "LEVEL"
    )]
    snmp_security: Option<String>,
    /// SNMPv3 context name
    #[arg(
        long,
        env = "SNMP_CONTEXT",
        hide_env_values = true,
        value_name = "NAME"
    )]
    snmp_context: Option<String>,
    /// Seconds to wait for each answer
    #[arg(
        long,
        env = "SNMP_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "1"
    )]
    snmp_timeout: String,
    /// Retries per request and per SNMP version
    #[arg(
        long,
        env = "SNMP_RETRIES",
        hide_env_values = true,
        value_name = "N",
        default_value = "1"
    )]
    snmp_retries: String,
    /// GETBULK max-repetitions (halved automatically on tooBig)
    #[arg(
        long,
        env = "SNMP_MAX_REPETITIONS",
        hide_env_values = true,
        value_name = "N",
        default_value = "25"
    )]
    snmp_max_repetitions: String,
    /// Seconds one device may take in all
    #[arg(
        long,
        env = "INVMON_DEVICE_DEADLINE",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "300"
    )]
    device_deadline: String,
    /// Devices walked at the same time
    #[arg(
        long,
        env = "PARALLEL_JOBS",
        hide_env_values = true,
        value_name = "N",
        default_value = "50"
    )]
    parallel_jobs: String,
    /// Directory of checkin modules run for each device that answered
    #[arg(
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
        default_value = "30"
    )]
    module_timeout: String,
    /// Sal os_family recorded for devices
    #[arg(
        long,
        env = "INVMON_OS_FAMILY",
        hide_env_values = true,
        value_name = "NAME",
        default_value = "Network"
    )]
    os_family: String,
}

impl CollectArgs {
    fn raw_credentials(&self) -> RawCredentials {
        RawCredentials {
            version: self.snmp_version.clone(),
            community: self.snmp_community.clone(),
            user: self.snmp_user.clone(),
            auth: self.snmp_auth.clone(),
            auth_method: self.snmp_auth_method.clone(),
            privacy: self.snmp_privacy.clone(),
            privacy_method: self.snmp_privacy_method.clone(),
            key_extension: self.snmp_privacy_key_extension.clone(),
            security: self.snmp_security.clone(),
            context: self.snmp_context.clone(),
        }
    }

    fn targets(&self) -> anyhow::Result<(Vec<Target>, usize)> {
        if let (Some(name), Some(address)) = (&self.device, &self.address) {
            targets::split_address(address).map_err(|why| anyhow::anyhow!("--address: {why}"))?;
            let target = Target {
                name: name.clone(),
                address: address.clone(),
                platform: self.platform.clone().unwrap_or_default(),
                ..Target::default()
            };
            return Ok((vec![target], 0));
        }
        let Some(path) = &self.targets else {
            bail!(
                "no devices: give --targets FILE (or INVMON_TARGETS), or --device NAME --address ADDR"
            );
        };
        let (mut list, errors) = targets::load(path)?;
        for e in &errors {
            error!("Skipping target: {e}.");
        }
        if let Some(name) = &self.device {
            list.retain(|t| &t.name == name);
            if list.is_empty() {
                bail!(
                    "device {name:?} is not in {} (use --address to collect a device not in the file)",
                    path.display()
                );
            }
            return Ok((list, 0));
        }
        Ok((list, errors.len()))
    }
}

fn build_snmp(args: &CollectArgs, targets: &[Target]) -> anyhow::Result<SnmpConfig> {
    let raw = args.raw_credentials();
    let mut warnings = Vec::new();
    // The global settings matter only when some target has no credential set.
    let needs_global = targets.iter().any(|t| t.credentials.is_none());
    let mut global_warnings = Vec::new();
    let global = match Profile::build(&raw, None, &mut global_warnings) {
        Ok(p) => Some(p),
        Err(e) if needs_global => return Err(e.into()),
        Err(_) => None,
    };
    if needs_global {
        warnings.extend(global_warnings);
    }
    let mut sets = std::collections::BTreeMap::new();
    for (name, set) in raw.sets_from_env(std::env::vars()) {
        sets.insert(
            name.clone(),
            Profile::build(&set, Some(&name), &mut warnings)?,
        );
    }
    Ok(SnmpConfig {
        global,
        sets,
        timeout: config::parse_seconds("SNMP_TIMEOUT (--snmp-timeout)", &args.snmp_timeout)?,
        retries: config::parse_count("SNMP_RETRIES (--snmp-retries)", &args.snmp_retries, 0..=10)?
            as u32,
        max_repetitions: config::parse_count(
            "SNMP_MAX_REPETITIONS (--snmp-max-repetitions)",
            &args.snmp_max_repetitions,
            1..=1000,
        )? as u32,
        warnings,
    })
}

pub fn run(
    args: CollectArgs,
    matches: &clap::ArgMatches,
    level: LevelFilter,
    log_dir: &Path,
) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(level, Some(log_dir)).map_err(anyhow::Error::msg)?;
    super::warn_secret_flags(
        matches,
        &[
            ("snmp_community", "--snmp-community", "SNMP_COMMUNITY"),
            ("snmp_auth", "--snmp-auth", "SNMP_AUTH"),
            ("snmp_privacy", "--snmp-privacy", "SNMP_PRIVACY"),
        ],
    );
    let (targets, bad_rows) = args.targets()?;
    let snmp = build_snmp(&args, &targets)?;
    for w in &snmp.warnings {
        warn!("{w}.");
    }
    let deadline = config::parse_seconds(
        "INVMON_DEVICE_DEADLINE (--device-deadline)",
        &args.device_deadline,
    )?;
    let parallel_jobs = config::parse_count(
        "PARALLEL_JOBS (--parallel-jobs)",
        &args.parallel_jobs,
        1..=4096,
    )? as usize;
    let store = Store::new(&args.store.dir);
    store.ensure_writable()?;
    let options = Options {
        plan: Plan {
            timeout: snmp.timeout,
            retries: snmp.retries,
            max_repetitions: snmp.max_repetitions,
            deadline,
            max_rows: 1_000_000,
        },
        parallel_jobs,
        raw: args.raw,
        debug_dump: args.debug_dump.clone(),
        os_family: args.os_family.clone(),
        progress: true,
        modules: match &args.modules {
            Some(dir) if !dir.is_dir() => bail!(
                "INVMON_MODULES_DIR (--modules): {} is not a directory",
                dir.display()
            ),
            Some(dir) => Some(collect::modules::Modules {
                dir: dir.clone(),
                timeout: config::parse_seconds(
                    "INVMON_MODULE_TIMEOUT (--module-timeout)",
                    &args.module_timeout,
                )?,
            }),
            None => None,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let summary = runtime.block_on(collect::run(
        targets,
        Arc::new(snmp),
        Arc::new(store),
        Arc::new(options),
    ));
    print!("{}", summary.render());
    if bad_rows > 0 {
        println!("{bad_rows} target rows skipped (see the log)");
    }
    Ok(if summary.all_ok() && bad_rows == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_INCOMPLETE)
    })
}
