//! `fencescope`: dma-buf fence lifetimes and compositor waits, measured with
//! eBPF. A thin binary: the engine, the capture format and the schema are
//! library crates; each command below wires a source to an output.
mod cli;
mod cmd;
mod verify;

use clap::Parser;

fn main() {
    // Like any Unix filter: `fencescope watch --interval 1 | head` ends
    // quietly when head does, instead of failing to print.
    // SAFETY: setting a signal disposition before any thread starts. (libc,
    // as rustix has no safe call for it either.)
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = cli::Cli::parse();
    env_logger::Builder::new()
        .filter_level(if cli.verbose { log::LevelFilter::Debug } else { log::LevelFilter::Warn })
        // aya's own debug lines (every relocation) would bury the kernel
        // side's diagnostics that -v is for.
        .filter_module("aya", log::LevelFilter::Info)
        .filter_module("aya_obj", log::LevelFilter::Info)
        .init();
    let result = match cli.command {
        cli::Command::Probe(a) => cmd::probe::run(&a, !cli.no_btf),
        cli::Command::Watch(a) => cmd::watch::run(&a, !cli.no_btf),
        cli::Command::Record(a) => cmd::record::run(&a, !cli.no_btf),
        cli::Command::Report(a) => cmd::report::run(&a),
        cli::Command::Dump(a) => cmd::report::dump(&a),
        cli::Command::Compare(a) => cmd::compare::run(&a),
        cli::Command::Top(a) => cmd::top::run(&a, !cli.no_btf),
        cli::Command::Flamegraph(a) => cmd::flamegraph::run(&a),
        cli::Command::Export(a) => cmd::export::run(&a),
        cli::Command::Serve(a) => cmd::serve::run(&a, !cli.no_btf),
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
