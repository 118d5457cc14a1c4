//! A real Prometheus (Debian's package) scrapes `fencescope serve --replay`
//! of a known workload; the figures it stores are the workload's, `promtool
//! check metrics` finds the exposition clean, and every dashboard query is
//! valid PromQL that Prometheus answers.
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fencescope_capture::{Info, Writer};
use fencescope_engine::synthetic;
use serde_json::Value;

/// 300 fences over 3 drivers, a fence every 1 ms living 0.5 ms, each
/// exported by kwin_wayland 2 us after its init (a 498 us wait).
fn write_capture(path: &Path) {
    let info = Info { schema_version: fencescope_schema::SCHEMA_VERSION, ..Info::default() };
    let mut w = Writer::create(path, &info).unwrap();
    let mut buf = Vec::new();
    for ev in synthetic::compositor_session(300, 3, 1_000_000) {
        buf.clear();
        ev.encode(&mut buf);
        w.push(&buf).unwrap();
    }
    w.finish().unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A GET over a plain socket: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    // Prometheus answers chunked; fencescope with a length.
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prometheus' answer to `query` (instant, now).
fn query(port: u16, q: &str) -> Value {
    let (status, body) =
        get(port, &format!("/api/v1/query?query={}", encode(q))).expect("prometheus answers");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{q}: {e}: {body}"));
    assert_eq!((status, v["status"].as_str()), (200, Some("success")), "{q}: {body}");
    v["data"]["result"].clone()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_the_known_workload() {
    let dir = std::env::temp_dir().join(format!("fencescope-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("session.fsc");
    write_capture(&cap);
    let (serve_port, prom_port) = (free_port(), free_port());
    let bin = env!("CARGO_BIN_EXE_fencescope");
    let _serve = Killed(
        Command::new(bin)
            .args(["serve", "--replay"])
            .arg(&cap)
            .args(["--listen", &format!("127.0.0.1:{serve_port}")])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("fencescope serve", || get(serve_port, "/metrics").is_some());
    let (status, text) = get(serve_port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert_eq!(get(serve_port, "/").unwrap().0, 404, "no other routes");

    // promtool: the exposition is clean (no lint findings, exit 0).
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .output_with_stdin(text.as_bytes());
    assert!(check.0.success(), "promtool check metrics: {}", check.1);
    check.1.clear();

    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: fencescope\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{serve_port}']\n"
        ),
    )
    .unwrap();
    let _prom = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (scripts/setup.sh installs Debian's package)"),
    );
    wait_until("a scrape", || {
        get(prom_port, "/-/ready").is_some_and(|r| r.0 == 200)
            && query(prom_port, "fencescope_fences_total").as_array().is_some_and(|a| a.len() == 3)
    });
    let value = |r: &Value| r["value"][1].as_str().unwrap().parse::<f64>().unwrap();
    for r in query(prom_port, "fencescope_fences_total").as_array().unwrap() {
        assert_eq!(value(r), 100.0, "{r}");
    }
    let waits = query(prom_port, "sum(fencescope_waits_total)");
    assert_eq!(value(&waits[0]), 300.0);
    // Every lifetime is 500 us: its quantiles fall in the (250 us, 500 us] bucket.
    let p50 = query(
        prom_port,
        "histogram_quantile(0.5, sum by (le) (fencescope_fence_lifetime_seconds_bucket))",
    );
    let p50 = value(&p50[0]);
    assert!(p50 > 0.00025 && p50 <= 0.0005, "lifetime p50 {p50} s");
    let wait_sum =
        query(prom_port, "sum(fencescope_wait_seconds_sum) / sum(fencescope_wait_seconds_count)");
    assert!((value(&wait_sum[0]) - 0.000498).abs() < 0.000002, "mean wait {wait_sum}");

    // Every dashboard query parses and runs (variables as Grafana fills them).
    let dash_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dashboards");
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(dash_dir.join("fencescope.json")).unwrap())
            .unwrap();
    let mut answered = 0;
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let q = t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$driver", ".*")
                .replace("$process", ".*");
            query(prom_port, &q);
            answered += 1;
        }
    }
    assert!(answered >= 10);
    std::fs::remove_dir_all(&dir).unwrap();
}

trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> (std::process::ExitStatus, String);
}

impl OutputWithStdin for Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> (std::process::ExitStatus, String) {
        let mut child =
            self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("promtool");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status, text)
    }
}
