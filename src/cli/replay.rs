//! `invmon replay`: recorded devices as a local SNMP agent.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use tracing::{info, warn};

use super::{Context, Outcome};
use crate::replay::{self, Recordings, UserSpec};

#[derive(Args)]
pub struct ReplayArgs {
    /// Directory of .snmprec recordings
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "DIR")]
    dir: PathBuf,
    /// UDP address to answer on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:1161")]
    listen: SocketAddr,
    /// Allow a non-loopback --listen address
    #[arg(long)]
    allow_remote: bool,
    /// SNMPv3 user NAME[:AUTH-PROTO:AUTH-KEY[:PRIV-PROTO:PRIV-KEY]]; repeatable (keys show in `ps`: prefer --v3-users-file)
    #[arg(long = "v3-user", value_name = "SPEC")]
    v3_users: Vec<UserSpec>,
    /// File with one v3 user spec per line
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "FILE")]
    v3_users_file: Option<PathBuf>,
    /// Recording answered for v3 requests with an empty context name
    #[arg(long, value_name = "NAME")]
    default_context: Option<String>,
    /// Write the bound address to FILE once listening
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Simulate real devices for v1/v2c: latency, loss, slow subtrees, PDU limits, GETBULK faults, dead devices (JSON; docs/replay.md)
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "FILE")]
    fleet: Option<PathBuf>,
}

fn users_from_file(path: &Path) -> anyhow::Result<Vec<UserSpec>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("v3 users file {}", path.display()))?;
    let mut users = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("v3 users file {}", path.display()))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        users.push(
            line.parse()
                .with_context(|| format!("{}:{}", path.display(), n + 1))?,
        );
    }
    Ok(users)
}

pub fn run(args: ReplayArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(true)?;
    replay::check_listen(args.listen, args.allow_remote)
        .map_err(|e| crate::config::ConfigError::Unusable(e.to_string()))?;
    if !args.v3_users.is_empty() {
        warn!("--v3-user keys are visible in `ps`; prefer --v3-users-file.");
    }
    let mut users = args.v3_users.clone();
    if let Some(path) = &args.v3_users_file {
        users.extend(users_from_file(path)?);
    }
    let recordings = Arc::new(Recordings::load(
        &args.dir,
        args.default_context.as_deref(),
    )?);
    let sim = Arc::new(match &args.fleet {
        Some(path) => replay::Simulation::load(path, recordings.names())?,
        None => replay::Simulation::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let serve = replay::serve(recordings.clone(), sim, args.listen, &users, |addr| {
            info!(
                "Serving {} recordings from {} on {addr} ({} v3 users).",
                recordings.len(),
                args.dir.display(),
                users.len()
            );
            super::output::outln!("listening on {addr}");
            if let Some(path) = &args.ready_file {
                std::fs::write(path, addr.to_string()).map_err(|e| {
                    replay::ReplayError::Agent(format!("ready file {}: {e}", path.display()))
                })?;
            }
            Ok(())
        });
        tokio::select! {
            r = serve => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(Outcome::Done)
}
