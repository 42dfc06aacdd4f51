//! Command line: raw arguments and environment → a validated configuration
//! per command → the library stage that does the work → one exit code.
//!
//! Exit codes (docs/configuration.md): 0 success; 1 the run could not be
//! done (unreadable targets, unwritable store, unreachable NetBox, …);
//! 2 usage or settings error; 3 the run finished but some of its work was
//! not done (a device partial, failed or not shipped, a target row bad);
//! 4 another run holds the destination (`ship` waited `--lock-wait` for it).
//! `diff` follows diff(1): 0 no differences, 1 differences, 2 trouble.

mod bundle;
mod collect;
mod diff;
mod history;
mod manual;
pub(crate) mod output;
mod progress;
mod replay;
mod report;
mod ship;
mod snapshots;
mod targets;
mod telemetry;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::filter::LevelFilter;

use crate::config::{self, ConfigError, env_file};

pub const EXIT_FATAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INCOMPLETE: u8 = 3;
pub const EXIT_BUSY: u8 = 4;

/// The heading of the options every command takes.
const GLOBAL: &str = "Global options";

#[derive(Parser)]
#[command(
    name = "invmon",
    version,
    about = "Auditable SNMP hardware inventory: collect snapshots of every chassis, card, PSU, fan and optic, by serial number"
)]
pub struct Cli {
    /// Env file with settings (variables already in the environment win)
    #[arg(value_parser = crate::config::absolute_path,
        long,
        global = true,
        value_name = "FILE",
        default_value = config::paths::ENV_FILE,
        help_heading = GLOBAL
    )]
    pub env_file: PathBuf,

    /// DEBUG, INFO, WARNING, ERROR or CRITICAL
    #[arg(
        long,
        global = true,
        env = "LOG_LEVEL",
        hide_env_values = true,
        value_name = "LEVEL",
        default_value = "INFO",
        value_parser = config::log_level,
        help_heading = GLOBAL
    )]
    pub log_level: LevelFilter,

    /// Directory for all.log and errors.log
    #[arg(value_parser = crate::config::absolute_path,
        long,
        global = true,
        env = "INVMON_LOG_DIR",
        hide_env_values = true,
        value_name = "DIR",
        default_value = config::paths::LOGS,
        help_heading = GLOBAL
    )]
    pub log_dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// Where snapshots live; shared by every command that reads or writes them.
#[derive(clap::Args, Clone)]
pub struct StoreArg {
    /// Snapshot store directory
    #[arg(value_parser = crate::config::absolute_path,
        long = "snapshots",
        env = "INVMON_SNAPSHOTS",
        hide_env_values = true,
        value_name = "DIR",
        default_value = config::paths::SNAPSHOTS
    )]
    pub dir: PathBuf,
}

/// Where a host keeps what it must not lose with a re-copied store: ship
/// and bundle ledgers, sequence numbers, locks (docs/provenance.md).
#[derive(clap::Args, Clone)]
pub struct StateArg {
    /// State directory: ledgers and locks, kept outside the snapshot store
    #[arg(value_parser = crate::config::absolute_path,
        long,
        env = "INVMON_STATE_DIR",
        hide_env_values = true,
        value_name = "DIR",
        default_value = config::paths::STATE
    )]
    pub state_dir: PathBuf,
    /// Seconds to wait for another run holding the same lock to finish
    #[arg(
        long,
        env = "INVMON_LOCK_WAIT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value = "60",
        value_parser = crate::config::seconds_or_zero
    )]
    pub lock_wait: std::time::Duration,
}

/// A node_exporter textfile for cron runs (docs/operations.md).
#[derive(clap::Args, Clone)]
pub struct MetricsArg {
    /// Write this run's metrics here (Prometheus text format, replaced atomically)
    #[arg(value_parser = crate::config::absolute_path,
        long,
        env = "INVMON_METRICS_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub metrics_file: Option<PathBuf>,
}

impl MetricsArg {
    /// Metrics to fill, knowing what the file they replace held.
    pub fn open(&self) -> crate::metrics::Metrics {
        self.metrics_file
            .as_deref()
            .map(crate::metrics::Metrics::replacing)
            .unwrap_or_default()
    }

    /// Writes them when a file was asked for; a run whose metrics cannot be
    /// written did not do all its work.
    pub fn save(&self, metrics: &crate::metrics::Metrics) -> Outcome {
        let Some(path) = &self.metrics_file else {
            return Outcome::Done;
        };
        match metrics.write(path) {
            Ok(()) => Outcome::Done,
            Err(e) => {
                tracing::error!("{e}");
                Outcome::Incomplete
            }
        }
    }
}

/// Which signatures a host that reads snapshots accepts.
#[derive(clap::Args, Clone)]
pub struct TrustArg {
    /// OpenSSH allowed_signers file: read only snapshots signed by a key it lists for their collector
    #[arg(value_parser = crate::config::absolute_path,
        long,
        env = "INVMON_ALLOWED_SIGNERS",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub allowed_signers: Option<PathBuf>,
}

impl TrustArg {
    pub fn trust(&self) -> Result<Option<std::sync::Arc<crate::provenance::Trust>>, ConfigError> {
        self.allowed_signers
            .as_deref()
            .map(|path| {
                crate::provenance::Trust::load(path)
                    .map(std::sync::Arc::new)
                    .map_err(|e| {
                        ConfigError::invalid("INVMON_ALLOWED_SIGNERS (--allowed-signers)", e)
                    })
            })
            .transpose()
    }

    /// The store at `dir`, reading only what this trust accepts.
    pub fn store(&self, dir: &Path) -> Result<crate::snapshot::store::Store, ConfigError> {
        Ok(crate::snapshot::store::Store::new(dir).trusting(self.trust()?))
    }
}

/// The collector's signing identity.
#[derive(clap::Args, Clone)]
pub struct SignerArg {
    /// OpenSSH ed25519 private key (no passphrase, mode 600) that signs every snapshot and raw walk
    #[arg(value_parser = crate::config::absolute_path,
        long,
        env = "INVMON_SIGNING_KEY",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub signing_key: Option<PathBuf>,
    /// This collector's id, recorded in every snapshot and listed in the readers' allowed_signers [default: the host name]
    #[arg(
        long,
        env = "INVMON_COLLECTOR_ID",
        hide_env_values = true,
        value_name = "ID"
    )]
    pub collector_id: Option<String>,
}

impl SignerArg {
    pub fn id(&self) -> String {
        self.collector_id
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(crate::snapshot::host_name)
    }

    pub fn signer(&self) -> Result<Option<std::sync::Arc<crate::provenance::Signer>>, ConfigError> {
        self.signing_key
            .as_deref()
            .map(|path| {
                crate::provenance::Signer::load(path, &self.id())
                    .map(std::sync::Arc::new)
                    .map_err(|e| ConfigError::invalid("INVMON_SIGNING_KEY (--signing-key)", e))
            })
            .transpose()
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Walk devices over SNMP and write one snapshot per device
    Collect(Box<collect::CollectArgs>),
    /// Compare snapshots offline: what appeared, disappeared, moved or changed
    Diff(diff::DiffArgs),
    /// The life of a part across the store: first seen, moves, absences, last seen
    History(history::HistoryArgs),
    /// An audit report of a window: changes, inventory, serial quality, as HTML or CSV
    Report(report::ReportArgs),
    /// List, show or prune stored snapshots
    #[command(subcommand)]
    Snapshots(snapshots::SnapshotsCommand),
    /// Ship snapshots to NetBox (inventory-monitor Probes) or Sal
    Ship(Box<ship::ShipArgs>),
    /// Export NetBox's device list as a targets file for collect
    Targets(targets::TargetsArgs),
    /// Carry snapshots across a one-way link: signed bundles, and their import
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Serve .snmprec recordings as an SNMP agent (v1/v2c community or v3 context = file stem)
    Replay(replay::ReplayArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions(manual::CompletionsArgs),
    /// Write the man pages into a directory
    Manpages(manual::ManpagesArgs),
}

/// How a command ended; later variants are worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Everything asked was done (`diff`: no differences).
    Done,
    /// `diff` only: differences found.
    Differences,
    /// The run finished, but part of its work was not done.
    Incomplete,
    /// Another run holds what this one needs (a ship to the same destination).
    Busy,
}

/// What every command gets besides its own arguments.
pub struct Context<'a> {
    pub level: LevelFilter,
    pub log_dir: PathBuf,
    pub matches: &'a clap::ArgMatches,
    /// Said once logging is up: names in the env file no setting has.
    notes: Vec<String>,
}

impl Context<'_> {
    /// Starts logging (to the log files too, for commands that run from
    /// cron) and says what was noticed while reading settings.
    pub fn start_logging(&self, files: bool) -> anyhow::Result<()> {
        telemetry::init(self.level, files.then_some(self.log_dir.as_path()))?;
        for note in &self.notes {
            tracing::warn!("{note}.");
        }
        Ok(())
    }

    /// Warns about secrets given as flags, which `ps` and shell history show:
    /// (clap argument id, flag, environment variable to use instead).
    pub fn warn_secret_flags(&self, secrets: &[(&str, &str, &str)]) {
        for (id, flag, env) in secrets {
            if self.matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                tracing::warn!(
                    "{flag} was given on the command line, where `ps` and shell history show it; prefer {env} in an env file."
                );
            }
        }
    }
}

/// The `--env-file` value, read before clap so the file can feed `env =` defaults.
fn env_file_arg(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--env-file" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--env-file=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// Every variable name some setting reads.
fn known_names(command: &clap::Command) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    for sub in command.get_subcommands() {
        names.extend(known_names(sub));
    }
    // Read without a flag: the seed's misspelt exclude list, tracing's filter.
    names.extend(["entPhysicalModelName_exludes".into(), "RUST_LOG".into()]);
    names
}

fn unknown_names(file: &Path, assignments: &[env_file::Assignment]) -> Vec<String> {
    let known = known_names(&Cli::command());
    assignments
        .iter()
        .filter(|a| !known.contains(&a.name) && !config::credentials::is_set_variable(&a.name))
        .map(|a| {
            let hint = env_file::suggestion(&a.name, known.iter().map(String::as_str))
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            format!(
                "{}:{}: {} is not a setting of invmon and is ignored{hint}",
                file.display(),
                a.line,
                a.name
            )
        })
        .collect()
}

/// A clap error, with a refused value named by its setting and flag.
fn usage_error(e: clap::Error) -> ExitCode {
    if e.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
    {
        // The seed took every flag in one command; here a flag lives with its stage.
        let long = arg.trim_start_matches('-').split('=').next().unwrap_or("");
        let owners = commands_with(&Cli::command(), long, "invmon");
        if !owners.is_empty() {
            let _ = e.print();
            eprintln!(
                "\nnote: --{long} belongs to {} (docs/seed-migration.md)",
                owners.join(", ")
            );
            return ExitCode::from(EXIT_USAGE);
        }
    }
    if e.kind() != ErrorKind::ValueValidation {
        e.exit()
    }
    let flag = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.split(' ').next().unwrap_or("").to_owned(),
        _ => String::new(),
    };
    let env = find_env(&Cli::command(), flag.trim_start_matches('-'));
    let setting = match env {
        Some(env) => format!("{env} ({flag})"),
        None => flag,
    };
    let why = std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
    eprintln!("invmon: {setting}: {why}");
    ExitCode::from(EXIT_USAGE)
}

/// The commands (`invmon targets`, …) that take `--long`.
fn commands_with(command: &clap::Command, long: &str, path: &str) -> Vec<String> {
    let mut found = Vec::new();
    for sub in command.get_subcommands() {
        let path = format!("{path} {}", sub.get_name());
        if sub
            .get_arguments()
            .any(|a| !a.is_global_set() && a.get_long() == Some(long))
        {
            found.push(format!("`{path}`"));
        }
        found.extend(commands_with(sub, long, &path));
    }
    found
}

fn find_env(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .or_else(|| command.get_subcommands().find_map(|s| find_env(s, long)))
}

/// The exit code for an error: settings errors are usage errors.
fn error_code(e: &anyhow::Error, diff: bool) -> u8 {
    if diff || e.chain().any(|c| c.is::<ConfigError>()) {
        EXIT_USAGE
    } else {
        EXIT_FATAL
    }
}

pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let explicit = env_file_arg(&args);
    let env_path = explicit
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::paths::ENV_FILE));
    let assignments = match env_file::load(&env_path, explicit.is_some()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("invmon: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let matches = match Cli::command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let Some((_, sub)) = matches.subcommand() else {
        return ExitCode::from(EXIT_USAGE);
    };
    let context = Context {
        level: cli.log_level,
        log_dir: cli.log_dir.clone(),
        matches: sub,
        notes: unknown_names(&env_path, &assignments),
    };
    let is_diff = matches!(cli.command, Command::Diff(_));
    let result = match cli.command {
        Command::Collect(args) => collect::run(*args, &context),
        Command::Diff(args) => diff::run(args, &context),
        Command::History(args) => history::run(args, &context),
        Command::Report(args) => report::run(args, &context),
        Command::Snapshots(command) => snapshots::run(command, &context),
        Command::Replay(args) => replay::run(args, &context),
        Command::Targets(args) => targets::run(args, &context),
        Command::Ship(args) => ship::run(*args, &context),
        Command::Bundle(command) => bundle::run(command, &context),
        Command::Completions(args) => manual::completions(args),
        Command::Manpages(args) => manual::manpages(args),
    };
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Differences) => ExitCode::from(1),
        Ok(Outcome::Incomplete) if is_diff => ExitCode::from(2),
        Ok(Outcome::Incomplete) => ExitCode::from(EXIT_INCOMPLETE),
        Ok(Outcome::Busy) => ExitCode::from(EXIT_BUSY),
        Err(e) => {
            eprintln!("invmon: {e:#}");
            ExitCode::from(error_code(&e, is_diff))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
