//! `fencescope`: dma-buf fence lifetimes and compositor waits, measured with
//! eBPF. A thin binary: the engine, the capture format and the schema are
//! library crates; each command below wires a source to an output.
mod cli;
mod compare;
mod flamegraph;
mod metrics;
mod perfetto;
mod probe;
mod report;
mod session;
mod top;

use clap::Parser;

fn main() {
    // Like any Unix filter: `fencescope watch --interval 1 | head` ends
    // quietly when head does, instead of failing to print.
    // SAFETY: setting a signal disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = cli::Cli::parse();
    env_logger::Builder::new()
        .filter_level(if cli.verbose { log::LevelFilter::Debug } else { log::LevelFilter::Warn })
        .init();
    let result = match cli.command {
        cli::Command::Probe(a) => probe::run(&a, !cli.no_btf),
        cli::Command::Watch(a) => session::watch(&a, !cli.no_btf),
        cli::Command::Record(a) => session::record(&a, !cli.no_btf),
        cli::Command::Report(a) => report::run(&a),
        cli::Command::Dump(a) => report::dump(&a),
        cli::Command::Compare(a) => compare::run(&a),
        cli::Command::Top(a) => top::run(&a, !cli.no_btf),
        cli::Command::Flamegraph(a) => flamegraph::run(&a),
        cli::Command::Export(a) => perfetto::run(&a),
        cli::Command::Serve(a) => metrics::run(&a, !cli.no_btf),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: what went wrong and, where we know it, what to do.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("fencescope: error: {msg}");
            std::process::exit(1);
        }
    }
}
