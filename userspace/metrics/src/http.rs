//! The endpoint: `GET /metrics` (and HEAD) answers the latest exposition;
//! any other path is 404, any other method 405. Nothing can be changed
//! through it, and it listens on loopback unless told otherwise.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// What `/metrics` answers, replaced whenever the figures are taken.
#[derive(Clone, Default)]
pub struct Published(Arc<Mutex<String>>);

impl Published {
    /// Replaces the exposition served.
    pub fn set(&self, text: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = text;
    }

    /// The exposition served now.
    pub fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The content type of OpenMetrics text (what Prometheus asks for).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the classic text format (curl, promtool).
pub const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

fn answer(req: &Request<Incoming>, published: &Published) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != "/metrics" {
        return reply(StatusCode::NOT_FOUND, "fencescope serves /metrics only\n".into());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, "read-only: GET /metrics\n".into());
        r.headers_mut().insert(ALLOW, "GET, HEAD".parse().expect("static header"));
        return r;
    }
    // Prometheus asks for OpenMetrics; curl, promtool and older scrapers
    // get the classic format.
    let wants_openmetrics = req
        .headers()
        .get(ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (body, content) = match wants_openmetrics {
        true => (published.get(), OPENMETRICS),
        false => (crate::exposition::to_prometheus_text(&published.get()), CLASSIC),
    };
    let mut r = reply(StatusCode::OK, body);
    r.headers_mut().insert(CONTENT_TYPE, content.parse().expect("static header"));
    r
}

/// Binds `addr` now, so a busy port is an error before anything else
/// starts; the listener is served by [`serve`].
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let l = std::net::TcpListener::bind(addr).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("{addr} is in use (another fencescope serve?): choose another with --listen")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("may not listen on {addr}: choose a port above 1023 with --listen")
        }
        _ => format!("cannot listen on {addr}: {e}"),
    })?;
    l.set_nonblocking(true).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(l)
}

/// Answers connections on `listener` until the task is dropped. Must run
/// inside a tokio runtime.
pub async fn serve(listener: std::net::TcpListener, published: Published) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let published = published.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let r = answer(&req, &published);
                async move { Ok::<_, Infallible>(r) }
            });
            // A client that goes away mid-answer is its own business.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_port_is_one_line_saying_what_to_do() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken = first.local_addr().unwrap();
        let err = bind(taken).unwrap_err();
        assert!(err.contains("is in use") && err.contains("--listen"), "{err}");
        assert!(!err.contains('\n'));
    }
}
