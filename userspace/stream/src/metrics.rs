//! The metrics endpoint as one more output of the fan-out (`serve`, and
//! `--serve` beside watch and top): one collector, the engine; its figures
//! re-encoded at most once a second.
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use fencescope_engine::Engine;
use fencescope_metrics::http::{self, Published};

/// Publishes the engine's figures for the endpoint.
pub struct Metrics {
    published: Published,
    max_series: usize,
    next: Instant,
}

impl Metrics {
    /// Binds the endpoint (a busy port fails here, before any probe is
    /// attached) and returns the publisher and the listener to serve.
    pub fn bind(
        addr: std::net::SocketAddr,
        max_series: usize,
    ) -> Result<(Metrics, std::net::TcpListener)> {
        let listener = http::bind(addr).map_err(|e| anyhow!(e))?;
        eprintln!("fencescope: serving metrics on http://{addr}/metrics");
        let m = Metrics { published: Published::default(), max_series, next: Instant::now() };
        Ok((m, listener))
    }

    /// New figures, at most once a second unless `force`.
    pub fn publish(&mut self, engine: &Engine, force: bool) {
        if !force && Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + Duration::from_secs(1);
        let f = fencescope_metrics::figures(
            &engine.summary(),
            &engine.distributions(),
            self.max_series,
        );
        self.published.set(fencescope_metrics::encode(f));
    }

    /// Starts answering on `listener` in the current tokio runtime.
    pub fn spawn(&self, listener: std::net::TcpListener) {
        let published = self.published.clone();
        tokio::spawn(async move {
            if let Err(e) = http::serve(listener, published).await {
                eprintln!("fencescope: warning: the metrics endpoint stopped: {e}");
            }
        });
    }
}
