//! One file per command: each parses nothing and computes nothing, only
//! wires a source (live or a capture) to the fan-out and an output.
pub(crate) mod compare;
pub(crate) mod export;
pub(crate) mod flamegraph;
pub(crate) mod probe;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod top;
pub(crate) mod watch;

use anyhow::Result;
use fencescope_loader::live::{BenchSwitches, Session};
use fencescope_stream::metrics::Metrics;

use crate::cli::{LiveArgs, MetricsArgs};

/// What the capture header names as the recording tool.
pub(crate) const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Attaches a live session, saying what it watches and what it cannot.
pub(crate) fn open(live: &LiveArgs, use_btf: bool) -> Result<Session> {
    let bench =
        BenchSwitches { defer_reading: live.defer_reading, emit_nothing: live.emit_nothing };
    let session = Session::open(live.attach, use_btf, live.ring_mb, bench, &live.arm_hook)?;
    let hooks: Vec<String> =
        session.attached.hooks.iter().map(|(h, w)| format!("{h}: {w}")).collect();
    eprintln!("fencescope: watching ({}); Ctrl-C to stop", hooks.join(", "));
    for (hook, why) in &session.attached.missing {
        eprintln!("fencescope: warning: not watching {hook}: {why}");
    }
    Ok(session)
}

/// `--serve`: the endpoint bound (before any probe attaches) and its
/// publisher, if asked for.
pub(crate) fn metrics(a: &MetricsArgs) -> Result<Option<(Metrics, std::net::TcpListener)>> {
    a.serve.map(|addr| Metrics::bind(addr, a.max_series)).transpose()
}
