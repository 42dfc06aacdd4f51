//! `invmon history`: where a part has been, from the whole store.

use clap::Args;

use super::output::outln;
use super::{Context, Outcome};
use crate::config::ConfigError;
use crate::history::{self, Query};

#[derive(Args)]
pub struct HistoryArgs {
    /// The part's serial number
    #[arg(
        value_name = "SERIAL",
        required_unless_present = "model",
        conflicts_with = "model"
    )]
    serial: Option<String>,
    /// Every part whose model matches this pattern (`*` matches any run of characters)
    #[arg(long, value_name = "PATTERN")]
    model: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: HistoryFormat,
    #[command(flatten)]
    store: super::StoreArg,
    #[command(flatten)]
    trust: super::TrustArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum HistoryFormat {
    Text,
    Json,
}

pub fn run(args: HistoryArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(false)?;
    let query = match (args.serial, args.model) {
        (Some(s), _) => Query::Serial(s),
        (None, Some(m)) => Query::Model(m),
        (None, None) => {
            return Err(ConfigError::missing("SERIAL or --model", "what to follow").into());
        }
    };
    let store = args.trust.store(&args.store.dir)?;
    let found = history::history(&store, &query)?;
    match args.format {
        HistoryFormat::Json => outln!("{}", serde_json::to_string_pretty(&found)?),
        HistoryFormat::Text if found.parts.is_empty() => {
            let what = match &query {
                Query::Serial(s) => format!("serial {}", crate::text::quoted(s)),
                Query::Model(m) => format!("model {}", crate::text::quoted(m)),
            };
            outln!(
                "no part with {what} in {}",
                crate::text::plural(found.snapshots, "snapshot", "snapshots")
            );
        }
        HistoryFormat::Text => outln!("{}", found.render_text().trim_end()),
    }
    for u in &found.unreadable {
        tracing::error!("Not read: {u}.");
    }
    Ok(if found.unreadable.is_empty() {
        Outcome::Done
    } else {
        Outcome::Incomplete
    })
}
