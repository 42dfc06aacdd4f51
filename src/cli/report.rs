//! `invmon report`: the audit report of a window, as an HTML page and/or
//! the inventory as CSV.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use super::output::outln;
use super::{Context, Outcome};
use crate::report;
use crate::text::plural;

#[derive(Args)]
#[command(group = clap::ArgGroup::new("output").required(true).multiple(true).args(["html", "csv"]))]
pub struct ReportArgs {
    #[command(flatten)]
    window: super::diff::WindowArgs,
    /// Write the report as one self-contained HTML page (no external assets)
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the inventory as of --to as CSV, one row per present item
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "FILE")]
    csv: Option<PathBuf>,
    #[command(flatten)]
    store: super::StoreArg,
    #[command(flatten)]
    trust: super::TrustArg,
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::atomic::write(path, bytes, crate::atomic::Mode::Replace)
        .with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: ReportArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(false)?;
    let store = args.trust.store(&args.store.dir)?;
    let audit = report::audit(&store, &args.window.window())?;
    let changes: usize = audit.diff.devices.iter().map(|d| d.changes.len()).sum();
    let items = plural(audit.rows.len(), "item", "items");
    let what = format!(
        "{}, {items}, {}",
        plural(audit.diff.stats.devices, "device", "devices"),
        plural(changes, "change", "changes")
    );
    if let Some(path) = &args.html {
        write(path, report::html::render(&audit).as_bytes())?;
        outln!("report written to {} ({what})", path.display());
    }
    if let Some(path) = &args.csv {
        let bytes = report::csv::render(&audit).context("rendering the inventory as CSV")?;
        write(path, &bytes)?;
        outln!("inventory written to {} ({items})", path.display());
    }
    for e in &audit.diff.errors {
        tracing::error!("Not read: {e}.");
    }
    Ok(if audit.has_errors() {
        Outcome::Incomplete
    } else {
        Outcome::Done
    })
}
