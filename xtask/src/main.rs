//! `cargo xtask …`: fencescope's developer tasks. Run through `./x`, which
//! does the machine set-up first.
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use xtask::kernels::{self, Series};
use xtask::{Arch, build, run, scenario, workspace_root};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Boot the test VM, run fencescope against the truth workload, print
    /// its report (the main job on a machine with no fence producer).
    Demo {
        #[arg(long, value_enum, default_value = "6.12")]
        kernel: Series,
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
        /// Show the frames of a Wayland client on a real compositor (Debian
        /// 13's, from a root filesystem built and cached on first use)
        /// instead of the vgem truth workload.
        #[arg(long, value_parser = ["kwin", "mutter"])]
        compositor: Option<String>,
    },
    /// Every test: fmt, clippy, unit tests, then the VM tests.
    Test {
        /// Skip the VM tests (quick local loop).
        #[arg(long)]
        no_vm: bool,
    },
    /// Boot one scenario and print what the guest reported.
    Vm {
        #[arg(long, value_enum, default_value = "6.12")]
        kernel: Series,
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
        /// A scenario of the registry (README: "The test VM"); m2m needs
        /// kernel 6.12-bpo, the fixture's.
        #[arg(long, default_value = "demo", value_parser = clap::builder::PossibleValuesParser::new(scenario::names()))]
        scenario: String,
        /// Print the whole guest console.
        #[arg(long)]
        console: bool,
    },
    /// The cost of watching, in the VM: the producer's top fence rate with no
    /// tracer, with fencescope, and with its kernel side alone.
    Bench {
        #[arg(long, value_enum, default_value = "6.12")]
        kernel: Series,
    },
    /// A static binary and a tarball (README, licences, dashboards, SHA256SUMS)
    /// for one architecture, in target/dist.
    Dist {
        #[arg(long, value_enum, default_value = "x86_64")]
        target: Arch,
    },
    /// Build a kernel fixture (fixtures/NAME) against its VM kernel's headers.
    Fixture {
        #[arg(default_value = "fencefix")]
        name: String,
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
    },
    /// Time and peak memory of every command that replays a capture, on a
    /// large one and on a tenth of it
    BenchReport {
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
    },
    /// fencescope's resident memory through a long live run in the VM
    /// (ten million fences unless told), sampled as it goes.
    BenchMemory {
        #[arg(long, default_value_t = xtask::scenario::LIVE_MEMORY_FENCES)]
        fences: u32,
    },
    /// The test kernel built from source (`--kernel 6.12-src`): `kernel build`.
    Kernel {
        #[command(subcommand)]
        cmd: KernelCmd,
    },
    /// The compositors' Debian 13 root filesystem (KWin, Mutter, Weston):
    /// build it unless the cache has it, print where it is.
    Rootfs {
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
    },
    /// Fetch and unpack the VM kernels (done on demand otherwise).
    Kernels {
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
    },
}

#[derive(Subcommand)]
enum KernelCmd {
    /// Build it unless the cache has it (Debian's linux-source-6.12,
    /// kernel/patches, kernel/fencescope.config).
    Build {
        #[arg(long, value_enum, default_value = "x86_64")]
        arch: Arch,
    },
}

fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(workspace_root());
    c
}

fn main() {
    if let Err(e) = dispatch() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn dispatch() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Demo { kernel, arch, compositor: None } => demo(kernel, arch),
        Cmd::Demo { kernel, arch, compositor: Some(c) } => compositor_demo(kernel, arch, &c),
        Cmd::Test { no_vm } => test(no_vm),
        Cmd::Vm { kernel, arch, scenario, console } => vm(kernel, arch, &scenario, console),
        Cmd::Bench { kernel } => bench(kernel),
        Cmd::Dist { target } => {
            let d = xtask::dist::dist(target)?;
            println!("{}\nsha256 {}", d.tarball.display(), d.sha256);
            Ok(())
        }
        Cmd::Fixture { name, arch } => {
            let (kernel, ko) = xtask::fixtures::build(&name, arch)?;
            println!("{} for {}", ko.display(), kernel.release);
            Ok(())
        }
        Cmd::BenchReport { events } => xtask::bench_report::bench_report(events),
        Cmd::BenchMemory { fences } => xtask::bench_memory::bench_memory(fences),
        Cmd::Kernel { cmd: KernelCmd::Build { arch } } => {
            let b = xtask::kbuild::build(arch)?;
            let size = std::fs::metadata(&b.image)?.len();
            println!(
                "{} ({:.1} MB, linux-source {}): {}",
                b.image.display(),
                size as f64 / 1e6,
                b.version,
                match b.built_in {
                    Some(s) => format!("built in {s} s"),
                    None => "cached".to_string(),
                }
            );
            Ok(())
        }
        Cmd::Rootfs { arch } => {
            let r = xtask::rootfs::ensure_built(arch)?;
            println!(
                "{} ({:.2} GB, {SUITE}; built in {:.0} s)",
                r.image.display(),
                r.bytes as f64 / 1e9,
                r.build_secs,
                SUITE = xtask::rootfs::SUITE
            );
            Ok(())
        }
        Cmd::Kernels { arch } => {
            for s in [Series::V6_12, Series::V6_1, Series::V7_2] {
                let k = kernels::fetch(s, arch)?;
                println!("{} {}: {} ({})", s.name(), arch.name(), k.release, k.image.display());
            }
            Ok(())
        }
    }
}

fn demo(series: Series, arch: Arch) -> Result<()> {
    let kernel = kernels::fetch(series, arch)?;
    let bins = build::guest_bins(arch)?;
    eprintln!(
        "xtask: booting Debian's {} ({}) under QEMU; fencescope watches a vgem workload",
        kernel.release,
        arch.name()
    );
    let boot = scenario::run(&scenario::demo(), &kernel, &bins)?;
    if boot.exit != Some(0) {
        bail!(
            "the demo failed in the guest (exit {:?}); console tail:\n{}",
            boot.exit,
            xtask::qemu::tail(&boot.console, 60)
        );
    }
    println!("== fencescope probe (in the guest) ==\n{}", boot.file("probe.txt")?);
    println!("== what the workload injected ==\n{}", boot.file("truth.json")?.trim());
    println!("\n== fencescope watch: its report ==\n{}", boot.file("report.txt")?);
    eprintln!("xtask: demo done in {:.1} s ({:?})", boot.wall.as_secs_f64(), boot.accel);
    Ok(())
}

fn compositor_demo(series: Series, arch: Arch, name: &str) -> Result<()> {
    let c = *scenario::COMPOSITORS.iter().find(|c| c.name == name).context("no such compositor")?;
    let kernel = kernels::fetch(series, arch)?;
    let bins = build::guest_bins(arch)?;
    eprintln!(
        "xtask: booting Debian's {} under QEMU with Debian 13's {}; fencescope records a Wayland \
         client whose fences signal {} ms after each commit",
        kernel.release,
        c.process,
        scenario::COMPOSITOR_DELAY_MS
    );
    let boot = scenario::run(&scenario::compositor(c), &kernel, &bins)?;
    if boot.exit != Some(0) {
        bail!(
            "the demo failed in the guest (exit {:?}); console tail:\n{}",
            boot.exit,
            xtask::qemu::tail(&boot.console, 60)
        );
    }
    let client: serde_json::Value = serde_json::from_str(boot.file("client.json")?)?;
    println!("== fencescope probe (in the guest) ==\n{}", boot.file("probe.txt")?);
    println!(
        "== what the client saw ==\n{} frames, {} shown after their fence signalled, {} lost; \
         the compositor's wait can have been {:.3} ms (p50: delay less hand-off)",
        client["frames"].as_array().map_or(0, Vec::len),
        client["shown_after_signal"],
        client["lost"],
        client["expected_wait_p50_ms"].as_f64().unwrap_or(f64::NAN)
    );
    println!("\n== fencescope record: its live report ==\n{}", boot.file("live.txt")?);
    eprintln!("xtask: demo done in {:.1} s ({:?})", boot.wall.as_secs_f64(), boot.accel);
    Ok(())
}

fn vm(series: Series, arch: Arch, name: &str, console: bool) -> Result<()> {
    let kernel = kernels::fetch(series, arch)?;
    let bins = build::guest_bins(arch)?;
    let entry = scenario::find(name)?;
    if let Some(fixture) = entry.fixture {
        xtask::fixtures::build(fixture, arch)?;
    }
    let sc = (entry.make)();
    let boot = scenario::run(&sc, &kernel, &bins)?;
    if console {
        println!("{}", boot.console);
    }
    for (name, body) in &boot.files {
        println!("== {name} ==\n{body}");
    }
    println!(
        "exit {:?}, {:.1} s wall, {:?}{}",
        boot.exit,
        boot.wall.as_secs_f64(),
        boot.accel,
        if boot.retried { ", retried once" } else { "" }
    );
    if boot.exit != Some(0) {
        bail!("scenario failed");
    }
    Ok(())
}

/// The middle of the runs' figures (the upper middle of an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(series: Series) -> Result<()> {
    let kernel = kernels::fetch(series, Arch::X86_64)?;
    let bins = build::guest_bins(Arch::X86_64)?;
    let bpftrace = match kernels::bpftrace(Arch::X86_64) {
        Ok(root) => Some(root),
        Err(e) => {
            eprintln!("xtask: no bpftrace to compare with ({e:#}); measuring fencescope alone");
            None
        }
    };
    let with_bpftrace = bpftrace.is_some();
    let boot = scenario::run(&scenario::bench(bpftrace), &kernel, &bins)?;
    if boot.exit != Some(0) {
        bail!(
            "the benchmark failed in the guest; console tail:\n{}",
            xtask::qemu::tail(&boot.console, 40)
        );
    }
    let rate = |name: &str| -> Result<f64> {
        let v: serde_json::Value = serde_json::from_str(boot.file(name)?)?;
        v["per_second"].as_f64().context("no per_second")
    };
    let runs = 0..scenario::BENCH_RUNS;
    let off = median(runs.clone().map(|r| rate(&format!("off-{r}.json"))).collect::<Result<_>>()?);
    let on = median(runs.clone().map(|r| rate(&format!("on-{r}.json"))).collect::<Result<_>>()?);
    let kern =
        median(runs.clone().map(|r| rate(&format!("kernel-{r}.json"))).collect::<Result<_>>()?);
    println!("{} (icount: guest time counts instructions)", kernel.release);
    println!("{:<44}{:>12}{:>8}", "producer fence rate (median of runs)", "fences/s", "ratio");
    println!("{:<44}{:>12.0}{:>8.3}", "no tracer (baseline)", off, 1.0);
    println!("{:<44}{:>12.0}{:>8.3}", "fencescope watch, reader on the same CPU", on, on / off);
    println!("{:<44}{:>12.0}{:>8.3}", "fencescope kernel side alone", kern, kern / off);
    let hooks =
        median(runs.clone().map(|r| rate(&format!("hooks-{r}.json"))).collect::<Result<_>>()?);
    println!(
        "{:<44}{:>12.0}{:>8.3}",
        "its hooks alone (programs emit nothing)",
        hooks,
        hooks / off
    );
    perturbation(&boot)?;
    if with_bpftrace {
        let bt = median(runs.map(|r| rate(&format!("bpftrace-{r}.json"))).collect::<Result<_>>()?);
        println!("{:<44}{:>12.0}{:>8.3}", "bpftrace, the same pairing (tracepoints)", bt, bt / off);
    }
    Ok(())
}

/// What watching adds to each hooked ioctl, by the workload's own timing of
/// it (medians over the runs), and whether fencescope's own figure for the
/// export round trip agrees with the workload's within max(5 %, 1 µs).
fn perturbation(boot: &xtask::qemu::Boot) -> Result<()> {
    let json =
        |name: &str| -> Result<serde_json::Value> { Ok(serde_json::from_str(boot.file(name)?)?) };
    let runs = || 0..scenario::BENCH_RUNS;
    let field = |cond: &str, key: &str| -> Result<f64> {
        let v: Vec<f64> = runs()
            .map(|r| json(&format!("ioctl-{cond}-{r}.json"))?[key].as_f64().context("no figure"))
            .collect::<Result<_>>()?;
        Ok(median(v) / 1e3)
    };
    println!(
        "\n{:<44}{:>10}{:>10}{:>10}",
        "fence ioctl, workload's own p50 (us)", "off", "watched", "added"
    );
    for (path, key) in [
        ("VGEM_FENCE_ATTACH", "attach_p50_ns"),
        ("EXPORT_SYNC_FILE", "export_p50_ns"),
        ("VGEM_FENCE_SIGNAL", "signal_p50_ns"),
    ] {
        let (off, on) = (field("off", key)?, field("on", key)?);
        println!("{path:<44}{off:>10.2}{on:>10.2}{:>9.0}%", (on / off - 1.0) * 100.0);
    }
    let reported: Vec<f64> = runs()
        .map(|r| {
            let s = json(&format!("ioctl-on-{r}.report"))?;
            let e = s["exports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["process"] == "fence-workload" && e["handed"] == "fence");
            e.and_then(|e| e["round_trip"]["p50_ns"].as_f64()).context("no export figure")
        })
        .collect::<Result<_>>()?;
    let (ours, theirs) = (median(reported) / 1e3, field("on", "export_p50_ns")?);
    let agree = (ours - theirs).abs() <= (theirs * 0.05).max(1.0);
    println!(
        "export round trip, fencescope's p50 {ours:.2} us against the workload's {theirs:.2} us: {}",
        if agree { "agree within max(5 %, 1 us)" } else { "DISAGREE beyond max(5 %, 1 us)" }
    );
    Ok(())
}

fn test(no_vm: bool) -> Result<()> {
    run(cargo().args(["fmt", "--all", "--check"])).context("cargo fmt: run `cargo fmt --all`")?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // Every library crate documents its public items; a broken link or a
    // missing doc is a failure, not a warning nobody reads.
    run(cargo().env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--workspace",
        "--exclude",
        "fencescope-ebpf",
        "--no-deps",
    ]))
    .context("cargo doc: fix the warnings it prints")?;
    run(cargo().args(["test", "--workspace", "--exclude", "fencescope-ebpf"]))?;
    // The release tarballs of both architectures (static builds the VM
    // tests use too).
    run(cargo().args(["test", "-p", "xtask", "--test", "dist", "--", "--ignored"]))?;
    if !no_vm {
        // One guest at a time: two TCG guests on two cores distort timings.
        let vm_tests = |filter: &[&str]| {
            run(cargo()
                .args([
                    "test",
                    "-p",
                    "xtask",
                    "--test",
                    "vm",
                    "--",
                    "--ignored",
                    "--test-threads=1",
                ])
                .args(filter))
        };
        // The compositors' guests run on wall-clock time over two vCPUs:
        // first, with the machine to themselves.
        vm_tests(&["compositor::"])?;
        // The rest run on one instruction-counted vCPU each, which a busy
        // host cannot stretch: the test kernel built from source compiles
        // meanwhile on the other core, and its tests wait for it.
        let mut kernel = background_kernel_build()?;
        let tests = vm_tests(&["--skip", "compositor::"]);
        let built = kernel.wait()?;
        tests?;
        if !built.success() {
            bail!("the background kernel build failed: see target/kernel-build.log");
        }
    }
    Ok(())
}

/// `xtask kernel build` at the lowest priority, its output in
/// target/kernel-build.log; quick when the kernel is cached. It runs the
/// xtask binary by its path: `cargo test -p xtask` has rebuilt it, so this
/// process's own executable is a deleted file by now.
fn background_kernel_build() -> Result<std::process::Child> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let exe = target.join("debug").join("xtask");
    let exe = if exe.is_file() { exe } else { std::env::current_exe()? };
    let log = std::fs::File::create(target.join("kernel-build.log"))?;
    Command::new("nice")
        .current_dir(workspace_root())
        .args(["-n", "19"])
        .arg(exe)
        .args(["kernel", "build"])
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting the background kernel build")
}
