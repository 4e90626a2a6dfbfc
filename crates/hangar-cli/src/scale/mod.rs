//! `hangar scale count|vm|memory|show|concurrency`: how many Machines each
//! process group runs, where, and how big they are.

mod count;
mod plan;
mod show;
mod vm;

use clap::{Args, Subcommand};

use crate::context::Context;

/// `hangar scale …`
#[derive(Debug, Subcommand)]
pub enum ScaleCommand {
    /// Run N Machines of a process group (or GROUP=N for several), per region
    #[command(after_help = "Examples:\n  \
        hangar scale count 3\n  \
        hangar scale count 2 --process-group worker --region dev,ams\n  \
        hangar scale count app=2 worker=1 -y\n  \
        hangar scale count +1\n\n\
        New Machines copy the group's first Machine; extra Machines are destroyed \
        (volumes stay). A group that mounts a volume gets one per new Machine: a free \
        volume of that name in the region, else a new one. Regions: --region, else every region the app runs in, else \
        primary_region. Machines are added round-robin over the regions in order.")]
    Count(CountArgs),
    /// Set the VM size of the app's Machines and of fly.toml's [[vm]]
    Vm(VmArgs),
    /// Set the memory of the app's Machines and of fly.toml's [[vm]]
    Memory(MemoryArgs),
    /// Show process groups, counts, regions and sizes
    Show,
    /// Set the soft and hard concurrency limits of the app's services
    Concurrency(ConcurrencyArgs),
}

#[derive(Debug, Args)]
pub struct CountArgs {
    /// N, +N, -N, or GROUP=N for each group
    #[arg(value_name = "COUNT", required = true, allow_negative_numbers = true)]
    pub counts: Vec<String>,
    /// Regions to place Machines in (comma-separated or repeated)
    #[arg(short = 'r', long, value_name = "REGION", value_delimiter = ',')]
    pub region: Vec<String>,
    /// Process group the single count applies to [default: app]
    #[arg(short = 'g', long, value_name = "GROUP")]
    pub process_group: Option<String>,
    /// At most this many Machines of the group per region
    #[arg(long, value_name = "N")]
    pub max_per_region: Option<i64>,
}

#[derive(Debug, Args)]
pub struct VmArgs {
    /// VM size (shared-cpu-1x … performance-16x)
    #[arg(value_name = "SIZE")]
    pub size: String,
    /// Memory in MB (or with a unit: 1gb) instead of the size's default
    #[arg(long, value_name = "MB")]
    pub memory: Option<String>,
    /// Only this process group [default: every group]
    #[arg(short = 'g', long, value_name = "GROUP")]
    pub process_group: Option<String>,
}

#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// Memory in MB (or with a unit: 1gb)
    #[arg(value_name = "MB")]
    pub memory: String,
    /// Only this process group [default: every group]
    #[arg(short = 'g', long, value_name = "GROUP")]
    pub process_group: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConcurrencyArgs {
    /// Above this many connections a Machine gets no new ones if another has room
    #[arg(long, value_name = "N")]
    pub soft: i64,
    /// A Machine never gets more than this many connections
    #[arg(long, value_name = "N")]
    pub hard: i64,
}

pub(crate) async fn run(ctx: &Context, command: ScaleCommand) -> anyhow::Result<i32> {
    match command {
        ScaleCommand::Count(args) => count::run(ctx, args, true).await,
        ScaleCommand::Vm(args) => vm::vm(ctx, args).await,
        ScaleCommand::Memory(args) => vm::memory(ctx, args).await,
        ScaleCommand::Show => show::run(ctx).await,
        ScaleCommand::Concurrency(args) => vm::concurrency(ctx, args).await,
    }
}

/// Converges `group` to `total` Machines in the regions it runs in, without
/// asking (for `autoscale set`).
pub(crate) async fn count_group(ctx: &Context, group: &str, total: i64) -> anyhow::Result<i32> {
    count::run(
        ctx,
        CountArgs {
            counts: vec![total.to_string()],
            region: Vec::new(),
            process_group: Some(group.to_string()),
            max_per_region: None,
        },
        false,
    )
    .await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    #[test]
    fn counts_take_changes_and_flags_stay_flags() {
        let cli = Cli::try_parse_from(["hangar", "scale", "count", "-1", "-y", "-g", "w"]).unwrap();
        let Command::Scale(ScaleCommand::Count(args)) = cli.command else {
            panic!("not scale count")
        };
        assert_eq!(args.counts, ["-1"]);
        assert!(cli.yes);
        assert_eq!(args.process_group.as_deref(), Some("w"));
    }
}
