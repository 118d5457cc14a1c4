//! Command-line surface. Names and flags here are what users and scripts
//! type: keep them stable.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::plan::Mode;

#[derive(Parser)]
#[command(
    name = "fencescope",
    version,
    about = "dma-buf fence lifetimes and compositor waits, with eBPF"
)]
pub struct Cli {
    /// Log what the loader does.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Say what each hook can attach as on this kernel, and why not where not.
    Probe(ProbeArgs),
    /// Watch fences live, then print the report (Ctrl-C or --duration ends).
    Watch(WatchArgs),
    /// Record raw events to a capture file for `report` (Ctrl-C or --duration ends).
    Record(RecordArgs),
    /// Report on a capture file.
    Report(ReportArgs),
    /// Print a capture's events one per line, as recorded (like `perf script`).
    Dump(DumpArgs),
}

#[derive(Args)]
pub struct ProbeArgs {
    /// Check only the plan for this attach mode.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub attach: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct LiveArgs {
    /// How fence inits are watched.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub attach: Mode,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
}

#[derive(Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Args)]
pub struct RecordArgs {
    /// The capture file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub live: LiveArgs,
    /// Also print the report of what was recorded when recording ends.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report: Option<Format>,
}

#[derive(Args)]
pub struct ReportArgs {
    /// A capture written by `fencescope record`.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Args)]
pub struct DumpArgs {
    /// A capture written by `fencescope record`.
    pub file: PathBuf,
}
