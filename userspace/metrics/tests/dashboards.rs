//! The dashboards: Grafana's structure (Grafana is not packaged by Debian,
//! so its own import is not run here), and every metric a query names is
//! one `serve` exports.
use std::collections::BTreeSet;
use std::path::PathBuf;

use fencescope_engine::{Engine, Symbols, synthetic};
use serde_json::Value;

fn dashboards() -> Vec<(PathBuf, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dashboards");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((p, v));
        }
    }
    assert!(!out.is_empty(), "no dashboards in {}", dir.display());
    out
}

/// Every query of every panel.
pub fn exprs(d: &Value) -> Vec<String> {
    let panels = d["panels"].as_array().unwrap();
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

/// Names in a PromQL expression that are fencescope's metrics.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("fencescope_") {
        let tail = &rest[i..];
        let end =
            tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// Sample names `serve` exposes (classic format, as Prometheus stores them).
fn exported() -> BTreeSet<String> {
    let mut e = Engine::default().with_symbols(Symbols::default());
    synthetic::compositor_session(30, 3, 1_000_000).iter().for_each(|ev| e.feed(ev));
    let text = fencescope_metrics::encode(fencescope_metrics::figures(
        &e.summary(),
        &e.distributions(),
        50,
    ));
    let classic = fencescope_metrics::exposition::to_prometheus_text(&text);
    let mut names = BTreeSet::new();
    for line in classic.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let (name, kind) = rest.split_once(' ').unwrap();
        names.insert(name.to_string());
        if kind == "histogram" {
            for s in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{s}"));
            }
        }
    }
    names
}

#[test]
fn every_metric_a_dashboard_names_is_exported() {
    let exported = exported();
    for (path, d) in dashboards() {
        let all = exprs(&d);
        assert!(all.len() >= 10, "{}: {} queries", path.display(), all.len());
        for expr in all {
            let names = metric_names(&expr);
            assert!(!names.is_empty(), "{expr}: names no fencescope metric");
            for n in names {
                assert!(
                    exported.contains(&n),
                    "{}: {n} (in {expr}) is not exported",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn dashboards_have_grafanas_shape() {
    for (path, d) in dashboards() {
        let at = path.display();
        for key in ["uid", "title"] {
            assert!(d[key].as_str().is_some_and(|s| !s.is_empty()), "{at}: {key}");
        }
        assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{at}: schemaVersion");
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(vars.iter().any(|v| v["name"] == "datasource" && v["type"] == "datasource"));
        let mut ids = BTreeSet::new();
        let mut cells = BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            let title = p["title"].as_str().unwrap();
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{at}: duplicate panel id ({title})");
            let kind = p["type"].as_str().unwrap();
            assert!(
                ["heatmap", "timeseries", "stat", "table"].contains(&kind),
                "{at}: {title}: {kind}"
            );
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(x + w <= 24 && w > 0 && h > 0, "{at}: {title}: gridPos {g}");
            // Panels may not overlap on Grafana's 24-column grid.
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(cells.insert((cx, cy)), "{at}: {title} overlaps another panel");
                }
            }
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{at}: {title}");
            for t in p["targets"].as_array().unwrap() {
                assert!(t["refId"].is_string() && t["expr"].is_string(), "{at}: {title}: {t}");
            }
        }
    }
}

#[test]
fn names_are_read_out_of_promql() {
    let got = metric_names(
        "histogram_quantile(0.5, sum by (le) (rate(fencescope_wait_seconds_bucket{x=\"y\"}[1m]))) / fencescope_fences_total",
    );
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        ["fencescope_fences_total", "fencescope_wait_seconds_bucket"]
    );
}
