//! Command line: raw arguments → validated settings → command.
//!
//! Exit codes: 0 success; 1 fatal error (bad settings, unreadable targets,
//! unwritable store, unreadable snapshot); 2 usage error; 3 the run finished
//! but some device was partial, failed or not saved, or a target row was bad.

mod collect;
mod diff;
mod replay;
mod ship;
mod snapshots;
mod targets;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub const EXIT_FATAL: u8 = 1;
pub const EXIT_INCOMPLETE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "invmon",
    version,
    about = "Auditable SNMP hardware inventory: collect snapshots of every chassis, card, PSU, fan and optic, by serial number"
)]
pub struct Cli {
    /// Env file with settings (variables already in the environment win)
    #[arg(long, global = true, value_name = "FILE", default_value = ".env")]
    pub env_file: PathBuf,

    /// DEBUG, INFO, WARNING, ERROR or CRITICAL
    #[arg(
        long,
        global = true,
        env = "LOG_LEVEL",
        hide_env_values = true,
        value_name = "LEVEL",
        default_value = "INFO"
    )]
    pub log_level: String,

    /// Directory for all.log and errors.log
    #[arg(
        long,
        global = true,
        env = "INVMON_LOG_DIR",
        hide_env_values = true,
        value_name = "DIR",
        default_value = "logs"
    )]
    pub log_dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// Where snapshots live; shared by every command that reads or writes them.
#[derive(clap::Args, Clone)]
pub struct StoreArg {
    /// Snapshot store directory
    #[arg(
        long = "snapshots",
        env = "INVMON_SNAPSHOTS",
        hide_env_values = true,
        value_name = "DIR",
        default_value = "snapshots"
    )]
    pub dir: PathBuf,
}

#[derive(Subcommand)]
pub enum Command {
    /// Walk devices over SNMP and write one snapshot per device
    Collect(Box<collect::CollectArgs>),
    /// Compare snapshots offline: what appeared, disappeared, moved or changed
    Diff(diff::DiffArgs),
    /// List, show or prune stored snapshots
    #[command(subcommand)]
    Snapshots(snapshots::SnapshotsCommand),
    /// Ship snapshots to NetBox (inventory-monitor Probes) or Sal
    Ship(ship::ShipArgs),
    /// Export NetBox's device list as a targets file for collect
    Targets(targets::TargetsArgs),
    /// Serve .snmprec recordings as an SNMP agent (v1/v2c community or v3 context = file stem)
    Replay(replay::ReplayArgs),
}

/// Warns about secrets given as flags, which `ps` and shell history show:
/// (clap argument id, flag, environment variable to use instead).
fn warn_secret_flags(matches: &clap::ArgMatches, secrets: &[(&str, &str, &str)]) {
    for (id, flag, env) in secrets {
        if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
            tracing::warn!(
                "{flag} was given on the command line, where `ps` and shell history show it; prefer {env} in an env file."
            );
        }
    }
}

/// A required http(s) URL setting.
fn require_url<'a>(value: Option<&'a str>, setting: &str) -> anyhow::Result<&'a str> {
    let url = value
        .filter(|u| !u.is_empty())
        .ok_or_else(|| anyhow::anyhow!("{setting} is not set"))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        anyhow::bail!("{setting}: {url:?} is not an http:// or https:// URL");
    }
    Ok(url)
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

pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let explicit = env_file_arg(&args);
    let env_file = explicit.clone().unwrap_or_else(|| PathBuf::from(".env"));
    match dotenvy::from_path(&env_file) {
        Ok(()) => {}
        Err(dotenvy::Error::Io(e))
            if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {}
        Err(e) => {
            eprintln!("invmon: env file {}: {e}", env_file.display());
            return ExitCode::from(EXIT_FATAL);
        }
    }
    let matches = Cli::command().get_matches_from(&args);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let level = match crate::telemetry::parse_level(&cli.log_level) {
        Ok(l) => l,
        Err(why) => {
            eprintln!("invmon: {why}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let sub = matches.subcommand().map(|(_, m)| m);
    let result = match cli.command {
        Command::Collect(args) => {
            collect::run(*args, sub.expect("subcommand matches"), level, &cli.log_dir)
        }
        Command::Diff(args) => diff::run(args, level),
        Command::Snapshots(command) => snapshots::run(command, level),
        Command::Replay(args) => replay::run(args, level, &cli.log_dir),
        Command::Targets(args) => targets::run(args, sub.expect("subcommand matches"), level),
        Command::Ship(args) => {
            ship::run(args, sub.expect("subcommand matches"), level, &cli.log_dir)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("invmon: {e:#}");
            ExitCode::from(EXIT_FATAL)
        }
    }
}
