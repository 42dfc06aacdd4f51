//! `invmon completions SHELL` and `invmon manpages DIR`: the shell
//! completions and man pages, generated from the same definitions as the
//! parser, so that they never describe another version's options.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory};

use super::{Cli, Outcome};

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ManpagesArgs {
    /// Directory to write invmon.1 and one page per command (invmon-collect.1, …) into
    #[arg(value_parser = crate::config::absolute_path, value_name = "DIR")]
    dir: PathBuf,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut text = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "invmon", &mut text);
    super::output::print(&String::from_utf8_lossy(&text));
    Ok(Outcome::Done)
}

pub fn manpages(args: ManpagesArgs) -> anyhow::Result<Outcome> {
    let shown = args.dir.display();
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {shown}"))?;
    clap_mangen::generate_to(Cli::command(), &args.dir)
        .with_context(|| format!("writing man pages into {shown}"))?;
    Ok(Outcome::Done)
}
