//! `hangar completion bash|zsh|fish`: shell completion scripts.

use clap::{Args, CommandFactory, ValueEnum};

use crate::cli::Cli;

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hangar completion bash > /etc/bash_completion.d/hangar\n  \
    hangar completion zsh > \"${fpath[1]}/_hangar\"\n  \
    hangar completion fish > ~/.config/fish/completions/hangar.fish")]
pub struct CompletionArgs {
    /// The shell to print the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub(crate) fn run(args: CompletionArgs) -> anyhow::Result<i32> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hangar", &mut script);
    crate::output::write_stdout(&String::from_utf8_lossy(&script))?;
    Ok(0)
}
