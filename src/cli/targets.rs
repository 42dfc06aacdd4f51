//! `invmon targets`: export NetBox's device list for a collector that cannot reach NetBox.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use secrecy::SecretString;
use tracing::warn;

use super::{Context, Outcome};
use crate::config::{self, ConfigError};
use crate::netbox::client::Client;
use crate::netbox::targets::{self, CredentialSource, Selection};

/// The seed tool's NetBox settings (names kept so its .env files work).
#[derive(Args, Clone)]
pub struct NetboxArgs {
    /// NetBox URL
    #[arg(help_heading = "NetBox",
        long = "netbox-url",
        env = "NETBOX_INSTANCE_URL",
        hide_env_values = true,
        value_name = "URL",
        value_parser = config::url
    )]
    pub url: Option<String>,
    /// NetBox API token, v1 or v2 (prefer NETBOX_API_TOKEN in an env file: flags show in `ps`)
    #[arg(
        help_heading = "NetBox",
        long = "netbox-api-token",
        env = "NETBOX_API_TOKEN",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub token: Option<String>,
    /// Verify NetBox's TLS certificate ("false" to skip)
    #[arg(help_heading = "NetBox",
        long = "netbox-verify-ssl",
        env = "NETBOX_VERIFY_SSL",
        hide_env_values = true,
        value_name = "BOOL",
        default_value = "true",
        value_parser = config::flag
    )]
    pub verify_ssl: bool,
}

impl NetboxArgs {
    pub fn client(
        &self,
        context: &Context<'_>,
        timeout: Duration,
        policy: crate::http::RetryPolicy,
    ) -> anyhow::Result<Client> {
        context.warn_secret_flags(&[("token", "--netbox-api-token", "NETBOX_API_TOKEN")]);
        let url = self
            .url
            .as_deref()
            .ok_or_else(|| ConfigError::missing("NETBOX_INSTANCE_URL (--netbox-url)", ""))?;
        let token = self
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConfigError::missing("NETBOX_API_TOKEN (--netbox-api-token)", ""))?;
        Ok(Client::new(
            url,
            &SecretString::from(token),
            self.verify_ssl,
            timeout,
            policy,
        )?)
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
    #[arg(value_parser = crate::config::absolute_path, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Output format [default: from the file extension, else csv]
    #[arg(long, value_enum)]
    format: Option<TargetsFormat>,
    /// Only this device
    #[arg(short = 'd', long, value_name = "NAME")]
    device: Option<String>,
    /// Comma-separated tags a device must all have
    #[arg(
        help_heading = "NetBox",
        long,
        env = "NETBOX_TAGS",
        hide_env_values = true,
        value_name = "TAGS"
    )]
    netbox_tags: Option<String>,
    /// Comma-separated tags a device must not have
    #[arg(
        help_heading = "NetBox",
        long,
        env = "NETBOX_TAGS__N",
        hide_env_values = true,
        value_name = "TAGS"
    )]
    netbox_tags_exclude: Option<String>,
    /// Fill the credentials column from NetBox: site (the site's slug), tag:PREFIX (the first tag starting with PREFIX, without it) or cf:FIELD (a custom field)
    #[arg(
        long,
        env = "INVMON_CREDENTIALS_FROM",
        hide_env_values = true,
        value_name = "SOURCE"
    )]
    credentials_from: Option<CredentialSource>,
    #[command(flatten)]
    netbox: NetboxArgs,
}

fn list(text: &Option<String>) -> Vec<String> {
    config::list(text.as_deref().unwrap_or(""))
}

pub fn run(args: TargetsArgs, context: &Context<'_>) -> anyhow::Result<Outcome> {
    context.start_logging(false)?;
    let client = args.netbox.client(
        context,
        Duration::from_secs(120),
        crate::http::RetryPolicy::default(),
    )?;
    let selection = Selection {
        tags: list(&args.netbox_tags),
        tags_exclude: list(&args.netbox_tags_exclude),
        device: args.device.clone(),
        credentials_from: args.credentials_from.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let (found, skipped) = runtime.block_on(targets::fetch(&client, &selection))?;
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
            crate::atomic::write(path, text.as_bytes(), crate::atomic::Mode::Replace)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} written to {}",
                crate::text::plural(found.len(), "device", "devices"),
                path.display()
            );
        }
        None => super::output::print(&text),
    }
    Ok(Outcome::Done)
}
