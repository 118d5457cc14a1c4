//! [`Figures`] as OpenMetrics text, through prometheus-client: a collector
//! that encodes the families of one moment, registered for one encode.
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::figures::Figures;

#[derive(Debug)]
struct Snapshot(Arc<Figures>);

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let seconds = Unit::Seconds;
        let unit = |yes: bool| if yes { Some(&seconds) } else { None };
        for f in &self.0.counters {
            let mut m = encoder.encode_descriptor(f.name, f.help, None, MetricType::Counter)?;
            for (labels, v) in &f.series {
                m.encode_family(labels)?.encode_counter::<NoLabelSet, _, u64>(v, None)?;
            }
        }
        for f in &self.0.gauges {
            let mut m =
                encoder.encode_descriptor(f.name, f.help, unit(f.seconds), MetricType::Gauge)?;
            for (labels, v) in &f.series {
                m.encode_family(labels)?.encode_gauge(v)?;
            }
        }
        for f in &self.0.histograms {
            let mut m =
                encoder.encode_descriptor(f.name, f.help, unit(true), MetricType::Histogram)?;
            for (labels, h) in &f.series {
                m.encode_family(labels)?.encode_histogram::<NoLabelSet>(
                    h.sum_seconds,
                    h.count,
                    &h.buckets,
                    None,
                )?;
            }
        }
        Ok(())
    }
}

/// The exposition of `figures`, ending in `# EOF`.
pub fn encode(figures: Figures) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(Arc::new(figures))));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

/// The same exposition in Prometheus' classic text format (0.0.4), for
/// scrapers that do not ask for OpenMetrics and for `promtool check
/// metrics`: a counter's family is named with its `_total`, and there are
/// no `# UNIT` or `# EOF` lines.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(name) = line.strip_prefix("# TYPE ").and_then(|l| l.strip_suffix(" counter")) {
            counters.insert(name.to_owned());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find(|p| line.starts_with(p));
        match meta {
            Some(prefix) => {
                let rest = &line[prefix.len()..];
                let name = rest.split(' ').next().unwrap_or("");
                if counters.contains(name) {
                    out.push_str(&format!("{prefix}{name}_total{}", &rest[name.len()..]));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::figures;
    use fencescope_engine::{Engine, Symbols, synthetic};

    /// 30 fences over 3 drivers, each exported and waited on by kwin_wayland.
    fn text() -> String {
        let mut e = Engine::default().with_symbols(Symbols::default());
        synthetic::compositor_session(30, 3, 1_000_000).iter().for_each(|ev| e.feed(ev));
        synthetic::decoder_session(10, 33_000_000).iter().for_each(|ev| e.feed(ev));
        encode(figures(&e.summary(), &e.distributions(), 100))
    }

    #[test]
    fn exposition_snapshot() {
        insta::assert_snapshot!(text());
    }

    #[test]
    fn histograms_are_cumulative_and_end_at_inf() {
        let t = text();
        let lifetime: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("fencescope_fence_lifetime_seconds_bucket{"))
            .filter(|l| l.contains("driver=\"drv0\""))
            .collect();
        assert_eq!(lifetime.len(), 20, "{lifetime:?}");
        let counts: Vec<u64> =
            lifetime.iter().map(|l| l.rsplit(' ').next().unwrap().parse().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        assert!(lifetime.last().unwrap().contains("le=\"+Inf\"") && counts[19] == 10);
        assert!(t.contains("fencescope_fences_total{driver=\"drv1\",timeline=\"unbound\"} 10"));
        let capture = "driver=\"hantro-vpu\",device=\"fdea0000.video-codec\",node=\"video1\",queue=\"capture-mplane\",process=\"chromium\"";
        assert!(
            t.contains(&format!("fencescope_vb2_dones_with_fence_total{{{capture}}} 10")),
            "{t}"
        );
        assert!(t.contains("queue=\"output-mplane\",process=\"chromium\"} 0"), "{t}");
        assert!(t.ends_with("# EOF\n"));
    }

    #[test]
    fn classic_text_names_counters_with_total() {
        let t = to_prometheus_text(&text());
        assert!(t.contains("# TYPE fencescope_fences_total counter\n"));
        assert!(t.contains("# HELP fencescope_fence_lifetime_seconds Fence lifetime"));
        assert!(!t.contains("# UNIT") && !t.contains("# EOF"));
        assert_eq!(
            t.lines().filter(|l| !l.starts_with('#')).count(),
            text().lines().filter(|l| !l.starts_with('#')).count()
        );
    }
}
