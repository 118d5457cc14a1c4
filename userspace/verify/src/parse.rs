//! One line of an ftrace instance's `trace_pipe`, as the `dma_fence`
//! events print it: `driver=%s timeline=%s context=%u seqno=%u`.
//!
//! The line starts with the task (`comm-tid`, where comm may hold spaces
//! and dashes), the CPU, flags and a timestamp in seconds with microseconds,
//! so it is read from the event name outwards rather than split on spaces.

/// Which `dma_fence` event a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `dma_fence_init`: a fence is born with its context and seqno.
    Init,
    /// `dma_fence_emit`: a driver numbered (or submitted) the fence.
    Emit,
    /// `dma_fence_signaled`: the fence signalled.
    Signaled,
    /// `dma_fence_destroy`: the fence was freed.
    Destroy,
}

impl Kind {
    /// The event's name under `events/dma_fence/`.
    pub fn event(self) -> &'static str {
        match self {
            Kind::Init => "dma_fence_init",
            Kind::Emit => "dma_fence_emit",
            Kind::Signaled => "dma_fence_signaled",
            Kind::Destroy => "dma_fence_destroy",
        }
    }

    /// Every kind the witness enables.
    pub const ALL: [Kind; 4] = [Kind::Init, Kind::Emit, Kind::Signaled, Kind::Destroy];
}

/// A `dma_fence` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceLine {
    /// Which event.
    pub kind: Kind,
    /// The trace clock's time, nanoseconds (microsecond resolution).
    pub ts_ns: u64,
    /// The fence's driver name.
    pub driver: String,
    /// The fence's timeline name.
    pub timeline: String,
    /// Its fence context.
    pub context: u64,
    /// Its sequence number on that context.
    pub seqno: u64,
}

/// What a line of `trace_pipe` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A fence event.
    Fence(FenceLine),
    /// The ring lost events on a CPU (`CPU:N [LOST M EVENTS]`).
    Lost(u64),
}

/// Reads one line; `None` for lines that are neither (other events, blank).
pub fn parse_line(line: &str) -> Option<Line> {
    if let Some(i) = line.find(" [LOST ") {
        let rest = &line[i + " [LOST ".len()..];
        let n = rest.split_whitespace().next()?.parse().ok()?;
        return Some(Line::Lost(n));
    }
    let (kind, at) = Kind::ALL.iter().find_map(|k| {
        let tag = format!(": {}: ", k.event());
        line.find(&tag).map(|i| (*k, i))
    })?;
    let ts_ns = parse_ts(line[..at].rsplit(' ').next()?)?;
    let fields = &line[at + kind.event().len() + 4..];
    let rest = fields.strip_prefix("driver=")?;
    let (driver, rest) = rest.split_once(" timeline=")?;
    let (timeline, rest) = rest.rsplit_once(" context=")?;
    let (context, seqno) = rest.split_once(" seqno=")?;
    Some(Line::Fence(FenceLine {
        kind,
        ts_ns,
        driver: driver.to_owned(),
        timeline: timeline.to_owned(),
        context: context.trim().parse().ok()?,
        seqno: seqno.trim().parse().ok()?,
    }))
}

/// `12345.678901` (seconds) as nanoseconds.
fn parse_ts(s: &str) -> Option<u64> {
    let (sec, frac) = s.split_once('.')?;
    let sec: u64 = sec.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = 10u64.pow(9 - frac.len() as u32);
    Some(sec * 1_000_000_000 + frac.parse::<u64>().ok()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_init_from_a_task_with_spaces_and_dashes() {
        let l = "  fence-work er-12-1234    [001] ..... 1234.567890: dma_fence_init: \
                 driver=vgem timeline=unbound context=17 seqno=3";
        let Some(Line::Fence(f)) = parse_line(l) else { panic!("not read: {l}") };
        assert_eq!(f.kind, Kind::Init);
        assert_eq!(f.ts_ns, 1_234_567_890_000);
        assert_eq!((f.driver.as_str(), f.timeline.as_str()), ("vgem", "unbound"));
        assert_eq!((f.context, f.seqno), (17, 3));
    }

    #[test]
    fn a_timeline_may_hold_spaces() {
        let l = "<idle>-0 [000] d.h1. 5.000001: dma_fence_signaled: driver=videobuf2 \
                 timeline=vb2 release fence context=4 seqno=4294967296";
        let Some(Line::Fence(f)) = parse_line(l) else { panic!() };
        assert_eq!(f.kind, Kind::Signaled);
        assert_eq!(f.timeline, "vb2 release fence");
        assert_eq!(f.seqno, 4_294_967_296);
        assert_eq!(f.ts_ns, 5_000_001_000);
    }

    #[test]
    fn lost_events_and_other_lines() {
        assert_eq!(parse_line("CPU:1 [LOST 42 EVENTS]"), Some(Line::Lost(42)));
        assert_eq!(parse_line("# tracer: nop"), None);
        assert_eq!(parse_line("x-1 [000] ..... 1.000000: sched_switch: prev=a"), None);
        assert_eq!(parse_line("x-1 [000] 1.0: dma_fence_init: driver=a timeline=b"), None);
    }
}
