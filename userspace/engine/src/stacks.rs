//! Folded stacks, the input of flamegraphs: where waiting time and fence
//! lifetimes went, by a path of names. Kept only when asked for
//! ([`crate::Engine::with_stacks`]), since each closed wait adds a string.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Folded stacks of waits and fence lifetimes: a path of names → the
/// nanoseconds spent there, split at the stages in between.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stacks {
    /// "process;thread;style;driver;timeline;stage" → nanoseconds waited.
    pub waits: BTreeMap<String, u64>,
    /// "driver;timeline;stage" → nanoseconds alive.
    pub lifetimes: BTreeMap<String, u64>,
}

/// The folded format splits frames on ';': it may not appear in a name.
fn frame(name: &str) -> String {
    name.replace(';', ":")
}

/// Time between consecutive marks, each span named "from→to". Marks out of
/// order (a clock that stepped back) are skipped, never made negative.
fn spans(marks: &[(&str, Option<u64>)]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut last: Option<(&str, u64)> = None;
    for &(name, at) in marks {
        let Some(at) = at else { continue };
        match last {
            Some((from, t)) if at >= t => {
                out.push((format!("{from}→{name}"), at - t));
                last = Some((name, at));
            }
            Some(_) => {}
            None => last = Some((name, at)),
        }
    }
    out
}

fn add(map: &mut BTreeMap<String, u64>, path: &[&str], stage: String, ns: u64) {
    if ns == 0 {
        return;
    }
    let mut key: Vec<String> = path.iter().map(|p| frame(p)).collect();
    key.push(frame(&stage));
    *map.entry(key.join(";")).or_default() += ns;
}

/// Points in a fence's life, nanoseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Marks {
    /// Its `dma_fence_init`.
    pub init: u64,
    /// First `dma_resv_add_fence`; None: never attached to a buffer.
    pub resv_attach: Option<u64>,
    /// Entry of the `vb2_buffer_done` call it signalled in; None: it signalled
    /// elsewhere.
    pub vb2_done: Option<u64>,
    /// Its signal.
    pub signal: u64,
}

impl Stacks {
    /// A signalled fence: its life split at resv attach and vb2 done.
    pub fn lifetime(&mut self, driver: &str, timeline: &str, m: Marks) {
        let marks = [
            ("init", Some(m.init)),
            ("resv attach", m.resv_attach),
            ("vb2 done", m.vb2_done),
            ("signal", Some(m.signal)),
        ];
        for (stage, ns) in spans(&marks) {
            add(&mut self.lifetimes, &[driver, timeline], stage, ns);
        }
    }

    /// A wait from `ask` to `end`, split where the producer's vb2 done fell
    /// inside it: time waiting for the hardware, then for the signal.
    pub fn wait(&mut self, path: [&str; 5], ask: u64, vb2_done: Option<u64>, end: u64) {
        let inside = vb2_done.filter(|&v| v >= ask && v <= end);
        let marks = [("ask", Some(ask)), ("vb2 done", inside), ("signal", Some(end))];
        for (stage, ns) in spans(&marks) {
            add(&mut self.waits, &path, stage, ns);
        }
    }

    /// Lines of the folded format, weights in microseconds (rounded up, so
    /// a path that took any time at all shows).
    pub fn folded(map: &BTreeMap<String, u64>) -> Vec<String> {
        map.iter().map(|(k, ns)| format!("{k} {}", ns.div_ceil(1_000))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_life_is_split_at_attach_and_done() {
        let mut s = Stacks::default();
        let m = Marks { init: 100, resv_attach: Some(1_100), vb2_done: Some(5_100), signal: 6_100 };
        s.lifetime("hantro;vpu", "cap", m);
        assert_eq!(
            Stacks::folded(&s.lifetimes),
            [
                "hantro:vpu;cap;init→resv attach 1",
                "hantro:vpu;cap;resv attach→vb2 done 4",
                "hantro:vpu;cap;vb2 done→signal 1",
            ]
        );
    }

    #[test]
    fn a_wait_splits_only_at_a_done_inside_it() {
        let mut s = Stacks::default();
        let path = ["kwin_wayland", "kwin_wayland", "export", "vgem", "unbound"];
        s.wait(path, 1_000, Some(500), 3_000);
        s.wait(path, 1_000, Some(2_000), 3_000);
        assert_eq!(
            Stacks::folded(&s.waits),
            [
                "kwin_wayland;kwin_wayland;export;vgem;unbound;ask→signal 2",
                "kwin_wayland;kwin_wayland;export;vgem;unbound;ask→vb2 done 1",
                "kwin_wayland;kwin_wayland;export;vgem;unbound;vb2 done→signal 1",
            ]
        );
    }

    #[test]
    fn marks_out_of_order_are_skipped() {
        let got = spans(&[("a", Some(10)), ("b", Some(5)), ("c", Some(20))]);
        assert_eq!(got, [("a→c".to_string(), 10)]);
    }
}
