//! `fencescope probe`: what each hook can attach as on this kernel, proven
//! by loading and attaching every program the object has, then detaching.
use std::fmt::Write as _;

use anyhow::Result;

use crate::cli::ProbeArgs;
use fencescope_loader::kernel;
use fencescope_loader::live::{self, KernelView};
use fencescope_loader::plan::{HOOKS, Mode};

pub(crate) fn run(a: &ProbeArgs, use_btf: bool) -> Result<i32> {
    let mut out = String::new();
    let _ = writeln!(out, "kernel {} {}", kernel::release(), kernel::machine());
    // Facts first, each with why it matters; then the real attach attempts.
    let priv_problem = kernel::privilege_problem();
    let _ = writeln!(
        out,
        "privileges: {}",
        priv_problem.as_deref().unwrap_or("ok (can load BPF programs)")
    );
    let tracefs = kernel::tracefs();
    let _ = writeln!(
        out,
        "tracefs: {}",
        match &tracefs {
            Ok(p) => format!("{}", p.display()),
            Err(e) => e.to_string(),
        }
    );
    let _ = writeln!(
        out,
        "kprobes: {}",
        if kernel::has_kprobes() {
            "available"
        } else {
            "unavailable (no kprobe PMU: CONFIG_KPROBES off)"
        }
    );
    let btf = match (kernel::has_btf(), use_btf) {
        (true, true) => "/sys/kernel/btf/vmlinux",
        (true, false) => "/sys/kernel/btf/vmlinux (layouts not read from it: --no-btf)",
        (false, _) => "absent (fentry cannot load)",
    };
    let _ = writeln!(out, "BTF: {btf}");
    let symbols = kernel::Symbols::load();
    for (sym, note) in [
        ("dma_fence_init", "kprobe/fentry target for fence init"),
        ("dma_fence_init64", "6.17+ twin of dma_fence_init"),
        ("dma_buf_export_sync_file", "EXPORT_SYNC_FILE handler"),
    ] {
        let state = if symbols.is_empty() {
            "unknown (/proc/kallsyms unreadable)"
        } else if symbols.has(sym) {
            "present"
        } else {
            "absent (inlined or not built)"
        };
        let _ = writeln!(out, "symbol {sym}: {state} -- {note}");
    }
    if let Some(p) = priv_problem {
        print!("{out}");
        eprintln!("fencescope: error: {p}");
        return Ok(2);
    }
    let view = match KernelView::read(use_btf) {
        Ok(v) => v,
        Err(e) => {
            print!("{out}");
            eprintln!("fencescope: error: {e:#}");
            return Ok(2);
        }
    };
    let f = &view.fence;
    let bit = f.signaled_bit.map_or("unknown".to_string(), |b| b.to_string());
    let _ = writeln!(
        out,
        "struct dma_fence: context at {}, seqno at {}, flags at {}, signalled bit {bit} (from {})",
        f.context, f.seqno, f.flags, f.source
    );
    let v = &view.vb2;
    let at =
        |o: u32| if o == fencescope_schema::OFFSET_UNKNOWN { "?".into() } else { o.to_string() };
    let _ = writeln!(
        out,
        "videobuf2 queue names: vb2_queue type at {}, dev at {}, owner at {}; device.driver at {}; \
         v4l2_fh.vdev at {}; video_device.dev at {}, dev_parent at {} (from {})",
        at(v.queue_type),
        at(v.queue_dev),
        at(v.queue_owner),
        at(v.device_driver),
        at(v.fh_vdev),
        at(v.vdev_dev),
        at(v.vdev_dev_parent),
        v.source
    );
    let mut ebpf = live::load(&view)?;
    let _ = writeln!(out, "\nhook attempts (each program loaded, attached, detached):");
    for hook in HOOKS {
        let _ = writeln!(out, "  {} ({}):", hook.name, hook.why);
        for way in hook.ways {
            let result = live::attach_way(&mut ebpf, &view, way);
            for (prog, _) in way.progs {
                live::unload(&mut ebpf, prog);
            }
            let verdict = match result {
                Ok(what) => format!("ok ({what})"),
                Err(e) => format!("no: {e:#}"),
            };
            let _ = writeln!(out, "    {:<15} {verdict}", way.kind());
        }
    }
    drop(ebpf);
    // The plan a session would use, attached for real.
    let mut ebpf = live::load(&view)?;
    let plan = live::attach_plan(&mut ebpf, &view, a.attach);
    let _ = writeln!(out, "\nplan (--attach {}):", a.attach.name());
    let code = match plan {
        Ok(p) => {
            for (hook, what) in &p.hooks {
                let _ = writeln!(out, "  {hook:<16} {what}");
            }
            for (hook, why) in &p.missing {
                let _ = writeln!(out, "  {hook:<16} not watched: {why}");
            }
            let _ = writeln!(out, "ok: the minimum set (fence init, names, signalled) attaches");
            0
        }
        Err(e) => {
            print!("{out}");
            eprintln!("fencescope: error: {e:#}");
            return Ok(if a.attach == Mode::Auto { 2 } else { 3 });
        }
    };
    print!("{out}");
    Ok(code)
}
