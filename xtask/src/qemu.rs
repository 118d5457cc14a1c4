//! Booting one guest under QEMU and reading what its /init reported.
//!
//! The guest's /init prints markers on the serial console: `@@fencescope:init`
//! once userland runs, `@@fencescope:file NAME` … `@@fencescope:end` around
//! each result file, and `@@fencescope:exit N` last. A boot that never prints
//! the first marker did not reach /init (a flaky early boot under TCG, seen
//! about once in fifteen): it is retried once and never counted as a test
//! result.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::Arch;
use crate::cache;

pub const INIT_MARK: &str = "@@fencescope:init";
pub const FILE_MARK: &str = "@@fencescope:file ";
pub const END_MARK: &str = "@@fencescope:end";
pub const EXIT_MARK: &str = "@@fencescope:exit ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

/// What one boot produced.
#[derive(Debug)]
pub struct Boot {
    pub console: String,
    pub files: BTreeMap<String, String>,
    /// The scenario's exit status, if /init got to report it.
    pub exit: Option<i32>,
    pub wall: Duration,
    pub accel: Accel,
    /// The first boot never reached /init and this is the second.
    pub retried: bool,
}

impl Boot {
    pub fn file(&self, name: &str) -> Result<&str> {
        self.files.get(name).map(String::as_str).with_context(|| {
            format!("the guest wrote no {name}; console tail:\n{}", tail(&self.console, 60))
        })
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn parse(console: &str) -> (bool, BTreeMap<String, String>, Option<i32>) {
    let mut files = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut reached = false;
    let mut exit = None;
    for raw in console.lines() {
        let line = raw.trim_end_matches('\r');
        if line.contains(INIT_MARK) {
            reached = true;
        } else if let Some(name) = line.strip_prefix(FILE_MARK) {
            current = Some((name.trim().to_string(), String::new()));
        } else if line == END_MARK {
            if let Some((name, body)) = current.take() {
                files.insert(name, body);
            }
        } else if let Some(code) = line.strip_prefix(EXIT_MARK) {
            exit = code.trim().parse().ok();
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    (reached, files, exit)
}

/// The guest machine beyond its kernel and initramfs.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cpus: u32,
    pub memory_mb: u32,
    /// A root filesystem image on virtio-blk (`/dev/vda`), written through a
    /// throwaway overlay so the cached image never changes.
    pub disk: Option<PathBuf>,
    /// The TCG CPU model, where the default (`max`) does not do.
    pub cpu: Option<&'static str>,
    /// Under TCG, guest time advances with guest instructions (see
    /// `command`); off for guests that need several vCPUs to run at
    /// speed (a compositor), whose timings are then wall-clock time.
    pub icount: bool,
}

impl Default for Machine {
    fn default() -> Machine {
        Machine { cpus: 1, memory_mb: 1024, disk: None, cpu: None, icount: true }
    }
}

fn command(
    arch: Arch,
    accel: Accel,
    kernel: &Path,
    initrd: &Path,
    console: &Path,
    machine: &Machine,
) -> Command {
    let (bin, kind, cpu, tty) = match arch {
        Arch::X86_64 => ("qemu-system-x86_64", "pc", "max", "ttyS0"),
        Arch::Aarch64 => ("qemu-system-aarch64", "virt", "cortex-a72", "ttyAMA0"),
    };
    let cpu = machine.cpu.unwrap_or(cpu);
    let mut c = Command::new(bin);
    c.args(["-machine", kind, "-no-reboot", "-nodefaults"])
        .arg("-m")
        .arg(format!("{}M", machine.memory_mb))
        .arg("-smp")
        .arg(machine.cpus.to_string())
        .args(["-display", "none", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        // preempt=full: under emulation a kernel path runs tens of times
        // slower, and a workload's real-time producer must not wait for one
        // to reach a voluntary preemption point to meet its deadline.
        .arg(format!("console={tty} panic=-1 quiet loglevel=1 preempt=full"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(disk) = &machine.disk {
        c.arg("-drive").arg(format!("file={},if=virtio,format=raw,snapshot=on", disk.display()));
    }
    match accel {
        Accel::Kvm => c.args(["-enable-kvm", "-cpu", "host"]),
        // icount: guest time advances with guest instructions (1 ns each)
        // and jumps over idle time, so a host that descheduled QEMU or a
        // first-run translation cannot stretch a fence the workload timed:
        // the truth tests compare against exact injected lifetimes.
        Accel::Tcg if machine.icount => {
            c.args(["-accel", "tcg", "-cpu", cpu, "-icount", "shift=0,sleep=off"])
        }
        Accel::Tcg => c.args(["-accel", "tcg", "-cpu", cpu]),
    };
    c
}

fn wait(
    child: &mut Child,
    console: &Path,
    timeout: Duration,
    init_within: Option<Duration>,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        let elapsed = start.elapsed();
        if let Some(limit) = init_within
            && elapsed > limit
            && !fs::read_to_string(console).unwrap_or_default().contains(INIT_MARK)
        {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(());
        }
        if elapsed > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// KVM under this workplace's nested virtualisation aborts or hangs; try it
/// once per host kernel with a short limit, and remember the verdict.
fn pick_accel(arch: Arch, kernel: &Path, initrd: &Path, work: &Path) -> Result<Accel> {
    if arch != Arch::host() || !Path::new("/dev/kvm").exists() {
        return Ok(Accel::Tcg);
    }
    match std::env::var("FENCESCOPE_VM_ACCEL").as_deref() {
        Ok("tcg") => return Ok(Accel::Tcg),
        Ok("kvm") => return Ok(Accel::Kvm),
        _ => {}
    }
    let host = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let verdict = cache::dir().join(format!("kvm-verdict-{}", host.trim()));
    if let Ok(v) = fs::read_to_string(&verdict) {
        return Ok(if v.trim() == "kvm" { Accel::Kvm } else { Accel::Tcg });
    }
    let console = work.join("kvm-probe.log");
    let mut child =
        command(arch, Accel::Kvm, kernel, initrd, &console, &Machine::default()).spawn()?;
    wait(&mut child, &console, Duration::from_secs(20), Some(Duration::from_secs(20)))?;
    let ok = fs::read_to_string(&console).unwrap_or_default().contains(INIT_MARK);
    let accel = if ok { Accel::Kvm } else { Accel::Tcg };
    fs::create_dir_all(cache::dir())?;
    fs::write(&verdict, if ok { "kvm" } else { "tcg" })?;
    eprintln!(
        "xtask: KVM {} here; using {accel:?} from now on",
        if ok { "works" } else { "does not work" }
    );
    Ok(accel)
}

/// Boots `kernel` with `initrd` until the guest powers off or `timeout`.
pub fn boot(
    arch: Arch,
    kernel: &Path,
    initrd: &Path,
    work: &Path,
    machine: &Machine,
    timeout: Duration,
) -> Result<Boot> {
    let accel = pick_accel(arch, kernel, initrd, work)?;
    let mut retried = false;
    loop {
        let console: PathBuf = work.join("console.log");
        let _ = fs::remove_file(&console);
        let start = Instant::now();
        let mut child =
            command(arch, accel, kernel, initrd, &console, machine).spawn().with_context(|| {
                format!("starting QEMU for {} (install it: ./x setup)", arch.name())
            })?;
        // Init within a minute even under TCG; the rest is the scenario's.
        wait(&mut child, &console, timeout, Some(Duration::from_secs(90)))?;
        let wall = start.elapsed();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        let text = fs::read_to_string(&console).unwrap_or_default();
        let (reached, files, exit) = parse(&text);
        if !reached {
            if !retried {
                eprintln!(
                    "xtask: the guest never reached /init (flaky early boot); booting once more"
                );
                retried = true;
                continue;
            }
            bail!(
                "the guest never reached /init, twice: not a test result\nqemu: {}\nconsole tail:\n{}",
                stderr.trim(),
                tail(&text, 40)
            );
        }
        if exit.is_none() && wall >= timeout {
            bail!(
                "the guest did not finish within {timeout:?}; console tail:\n{}",
                tail(&text, 60)
            );
        }
        return Ok(Boot { console: text, files, exit, wall, accel, retried });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_markers_are_parsed_around_kernel_noise() {
        let console = "[    0.1] early\r\n@@fencescope:init\r\nhello\r\n@@fencescope:file a.json\r\n{\"x\":1}\r\n@@fencescope:end\r\n@@fencescope:exit 3\r\n";
        let (reached, files, exit) = parse(console);
        assert!(reached);
        assert_eq!(files["a.json"], "{\"x\":1}\n");
        assert_eq!(exit, Some(3));
        let (reached, files, exit) = parse("[ 0.2] Oops: int3\n");
        assert!(!reached && files.is_empty() && exit.is_none());
    }
}
