//! `invmon bundle create|import`: snapshots over a one-way link.

use std::path::PathBuf;

use super::output::reportln;
use super::{Context, Outcome, SignerArg, TrustArg};
use crate::config::ConfigError;
use crate::provenance::bundle;
use crate::snapshot::store::Store;
use crate::text::plural;

#[derive(clap::Subcommand)]
pub enum BundleCommand {
    /// On the collector: one signed bundle of every snapshot not yet bundled
    Create {
        /// Where the bundle file goes (the outbox of the one-way link)
        #[arg(value_parser = crate::config::absolute_path, long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        store: super::StoreArg,
        #[command(flatten)]
        signer: SignerArg,
        /// Start another bundle past this size (a one-way link's file limit); a snapshot is never split
        #[arg(long, value_name = "BYTES", default_value = "1073741824", value_parser = clap::value_parser!(u64).range(1..))]
        max_bytes: u64,
        /// The bundle ledger, sequence number and lock live in the state directory
        #[command(flatten)]
        state: super::StateArg,
        #[command(flatten)]
        metrics: super::MetricsArg,
    },
    /// On the receiving host: verify bundles whole, then add what the store lacks
    Import {
        /// Bundle files
        #[arg(value_parser = crate::config::absolute_path, value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        store: super::StoreArg,
        #[command(flatten)]
        trust: TrustArg,
        /// The sequence numbers received and the lock live in the state directory
        #[command(flatten)]
        state: super::StateArg,
        #[command(flatten)]
        metrics: super::MetricsArg,
    },
}

/// One series for both actions, told apart by their label.
const SNAPSHOTS_HELP: &str = "Snapshots the last bundle run carried (create) or wrote (import).";

pub fn run(command: BundleCommand, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(true)?;
    match command {
        BundleCommand::Create {
            out,
            store,
            signer,
            max_bytes,
            state,
            metrics,
        } => {
            let started = std::time::Instant::now();
            let signer = signer.signer()?.ok_or_else(|| {
                ConfigError::missing(
                    "INVMON_SIGNING_KEY (--signing-key)",
                    "a bundle is signed by its collector",
                )
            })?;
            let store = Store::new(&store.dir);
            let Some(held) = locked(&state)? else {
                return Ok(Outcome::Busy);
            };
            let bundled =
                bundle::create(&store, &state.state_dir, &held, &out, &signer, max_bytes)?;
            for created in &bundled.bundles {
                tracing::info!(
                    "Bundle {} written: {}.",
                    created.path.display(),
                    plural(created.snapshots, "snapshot", "snapshots")
                );
                reportln!(
                    "bundle {} written: sequence {}, {}, {} bytes",
                    created.path.display(),
                    created.sequence,
                    plural(created.snapshots, "snapshot", "snapshots"),
                    created.bytes
                );
            }
            if bundled.bundles.is_empty() {
                reportln!("nothing new to bundle");
            }
            let mut m = metrics.open();
            let bytes: u64 = bundled.bundles.iter().map(|b| b.bytes).sum();
            let count: usize = bundled.bundles.iter().map(|b| b.snapshots).sum();
            m.ended(
                "invmon_bundle",
                "bundle run",
                &[("action", "create")],
                true,
                started.elapsed(),
            );
            m.gauge(
                "invmon_bundle_snapshots",
                SNAPSHOTS_HELP,
                &[("action", "create")],
                count as f64,
            )
            .gauge(
                "invmon_bundle_bytes",
                "Bytes of the bundles the last create wrote.",
                &[("action", "create")],
                bytes as f64,
            )
            .gauge(
                "invmon_bundle_unsigned",
                "Snapshots left out of the last create for want of a signature.",
                &[("action", "create")],
                bundled.unsigned.len() as f64,
            );
            let written = metrics.save(&m);
            if !bundled.unsigned.is_empty() {
                for file in &bundled.unsigned {
                    tracing::warn!("Not bundled: {} has no signature.", file.display());
                }
                reportln!(
                    "not bundled: {} without a signature (collected before INVMON_SIGNING_KEY was set), first {}",
                    plural(bundled.unsigned.len(), "file", "files"),
                    bundled.unsigned[0].display()
                );
            }
            Ok(written)
        }
        BundleCommand::Import {
            files,
            store,
            trust,
            state,
            metrics,
        } => {
            let started = std::time::Instant::now();
            let trust = trust.trust()?.ok_or_else(|| {
                ConfigError::missing(
                    "INVMON_ALLOWED_SIGNERS (--allowed-signers)",
                    "bundles are imported only when their signatures verify",
                )
            })?;
            let store = Store::new(&store.dir).trusting(Some(trust.clone()));
            store.ensure_writable()?;
            let Some(held) = locked(&state)? else {
                return Ok(Outcome::Busy);
            };
            let mut outcome = Outcome::Done;
            let (mut written, mut refused, mut conflicts) = (0, 0, 0);
            let mut collectors = std::collections::BTreeSet::new();
            for file in &files {
                match bundle::import(&store, &state.state_dir, &held, &trust, file) {
                    Ok(r) => {
                        written += r.written;
                        conflicts += r.conflicts.len();
                        collectors.insert(r.collector.clone());
                        reportln!(
                            "imported {}: {} sequence {}: {} files written, {} already present",
                            file.display(),
                            r.collector,
                            r.sequence,
                            r.written,
                            r.present
                        );
                        for c in &r.conflicts {
                            reportln!("conflict {}: {c}", file.display());
                            tracing::error!("Bundle {}: {c}.", file.display());
                            outcome = Outcome::Incomplete;
                        }
                    }
                    Err(e @ bundle::BundleError::Refused { .. }) => {
                        reportln!("refused {e}");
                        tracing::error!("Bundle refused: {e}.");
                        refused += 1;
                        outcome = Outcome::Incomplete;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            for collector in collectors {
                let gaps = bundle::gaps(&state.state_dir, &collector);
                if !gaps.is_empty() {
                    let line = format!("bundles {} from {collector} not received", gaps.join(", "));
                    tracing::warn!("{line}.");
                    reportln!("{line}");
                }
            }
            let mut m = metrics.open();
            let import: &[(&str, &str)] = &[("action", "import")];
            m.ended(
                "invmon_bundle",
                "bundle run",
                import,
                outcome == Outcome::Done,
                started.elapsed(),
            );
            m.gauge(
                "invmon_bundle_snapshots",
                SNAPSHOTS_HELP,
                import,
                written as f64,
            )
            .gauge(
                "invmon_bundle_refused",
                "Bundles the last import refused.",
                import,
                refused as f64,
            )
            .gauge(
                "invmon_bundle_conflicts",
                "Files of the last import that differ from those already stored.",
                import,
                conflicts as f64,
            );
            Ok(outcome.max(metrics.save(&m)))
        }
    }
}

/// The bundle lock; `None` (said on stderr) when another run holds it.
fn locked(state: &super::StateArg) -> anyhow::Result<Option<crate::lock::Lock>> {
    match bundle::lock(&state.state_dir, state.lock_wait) {
        Ok(held) => Ok(Some(held)),
        Err(bundle::BundleError::Lock(e @ crate::lock::LockError::Busy { .. })) => {
            eprintln!("invmon: {e}");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
