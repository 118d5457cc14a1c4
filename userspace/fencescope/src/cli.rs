//! Command-line surface. Names and flags here are what users and scripts
//! type: keep them stable.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use fencescope_loader::plan::Mode;

/// `--version`: the release, the commit, the target, the event schema.
fn version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (commit {}, {}, event schema {})",
            env!("CARGO_PKG_VERSION"),
            env!("FENCESCOPE_COMMIT"),
            env!("FENCESCOPE_TARGET"),
            fencescope_schema::SCHEMA_VERSION
        )
    })
}

#[derive(Parser)]
#[command(
    name = "fencescope",
    version = version(),
    about = "dma-buf fence lifetimes and compositor waits, with eBPF"
)]
pub struct Cli {
    /// Log what the loader does.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Ignore the kernel's BTF: take struct layouts from fencescope's table
    /// (what a kernel built without BTF gets).
    #[arg(long, global = true)]
    pub no_btf: bool,
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
    /// Compare two captures (before and after a change), figure by figure.
    Compare(CompareArgs),
    /// A live screen of fences, waits and hangs (or of a capture, --replay).
    Top(TopArgs),
    /// A flamegraph-like SVG of time waited (or fence lifetimes) in a capture.
    Flamegraph(FlamegraphArgs),
    /// Convert a capture for a trace viewer (Perfetto).
    Export(ExportArgs),
    /// Serve the figures to Prometheus on /metrics (live, or a capture's).
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct ProbeArgs {
    /// Check only the plan for this attach mode.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub attach: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and log2 histograms in 72 columns, for mail.
    Text,
    /// Tables, for forges.
    Markdown,
    /// Every figure, for scripts.
    Json,
}

impl From<Format> for fencescope_report::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => fencescope_report::Format::Text,
            Format::Markdown => fencescope_report::Format::Markdown,
            Format::Json => fencescope_report::Format::Json,
        }
    }
}

/// What to count (everything is still watched: pairing needs it).
#[derive(Args, Clone, Default)]
pub struct FilterArgs {
    /// Only this process: fences it creates, waits and exports it makes.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<u32>,
    /// Only tasks of this name (as `ps -o comm` shows it).
    #[arg(long, value_name = "NAME")]
    pub comm: Option<String>,
    /// Only fences of this driver (as the kernel names it, e.g. vgem).
    #[arg(long, value_name = "NAME")]
    pub driver: Option<String>,
}

impl FilterArgs {
    pub fn filter(&self) -> fencescope_engine::Filter {
        fencescope_engine::Filter {
            pid: self.pid,
            comm: self.comm.clone(),
            driver: self.driver.clone(),
            since_ns: 0,
        }
    }
}

#[derive(Args)]
pub struct LiveArgs {
    /// How fence inits are watched.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub attach: Mode,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Ring buffer between kernel and fencescope, MiB (a power of two).
    #[arg(long, value_name = "MIB", default_value_t = 4)]
    pub ring_mb: u32,
    /// Benchmarks only: read nothing until the session ends, so the kernel
    /// side's cost is measured without the reader's (records beyond the
    /// ring's size are dropped, and counted).
    #[arg(long, hide = true)]
    pub defer_reading: bool,
    /// Benchmarks only: attach every program, but have none emit a record,
    /// so what the kernel's hooks cost is measured apart from fencescope's
    /// own work (nothing is reported).
    #[arg(long, hide = true)]
    pub emit_nothing: bool,
    /// A function whose call arms a fence: commits the job that signals it
    /// (a driver's device_run; `module:function` where several modules
    /// have one). Repeatable. When its first argument is a fence, that
    /// fence is armed; else the oldest unarmed videobuf2 fence. Default:
    /// whichever of fencefix_arm, hantro_vpu:device_run,
    /// rockchip_rga:device_run and vb2_release_fence_arm (the test kernel's
    /// series, which vim2m and vicodec call) exist.
    #[arg(long, value_name = "SYMBOL")]
    pub arm_hook: Vec<String>,
    /// Also have the kernel's own ftrace (the dma_fence events, in a private
    /// instance removed afterwards) count the same fences, and say at the
    /// end, per driver, whether its counts and lifetimes agree with
    /// fencescope's. Exit status 3 when they do not.
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print a report of each interval of this many seconds (JSON: one
    /// object per line), instead of one at the end.
    #[arg(long, value_name = "SECS")]
    pub interval: Option<f64>,
    /// With --interval: stop after this many reports.
    #[arg(long, value_name = "N", requires = "interval")]
    pub count: Option<u64>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
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
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Args)]
pub struct ReportArgs {
    /// A capture written by `fencescope record`.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also print the stage timelines (created, attached, armed, handed
    /// out, signalled) of the first N fences to signal (text format).
    #[arg(long, value_name = "N")]
    pub stages: Option<usize>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args)]
pub struct CompareArgs {
    /// The capture before the change.
    pub before: PathBuf,
    /// The capture after it.
    pub after: PathBuf,
    /// p-value under which a difference in a distribution is called a change.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args)]
pub struct DumpArgs {
    /// A capture written by `fencescope record`.
    pub file: PathBuf,
}

#[derive(Args)]
pub struct TopArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Show a capture instead of the live kernel, paced as recorded.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// With --replay: play this many times faster than recorded.
    #[arg(long, value_name = "X", default_value_t = 1.0, requires = "replay")]
    pub speed: f64,
    /// Refresh the figures every this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub interval: u64,
    /// Draw a fence unsignalled for longer than this in red, as hanging.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub hang_ms: u64,
    /// Also record what is shown to this capture file (live only).
    #[arg(short = 'o', long = "output", value_name = "FILE", conflicts_with = "replay")]
    pub output: Option<PathBuf>,
    /// No terminal: draw into an in-memory screen of this size (e.g.
    /// 100x30) and print the last screen on exit. For scripts and tests.
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_size)]
    pub headless: Option<(u16, u16)>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{s:?} is not a size like 100x30");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    let (w, h) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if w < 20 || h < 10 {
        return Err(format!("{s} is too small; fencescope top needs at least 20x10"));
    }
    Ok((w, h))
}

#[derive(Args)]
pub struct FlamegraphArgs {
    /// A capture written by `fencescope record`.
    #[arg(required_unless_present = "diff")]
    pub file: Option<PathBuf>,
    /// The SVG to write.
    #[arg(short = 'o', long = "output", value_name = "OUT.svg")]
    pub output: PathBuf,
    /// Weigh fence lifetimes (driver → timeline → stage) instead of time
    /// waited (process → thread → style → driver → timeline → stage).
    #[arg(long)]
    pub lifetimes: bool,
    /// A differential graph: AFTER's stacks, red where they grew since
    /// BEFORE, blue where they shrank.
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"], conflicts_with = "file")]
    pub diff: Option<Vec<PathBuf>>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args)]
pub struct ExportArgs {
    /// A capture written by `fencescope record`.
    pub file: PathBuf,
    /// Write a trace Perfetto (ui or trace_processor) and chrome://tracing open.
    #[arg(long, value_name = "OUT.json")]
    pub perfetto: PathBuf,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Where metrics are served, and how many series a family may have.
#[derive(Args, Clone)]
pub struct MetricsArgs {
    /// Also serve the figures on http://ADDR:PORT/metrics (read-only).
    #[arg(long, value_name = "ADDR:PORT")]
    pub serve: Option<std::net::SocketAddr>,
    /// Series per metric family at most; the rest fold into one whose
    /// labels are "_other" (label values come from process and driver names).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_series: usize,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Where to listen (loopback unless told otherwise).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,
    /// Serve a capture's figures instead of the live kernel's.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Series per metric family at most (see --max-series of record).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_series: usize,
}
