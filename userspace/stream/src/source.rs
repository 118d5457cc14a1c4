//! The one event source every command reads: the live ring (a loader
//! `Session`), a capture replayed at its recorded pace, or a capture
//! replayed at once into an engine. Whatever the source, records reach the
//! engine through the same [`Fanout`], so a figure is computed one way.
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fencescope_capture as capture;
use fencescope_engine::{Engine, Event, Filter};
use fencescope_loader::live::{Flow, Session};

use crate::setup::EngineSetup;
use crate::sink::{Fanout, View};

/// Where a streamed command's events come from.
pub enum Source {
    /// The kernel's ring buffer, until stopped.
    Live(Box<Session>),
    /// A capture's events at their recorded pace (times `speed`), on a
    /// clock that stops while the view is paused; with `to_end` it ends
    /// once every event is fed. The events arrive through a bounded
    /// channel from a thread reading the capture chunk by chunk, so a
    /// capture of any size replays in bounded memory.
    Paced {
        /// The capture's events, in order.
        events: std::sync::mpsc::Receiver<Event>,
        /// How many times the recorded pace.
        speed: f64,
        /// End once every event is fed, rather than serve on.
        to_end: bool,
    },
    /// Nothing more to feed (the engine has it all): serve until stopped.
    Idle,
}

impl Source {
    /// Streams into `fan` until Ctrl-C, SIGTERM, SIGHUP, `duration` or the
    /// view's `Flow::Stop`; serves `--serve`'s endpoint beside it.
    pub fn run<V: View>(
        self,
        duration: Option<f64>,
        fan: &mut Fanout<V>,
        listener: Option<std::net::TcpListener>,
    ) -> Result<()> {
        runtime()?.block_on(async {
            if let (Some(l), Some(m)) = (listener, fan.metrics.as_ref()) {
                m.spawn(l);
            }
            match self {
                Source::Live(session) => session.stream(stop(duration), fan).await,
                Source::Paced { events, speed, to_end } => {
                    paced(events, speed, to_end, stop(duration), fan).await
                }
                Source::Idle => {
                    stop(duration).await;
                    Ok(())
                }
            }
        })
    }
}

async fn paced<V: View>(
    events: std::sync::mpsc::Receiver<Event>,
    speed: f64,
    to_end: bool,
    stop: impl std::future::Future<Output = ()>,
    fan: &mut Fanout<V>,
) -> Result<()> {
    let mut pending = events.recv().ok();
    let first = pending.as_ref().map_or(0, |e| e.meta.ts_ns);
    let mut last = first;
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let (mut clock, mut at) = (first as f64, Instant::now());
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            _ = tick.tick() => {
                let elapsed = at.elapsed().as_nanos() as f64;
                at = Instant::now();
                if !fan.view.paused() {
                    clock += elapsed * speed;
                }
                while let Some(ev) = pending.take_if(|e| (e.meta.ts_ns as f64) <= clock) {
                    fan.engine.feed(&ev);
                    last = ev.meta.ts_ns;
                    pending = events.recv().ok();
                }
                // Past the capture's end the clock stops at its last event.
                let now = if pending.is_none() { (clock as u64).min(last) } else { clock as u64 };
                if fan.tick_at(now)? == Flow::Stop {
                    return Ok(());
                }
                if to_end && pending.is_none() {
                    return Ok(());
                }
            }
        }
    }
}

/// Decodes `cap` in a thread into a bounded channel, for [`Source::Paced`]:
/// only the channel's events and one chunk are in memory at a time.
pub fn stream_events(cap: capture::Capture) -> std::sync::mpsc::Receiver<Event> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1 << 16);
    std::thread::spawn(move || {
        decode_each(&cap, "showing", |ev| {
            // The receiver is gone when the screen quit first: stop quietly.
            let _ = tx.send(ev);
        })
    });
    rx
}

/// The single-threaded tokio runtime the streams and the endpoint run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")
}

/// Resolves on Ctrl-C, SIGTERM, SIGHUP, or after `duration`.
async fn stop(duration: Option<f64>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    let timer = async {
        match duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = timer => {}
    }
}

/// Replays a capture into an engine set up as the live run's was; warns on
/// stderr where the capture stops early.
pub fn replay(path: &Path, filter: Filter) -> Result<(Engine, capture::Info)> {
    replay_into(path, filter, |e| e)
}

/// [`replay`] into an engine `setup_more` adjusts (e.g. to keep stacks).
pub fn replay_into(
    path: &Path,
    filter: Filter,
    setup_more: impl FnOnce(Engine) -> Engine,
) -> Result<(Engine, capture::Info)> {
    let (cap, setup) = open_capture(path)?;
    let mut engine = setup_more(setup.engine(filter));
    decode_each(&cap, "reporting", |ev| engine.feed(&ev));
    Ok((engine, cap.info))
}

/// A capture, and how the engine must read it (as the live run did).
pub fn open_capture(path: &Path) -> Result<(capture::Capture, EngineSetup)> {
    let cap = capture::read(path)?;
    let setup: EngineSetup = serde_json::from_value(cap.info.engine.clone()).unwrap_or_default();
    Ok((cap, setup))
}

/// Decodes every record of `cap` into `each`; warns on stderr where the
/// capture stops early ("`doing` N records") or records do not decode.
/// Returns whether it was cut short.
pub fn decode_each(cap: &capture::Capture, doing: &str, mut each: impl FnMut(Event)) -> bool {
    let mut malformed = 0u64;
    let outcome = cap.for_each(|rec| match Event::decode(rec) {
        Ok(ev) => each(ev),
        Err(_) => malformed += 1,
    });
    if let Some(why) = &outcome.stopped {
        eprintln!(
            "fencescope: warning: {}: {why}; {doing} {} records",
            cap.name(),
            outcome.records
        );
    }
    if malformed > 0 {
        eprintln!("fencescope: warning: {malformed} records did not decode and were skipped");
    }
    outcome.stopped.is_some()
}
