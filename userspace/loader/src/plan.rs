//! Which program watches each hook, chosen for the running kernel.
use serde::{Deserialize, Serialize};

/// How fences are watched (`--attach`). It decides the fence-init hook
/// (and, for `tracepoint`, everything): other hooks use what the kernel has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Per hook, the first way that attaches: raw tracepoint, fentry, kprobe.
    Auto,
    /// `dma_fence_init` raw tracepoint: sees `dma_fence_init64` too.
    RawTracepoint,
    /// kprobe on `dma_fence_init` (and `dma_fence_init64` where it exists).
    Kprobe,
    /// fentry on `dma_fence_init`: needs BTF and fentry support.
    Fentry,
    /// Classic tracepoints only, for kernels without kprobes or raw
    /// tracepoints: fences keyed by 32-bit (context, seqno), exports seen at
    /// the syscall (their round trip, not the fence handed out).
    Tracepoint,
}

impl Mode {
    /// The name `--attach` takes and captures keep.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::RawTracepoint => "raw-tracepoint",
            Mode::Kprobe => "kprobe",
            Mode::Fentry => "fentry",
            Mode::Tracepoint => "tracepoint",
        }
    }
}

/// One program and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A raw tracepoint, by name (its category is not part of it).
    RawTracepoint(&'static str),
    /// A classic tracepoint, by category and name.
    Tracepoint(&'static str, &'static str),
    /// A kprobe on a function.
    Kprobe(&'static str),
    /// A kretprobe on a function.
    Kretprobe(&'static str),
    /// An fentry program on a function (needs BTF).
    Fentry(&'static str),
}

impl Target {
    /// The kind of attachment, as `probe` names it.
    pub fn kind(self) -> &'static str {
        match self {
            Target::RawTracepoint(_) => "raw-tracepoint",
            Target::Tracepoint(..) => "tracepoint",
            Target::Kprobe(_) => "kprobe",
            Target::Kretprobe(_) => "kretprobe",
            Target::Fentry(_) => "fentry",
        }
    }

    /// The attachment in words, as reports and `probe` print it.
    pub fn describe(self) -> String {
        match self {
            Target::RawTracepoint(tp) => format!("raw tracepoint {tp}"),
            Target::Tracepoint(c, n) => format!("tracepoint {c}:{n}"),
            Target::Kprobe(f) => format!("kprobe {f}"),
            Target::Kretprobe(f) => format!("kretprobe {f}"),
            Target::Fentry(f) => format!("fentry {f}"),
        }
    }
}

/// One way to watch a hook: one or more programs (entry and return).
pub struct Way {
    /// (program name in the object, where it attaches).
    pub progs: &'static [(&'static str, Target)],
}

impl Way {
    /// The kind of its first program's attachment.
    pub fn kind(&self) -> &'static str {
        self.progs[0].1.kind()
    }

    /// Every program's attachment in words.
    pub fn describe(&self) -> String {
        self.progs.iter().map(|(_, t)| t.describe()).collect::<Vec<_>>().join(" + ")
    }
}

/// A hook the tool wants, and every way fencescope's object can watch it.
pub struct Hook {
    /// The hook's name in reports.
    pub name: &'static str,
    /// What it gives, as `probe` explains it.
    pub why: &'static str,
    /// Preferred first.
    pub ways: &'static [Way],
    /// The tool cannot measure anything without it.
    pub required: bool,
    /// What the report lacks without it.
    pub loses: &'static str,
}

const fn way(progs: &'static [(&'static str, Target)]) -> Way {
    Way { progs }
}

/// Every hook fencescope watches, in the order they are attached.
pub const HOOKS: &[Hook] = &[
    Hook {
        name: "fence init",
        why: "birth of a fence: address, context, seqno",
        ways: &[
            way(&[("fence_init_raw", Target::RawTracepoint("dma_fence_init"))]),
            way(&[("fence_init_fentry", Target::Fentry("dma_fence_init"))]),
            way(&[("fence_init_kprobe", Target::Kprobe("dma_fence_init"))]),
        ],
        required: true,
        loses: "everything",
    },
    Hook {
        name: "fence names",
        why: "driver and timeline names, read at init",
        ways: &[way(&[("fence_init_names", Target::Tracepoint("dma_fence", "dma_fence_init"))])],
        required: true,
        loses: "everything",
    },
    Hook {
        name: "fence signalled",
        why: "end of a fence's life, on every signalling path",
        ways: &[
            way(&[("fence_signaled_raw", Target::RawTracepoint("dma_fence_signaled"))]),
            way(&[("fence_signaled_tp", Target::Tracepoint("dma_fence", "dma_fence_signaled"))]),
        ],
        required: true,
        loses: "everything",
    },
    Hook {
        name: "fence destroy",
        why: "last reference gone: fences that never signalled",
        ways: &[way(&[("fence_destroy_raw", Target::RawTracepoint("dma_fence_destroy"))])],
        required: false,
        loses: "fences destroyed unsignalled; pointer reuse is then only seen at the next init",
    },
    Hook {
        name: "resv attach",
        why: "dma_resv_add_fence: which buffer a fence guards, with which usage",
        ways: &[
            way(&[("resv_add_fentry", Target::Fentry("dma_resv_add_fence"))]),
            way(&[("resv_add_kprobe", Target::Kprobe("dma_resv_add_fence"))]),
        ],
        required: false,
        loses: "resv usage and attach-to-signal times",
    },
    Hook {
        name: "export",
        why: "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a compositor asks for a buffer's fence",
        ways: &[
            way(&[
                ("dma_buf_ioctl_entry", Target::Kprobe("dma_buf_ioctl")),
                ("dma_buf_ioctl_return", Target::Kretprobe("dma_buf_ioctl")),
            ]),
            way(&[
                ("ioctl_enter_tp", Target::Tracepoint("syscalls", "sys_enter_ioctl")),
                ("ioctl_exit_tp", Target::Tracepoint("syscalls", "sys_exit_ioctl")),
            ]),
        ],
        required: false,
        loses: "export round trips and export waits",
    },
    Hook {
        name: "export fence",
        why: "sync_file_create inside an export: the fence handed out (real, array, stub)",
        ways: &[way(&[("sync_file_create_kprobe", Target::Kprobe("sync_file_create"))])],
        required: false,
        loses: "what exports handed out (stub counts) and export waits",
    },
    Hook {
        name: "fence array",
        why: "dma_fence_array_create: the fences an array (an export of a busy buffer) holds",
        ways: &[way(&[("array_create_kprobe", Target::Kprobe("dma_fence_array_create"))])],
        required: false,
        loses: "what exported arrays hold",
    },
    Hook {
        name: "dma-buf poll",
        why: "dma_buf_poll: a compositor checking or waiting on a buffer's fd",
        ways: &[way(&[
            ("dma_buf_poll_entry", Target::Kprobe("dma_buf_poll")),
            ("dma_buf_poll_return", Target::Kretprobe("dma_buf_poll")),
        ])],
        required: false,
        loses: "dma-buf poll waits",
    },
    Hook {
        name: "wait callback",
        why: "dma_fence_add_callback: a poll that has to wait, and on which fence",
        ways: &[way(&[("add_callback_kprobe", Target::Kprobe("dma_fence_add_callback"))])],
        required: false,
        loses: "poll waits (dma-buf and sync_file)",
    },
    Hook {
        name: "vb2 done",
        why: "vb2_buffer_done: the V4L2 producer's done, to compare with the signal",
        ways: &[way(&[
            ("vb2_done_entry", Target::Kprobe("vb2_buffer_done")),
            ("vb2_done_return", Target::Kretprobe("vb2_buffer_done")),
        ])],
        required: false,
        loses: "vb2 done-to-signal skew (load videobuf2-common to get it)",
    },
    Hook {
        name: "vb2 buffers",
        why: "vb2 qbuf/buf_queue/buf_done/dqbuf: each buffer's trip through its queue",
        ways: &[way(&[
            ("vb2_qbuf_raw", Target::RawTracepoint("vb2_qbuf")),
            ("vb2_buf_queue_raw", Target::RawTracepoint("vb2_buf_queue")),
            ("vb2_buf_done_raw", Target::RawTracepoint("vb2_buf_done")),
            ("vb2_dqbuf_raw", Target::RawTracepoint("vb2_dqbuf")),
        ])],
        required: false,
        loses: "vb2 buffer pairing and queue times (load videobuf2-common to get it)",
    },
    Hook {
        name: "kernel wait",
        why: "dma_fence_wait_start/_end: blocking waits inside the kernel",
        ways: &[way(&[
            ("fence_wait_start_raw", Target::RawTracepoint("dma_fence_wait_start")),
            ("fence_wait_end_raw", Target::RawTracepoint("dma_fence_wait_end")),
        ])],
        required: false,
        loses: "in-kernel waits",
    },
];

impl Hook {
    /// The ways `mode` allows for this hook, in order of preference. A mode
    /// naming a kind of attachment uses that kind wherever the hook has one
    /// (and the hook's other ways where it has none); `raw-tracepoint`
    /// decides the init hook only.
    pub fn ways_for(&self, mode: Mode) -> Vec<&'static Way> {
        let of_kind = |pred: fn(Target) -> bool| -> Vec<&'static Way> {
            let chosen: Vec<&'static Way> =
                self.ways.iter().filter(|w| pred(w.progs[0].1)).collect();
            if chosen.is_empty() && self.name != "fence init" {
                self.ways.iter().collect()
            } else {
                chosen
            }
        };
        match mode {
            Mode::Auto => self.ways.iter().collect(),
            Mode::Tracepoint => self
                .ways
                .iter()
                .filter(|w| matches!(w.progs[0].1, Target::Tracepoint(..)))
                .collect(),
            Mode::Kprobe => of_kind(|t| matches!(t, Target::Kprobe(_))),
            Mode::Fentry => of_kind(|t| matches!(t, Target::Fentry(_))),
            Mode::RawTracepoint if self.name == "fence init" => self
                .ways
                .iter()
                .filter(|w| matches!(w.progs[0].1, Target::RawTracepoint(_)))
                .collect(),
            Mode::RawTracepoint => self.ways.iter().collect(),
        }
    }

    /// In tracepoint mode the init hook is the names record itself.
    pub fn skipped_in(&self, mode: Mode) -> bool {
        mode == Mode::Tracepoint && self.name == "fence init"
    }
}

/// What was attached, hook by hook: recorded in captures and printed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    /// The `--attach` mode's name.
    pub mode: String,
    /// (hook, what it attached as), e.g. ("fence init", "kprobe dma_fence_init").
    pub hooks: Vec<(String, String)>,
    /// Hooks that could not attach, with why.
    pub missing: Vec<(String, String)>,
}

impl Attached {
    /// Fences are keyed by (context, seqno) from the classic records, not
    /// by address.
    pub fn names_are_inits(&self) -> bool {
        self.mode == Mode::Tracepoint.name()
    }
}
