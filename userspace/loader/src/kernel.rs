//! Facts about the running kernel that decide what can attach: privileges,
//! tracefs, kprobes, BTF, symbols, tracepoint record layouts.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The kernel release, as `uname -r` says it.
pub fn release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The machine's architecture as `uname -m` says it (captures keep it).
pub fn machine() -> String {
    rustix::system::uname().machine().to_string_lossy().into_owned()
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `bpf_ktime_get_ns()` stamps
/// records with, for anything userspace stamps beside them.
pub fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Why the process may not be able to load BPF programs, if it may not.
pub fn privilege_problem() -> Option<String> {
    if rustix::process::geteuid().is_root() {
        return None;
    }
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let caps = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0);
    let has = |c: u32| caps & (1 << c) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return None;
    }
    Some(
        "not root and without CAP_BPF+CAP_PERFMON: run with sudo (or grant those capabilities)"
            .into(),
    )
}

/// The tracefs mount, mounting it where it is missing and we may.
pub fn tracefs() -> Result<PathBuf> {
    for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        let p = Path::new(p);
        if p.join("events").is_dir() {
            return Ok(p.to_path_buf());
        }
    }
    let p = Path::new("/sys/kernel/tracing");
    if p.is_dir() {
        let r = rustix::mount::mount(
            "nodev",
            p,
            "tracefs",
            rustix::mount::MountFlags::empty(),
            None::<&std::ffi::CStr>,
        );
        if r.is_ok() && p.join("events").is_dir() {
            return Ok(p.to_path_buf());
        }
    }
    bail!("tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing")
}

/// Whether the kernel has the kprobe PMU (CONFIG_KPROBES).
pub fn has_kprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
}

/// Where the kernel exposes its own BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Whether the kernel has BTF, which fentry programs need.
pub fn has_btf() -> bool {
    Path::new(VMLINUX_BTF).exists()
}

/// The kernel's symbols from /proc/kallsyms: function names (visible even
/// where addresses are hidden) and, for root, addresses.
pub struct Symbols(HashMap<String, u64>);

impl Symbols {
    /// Reads /proc/kallsyms; empty where it is unreadable.
    pub fn load() -> Symbols {
        let text = fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        let mut map = HashMap::new();
        for l in text.lines() {
            let mut it = l.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            // Functions, and the one data symbol the engine needs.
            if !(matches!(kind, "t" | "T" | "w" | "W") || name == "dma_fence_stub") {
                continue;
            }
            let addr = u64::from_str_radix(addr, 16).unwrap_or(0);
            // A module's function is also known as "module:function", the
            // name kprobes take for a symbol several modules define.
            if let Some(module) = it.next().and_then(|m| m.strip_prefix('[')?.strip_suffix(']')) {
                map.insert(format!("{module}:{name}"), addr);
            }
            map.insert(name.to_string(), addr);
        }
        Symbols(map)
    }

    /// Whether the kernel has a function (or `module:function`) of this name.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The symbol's address, 0 where absent or hidden (kptr_restrict).
    pub fn addr(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Nothing was readable: whether a symbol exists is then unknown, not "no".
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One field of a tracepoint record, from its tracefs `format` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The C declaration, e.g. `__data_loc char[] driver`.
    pub decl: String,
    /// The field's name, without any array suffix.
    pub name: String,
    /// Byte offset in the record.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// Parses a tracefs `format` file's field lines.
pub fn parse_format(text: &str) -> Vec<Field> {
    text.lines()
        .filter_map(|line| {
            let mut decl = None;
            let (mut offset, mut size) = (None, None);
            for part in line.trim().split(';') {
                let part = part.trim();
                if let Some(d) = part.strip_prefix("field:") {
                    decl = Some(d.to_string());
                } else if let Some(o) = part.strip_prefix("offset:") {
                    offset = o.parse().ok();
                } else if let Some(s) = part.strip_prefix("size:") {
                    size = s.parse().ok();
                }
            }
            let decl = decl?;
            let name = decl.split_whitespace().last()?.split('[').next()?.to_string();
            Some(Field { name, decl, offset: offset?, size: size? })
        })
        .collect()
}

/// Where the classic `dma_fence_init` record keeps what fencescope reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InitRecordLayout {
    /// Offset of the driver name's `__data_loc` word.
    pub driver: u32,
    /// Offset of the timeline name's `__data_loc` word.
    pub timeline: u32,
    /// Offset of the fence context.
    pub context: u32,
    /// Offset of the fence seqno.
    pub seqno: u32,
}

impl InitRecordLayout {
    /// Parses a `format` file; a field of an unknown shape is an error, never a guess.
    pub fn from_format(text: &str) -> Result<InitRecordLayout> {
        let fields = parse_format(text);
        let find = |name: &str| fields.iter().find(|f| f.name == name);
        let string = |name: &str| -> Result<u32> {
            let f =
                find(name).with_context(|| format!("dma_fence_init record has no {name} field"))?;
            if !f.decl.starts_with("__data_loc") || f.size != 4 {
                bail!("dma_fence_init's {name} is `{}`: a layout fencescope does not know", f.decl);
            }
            Ok(f.offset)
        };
        let word = |name: &str| -> Result<u32> {
            let f =
                find(name).with_context(|| format!("dma_fence_init record has no {name} field"))?;
            if f.size != 4 && f.size != 8 {
                bail!("dma_fence_init's {name} has size {}", f.size);
            }
            Ok(f.offset)
        };
        Ok(InitRecordLayout {
            driver: string("driver")?,
            timeline: string("timeline")?,
            context: word("context")?,
            seqno: word("seqno")?,
        })
    }

    /// The layout of `dma_fence:<event>` (init and signaled share a class).
    pub fn read(tracefs: &Path, event: &str) -> Result<InitRecordLayout> {
        let path = tracefs.join("events/dma_fence").join(event).join("format");
        let text = fs::read_to_string(&path).with_context(|| {
            format!("this kernel has no dma_fence tracepoints ({} unreadable)", path.display())
        })?;
        InitRecordLayout::from_format(&text)
    }
}

/// Offsets in the `syscalls:sys_enter_ioctl`/`sys_exit_ioctl` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IoctlLayout {
    /// Offset of the file descriptor argument.
    pub fd: u32,
    /// Offset of the ioctl command argument.
    pub cmd: u32,
    /// Offset of the return value in the exit record.
    pub ret: u32,
}

impl IoctlLayout {
    /// None where the syscall tracepoints are not built (no FTRACE_SYSCALLS).
    pub fn read(tracefs: &Path) -> Option<IoctlLayout> {
        let field = |event: &str, name: &str| {
            let text =
                fs::read_to_string(tracefs.join("events/syscalls").join(event).join("format"))
                    .ok()?;
            parse_format(&text)
                .into_iter()
                .find(|f| f.name == name && f.size == 8)
                .map(|f| f.offset)
        };
        Some(IoctlLayout {
            fd: field("sys_enter_ioctl", "fd")?,
            cmd: field("sys_enter_ioctl", "cmd")?,
            ret: field("sys_exit_ioctl", "ret")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The format file as 6.12 and 7.2 print it (copied from their tracefs):
    // the names come as __data_loc strings, context and seqno as 32 bits.
    const FORMAT_6_12: &str = "name: dma_fence_init
ID: 1234
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] driver;\toffset:8;\tsize:4;\tsigned:0;
\tfield:__data_loc char[] timeline;\toffset:12;\tsize:4;\tsigned:0;
\tfield:unsigned int context;\toffset:16;\tsize:4;\tsigned:0;
\tfield:unsigned int seqno;\toffset:20;\tsize:4;\tsigned:0;

print fmt: \"driver=%s timeline=%s context=%u seqno=%u\", __get_str(driver), __get_str(timeline), REC->context, REC->seqno
";

    #[test]
    fn init_record_layout_from_format() {
        let l = InitRecordLayout::from_format(FORMAT_6_12).unwrap();
        assert_eq!(l, InitRecordLayout { driver: 8, timeline: 12, context: 16, seqno: 20 });
    }

    #[test]
    fn unknown_layouts_are_refused_not_guessed() {
        let changed = FORMAT_6_12.replace("__data_loc char[] driver", "char driver[32]");
        let e = InitRecordLayout::from_format(&changed).unwrap_err().to_string();
        assert!(e.contains("does not know"), "{e}");
        let missing = FORMAT_6_12.replace("timeline;", "tl;");
        assert!(InitRecordLayout::from_format(&missing).is_err());
    }
}
