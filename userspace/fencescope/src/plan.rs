//! Which program watches each hook, chosen for the running kernel.
use serde::{Deserialize, Serialize};

/// How fence inits are watched (`--attach`). Names always come from the
/// classic tracepoint, signals and destroys from raw tracepoints: those fire
/// on every path, where a kprobe on an inlined signal function would not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The first of raw-tracepoint, fentry, kprobe that attaches.
    Auto,
    /// `dma_fence_init` raw tracepoint: sees `dma_fence_init64` too.
    RawTracepoint,
    /// kprobe on `dma_fence_init` (and `dma_fence_init64` where it exists).
    Kprobe,
    /// fentry on `dma_fence_init`: needs BTF and fentry support.
    Fentry,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::RawTracepoint => "raw-tracepoint",
            Mode::Kprobe => "kprobe",
            Mode::Fentry => "fentry",
        }
    }
}

/// One program and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    RawTracepoint(&'static str),
    Tracepoint(&'static str, &'static str),
    Kprobe(&'static str),
    Fentry(&'static str),
}

impl Target {
    pub fn kind(self) -> &'static str {
        match self {
            Target::RawTracepoint(_) => "raw-tracepoint",
            Target::Tracepoint(..) => "tracepoint",
            Target::Kprobe(_) => "kprobe",
            Target::Fentry(_) => "fentry",
        }
    }

    pub fn describe(self) -> String {
        match self {
            Target::RawTracepoint(tp) => format!("raw tracepoint {tp}"),
            Target::Tracepoint(c, n) => format!("tracepoint {c}:{n}"),
            Target::Kprobe(f) => format!("kprobe {f}"),
            Target::Fentry(f) => format!("fentry {f}"),
        }
    }
}

/// A hook the tool wants, and every way fencescope's object can watch it.
pub struct Hook {
    pub name: &'static str,
    pub why: &'static str,
    /// (program in the eBPF object, where it attaches), preferred first.
    pub ways: &'static [(&'static str, Target)],
    /// The tool cannot measure anything without it.
    pub required: bool,
}

pub const HOOKS: &[Hook] = &[
    Hook {
        name: "fence init",
        why: "birth of a fence: address, context, seqno",
        ways: &[
            ("fence_init_raw", Target::RawTracepoint("dma_fence_init")),
            ("fence_init_fentry", Target::Fentry("dma_fence_init")),
            ("fence_init_kprobe", Target::Kprobe("dma_fence_init")),
        ],
        required: true,
    },
    Hook {
        name: "fence names",
        why: "driver and timeline names, read at init",
        ways: &[(
            "fence_init_names",
            Target::Tracepoint("dma_fence", "dma_fence_init"),
        )],
        required: true,
    },
    Hook {
        name: "fence signalled",
        why: "end of a fence's life, on every signalling path",
        ways: &[(
            "fence_signaled_raw",
            Target::RawTracepoint("dma_fence_signaled"),
        )],
        required: true,
    },
    Hook {
        name: "fence destroy",
        why: "last reference gone: fences that never signalled",
        ways: &[(
            "fence_destroy_raw",
            Target::RawTracepoint("dma_fence_destroy"),
        )],
        required: false,
    },
];

impl Hook {
    /// The ways `mode` allows for this hook, in order of preference.
    pub fn ways_for(&self, mode: Mode) -> Vec<(&'static str, Target)> {
        self.ways
            .iter()
            .copied()
            .filter(|(_, t)| match (self.name, mode) {
                ("fence init", Mode::RawTracepoint) => matches!(t, Target::RawTracepoint(_)),
                ("fence init", Mode::Kprobe) => matches!(t, Target::Kprobe(_)),
                ("fence init", Mode::Fentry) => matches!(t, Target::Fentry(_)),
                _ => true,
            })
            .collect()
    }
}

/// What was attached, hook by hook: recorded in captures and printed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    pub mode: String,
    /// (hook, what it attached as), e.g. ("fence init", "kprobe dma_fence_init").
    pub hooks: Vec<(String, String)>,
    /// Hooks that could not attach, with why.
    pub missing: Vec<(String, String)>,
}
