//! `invmon targets`: export NetBox's device list for a collector that cannot reach NetBox.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use secrecy::SecretString;
use tracing::warn;
use tracing_subscriber::filter::LevelFilter;

use crate::netbox::client::Client;
use crate::netbox::targets::{self, Selection};

/// The seed tool's NetBox settings (names kept so its .env files work).
#[derive(Args, Clone)]
pub struct NetboxArgs {
    /// NetBox URL
    #[arg(
        long = "netbox-url",
        env = "NETBOX_INSTANCE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// NetBox API token, v1 or v2 (prefer NETBOX_API_TOKEN in an env file: flags show in `ps`)
    #[arg(
        long = "netbox-api-token",
        env = "NETBOX_API_TOKEN",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub token: Option<String>,
    /// Verify NetBox's TLS certificate ("false" to skip)
    #[arg(
        long = "netbox-verify-ssl",
        env = "NETBOX_VERIFY_SSL",
        hide_env_values = true,
        value_name = "BOOL",
        default_value = "true"
    )]
    pub verify_ssl: String,
}

impl NetboxArgs {
    pub fn client(&self, matches: &clap::ArgMatches) -> anyhow::Result<Client> {
        super::warn_secret_flags(
            matches,
            &[("token", "--netbox-api-token", "NETBOX_API_TOKEN")],
        );
        let url = super::require_url(self.url.as_deref(), "NETBOX_INSTANCE_URL (--netbox-url)")?;
        let token = self
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .context("NETBOX_API_TOKEN (--netbox-api-token) is not set")?;
        let verify = match self.verify_ssl.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "" => true,
            "false" | "0" | "no" => false,
            other => {
                bail!("NETBOX_VERIFY_SSL (--netbox-verify-ssl): {other:?} is not true or false")
            }
        };
        Ok(Client::new(
            url,
            &SecretString::from(token),
            verify,
            Duration::from_secs(120),
            3,
        ))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetsFormat {
    Csv,
    Json,
}

#[derive(Args)]
pub struct TargetsArgs {
    /// Write here (atomically) instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Output format [default: from the file extension, else csv]
    #[arg(long, value_enum)]
    format: Option<TargetsFormat>,
    /// Only this device
    #[arg(short = 'd', long, value_name = "NAME")]
    device: Option<String>,
    /// Comma-separated tags a device must all have
    #[arg(long, env = "NETBOX_TAGS", hide_env_values = true, value_name = "TAGS")]
    netbox_tags: Option<String>,
    /// Comma-separated tags a device must not have
    #[arg(
        long,
        env = "NETBOX_TAGS__N",
        hide_env_values = true,
        value_name = "TAGS"
    )]
    netbox_tags_exclude: Option<String>,
    #[command(flatten)]
    netbox: NetboxArgs,
}

fn list(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn run(
    args: TargetsArgs,
    matches: &clap::ArgMatches,
    level: LevelFilter,
) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(level, None).map_err(anyhow::Error::msg)?;
    let client = args.netbox.client(matches)?;
    let selection = Selection {
        tags: list(&args.netbox_tags),
        tags_exclude: list(&args.netbox_tags_exclude),
        device: args.device.clone(),
    };
    let (found, skipped) = targets::fetch(&client, &selection)?;
    for s in &skipped {
        warn!("Not exported: {s}.");
    }
    if let Some(d) = &args.device
        && found.is_empty()
    {
        bail!("NetBox has no active device named {d:?} with a primary IP");
    }
    let json = match args.format {
        Some(f) => f == TargetsFormat::Json,
        None => args
            .out
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "json")),
    };
    let text = if json {
        serde_json::to_string_pretty(&found)? + "\n"
    } else {
        targets::to_csv(&found)
    };
    match &args.out {
        Some(path) => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &text)
                .and_then(|()| std::fs::rename(&tmp, path))
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{} devices written to {}", found.len(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
