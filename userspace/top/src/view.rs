//! Drawing [`Top`] with ratatui: a pure function of the state, so the same
//! screen is rendered live, from a replay and in snapshot tests.
use fencescope_engine::hist::{bucket_bound, log2_buckets};
use fencescope_engine::{InFlightFence, LatencySummary};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, TableState};

use crate::state::{Pane, TimelineRow, Top, WaitRow};

/// Compact durations for narrow columns: 850us, 4.99ms, 1.20s, 2m03s.
pub fn dur(ns: u64) -> String {
    let us = ns as f64 / 1e3;
    match ns {
        0 => "-".into(),
        n if n < 1_000_000 => format!("{us:.0}us"),
        n if n < 10_000_000 => format!("{:.2}ms", us / 1e3),
        n if n < 100_000_000 => format!("{:.1}ms", us / 1e3),
        n if n < 1_000_000_000 => format!("{:.0}ms", us / 1e3),
        n if n < 60_000_000_000 => format!("{:.2}s", us / 1e6),
        n => format!("{}m{:02}s", n / 60_000_000_000, (n / 1_000_000_000) % 60),
    }
}

fn per_sec(r: f64) -> String {
    if r >= 100.0 { format!("{r:.0}") } else { format!("{r:.1}") }
}

/// Draws the whole screen from the state (no I/O: any ratatui backend).
pub fn draw(f: &mut Frame, top: &Top) {
    // The videobuf2 pane takes room only when queues were seen: a box of
    // its rows, at most four.
    let queues = top.summary.vb2.by_queue.len().min(4) as u16;
    let vb2_height = if queues == 0 { 0 } else { queues + 3 };
    // On a small screen the queues take the sparkline's room.
    let spark_height = if vb2_height > 0 && f.area().height < 30 { 0 } else { 4 };
    let [header, timelines, waits, vb2, spark, oldest, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Length(vb2_height),
        Constraint::Length(spark_height),
        Constraint::Length(5),
        Constraint::Length(1),
    ])
    .areas(f.area());
    f.render_widget(header_line(top), header);
    draw_timelines(f, top, timelines);
    draw_waits(f, top, waits);
    if vb2_height > 0 {
        draw_vb2(f, top, vb2);
    }
    if spark_height > 0 {
        draw_sparkline(f, top, spark);
    }
    draw_oldest(f, top, oldest);
    f.render_widget(status_line(top), status);
    if top.detail {
        draw_detail(f, top);
    }
    if top.help {
        draw_help(f);
    }
}

fn header_line(top: &Top) -> Paragraph<'static> {
    let secs = top.now_ns.saturating_sub(top.since_ns) as f64 / 1e9;
    Paragraph::new(Line::from(vec![
        Span::styled("fencescope top", Style::new().bold()),
        Span::raw(format!(
            " · {} · {secs:.1} s · {} ev/s · {} fences, {} stubs",
            top.source,
            per_sec(top.events_per_sec),
            top.summary.real_fences(),
            top.summary.stub_fences(),
        )),
    ]))
}

/// Figures are right-aligned, so their magnitudes line up.
fn num(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}

fn latency_cells(l: &LatencySummary) -> [Cell<'static>; 3] {
    [num(dur(l.p50_ns)), num(dur(l.p99_ns)), num(dur(l.max_ns))]
}

fn timeline_row(top: &Top, r: &TimelineRow) -> Row<'static> {
    let g = &r.group;
    let name = if g.stub { format!("{} (stub)", g.key()) } else { g.key() };
    let flight = num(g.in_flight.to_string());
    let flight = if g.oldest_in_flight_ns >= top.hang_ns && g.in_flight > 0 {
        flight.style(Style::new().fg(Color::Red).bold())
    } else {
        flight
    };
    let [p50, p99, max] = latency_cells(&g.lifetime);
    Row::new(vec![
        name.into(),
        num(per_sec(r.per_sec)),
        num(g.fences.to_string()),
        flight,
        p50,
        p99,
        max,
        num(dur(g.vb2_done_to_signal.p50_ns)),
    ])
}

const FIGURE: Constraint = Constraint::Length(7);

/// Header cells over right-aligned figures are right-aligned too.
fn header(names: [&'static str; 8]) -> Row<'static> {
    let cells = names.into_iter().enumerate().map(|(i, n)| {
        if i == 0 { Cell::from(n) } else { Cell::from(Line::from(n).alignment(Alignment::Right)) }
    });
    Row::new(cells).style(Style::new().bold())
}

fn draw_timelines(f: &mut Frame, top: &Top, area: Rect) {
    let rows: Vec<Row> = top.timeline_rows().into_iter().map(|r| timeline_row(top, r)).collect();
    let header =
        header(["driver/timeline", "/s", "fences", "flight", "p50", "p99", "max", "vb2→sig"]);
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(6),
        FIGURE,
        FIGURE,
        FIGURE,
        FIGURE,
    ];
    let title = format!("Fence lifetimes by driver/timeline (sort: {})", top.sort.name());
    let table = Table::new(rows, widths).header(header);
    render_pane(f, top, area, Pane::Timelines, title, table);
}

/// A pane's table in its block (cyan when focused), the selected row
/// reversed when it has the focus.
fn render_pane(f: &mut Frame, top: &Top, area: Rect, pane: Pane, title: String, t: Table) {
    let style = if top.pane == pane { Style::new().fg(Color::Cyan) } else { Style::new() };
    let table = t
        .block(Block::new().borders(Borders::ALL).border_style(style).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let selected = (top.pane == pane).then_some(top.selected[pane as usize]);
    f.render_stateful_widget(table, area, &mut TableState::new().with_selected(selected));
}

fn wait_row(r: &WaitRow) -> Row<'static> {
    let w = &r.wait;
    let [p50, p99, max] = latency_cells(&w.latency);
    Row::new(vec![
        w.key().into(),
        num(per_sec(r.per_sec)),
        num(w.waits.to_string()),
        num(w.zero_waits.to_string()),
        num(w.open.to_string()),
        p50,
        p99,
        max,
    ])
}

fn draw_waits(f: &mut Frame, top: &Top, area: Rect) {
    let rows: Vec<Row> = top.wait_rows().into_iter().map(wait_row).collect();
    let header =
        header(["process/thread style", "/s", "waits", "zero", "open", "p50", "p99", "max"]);
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(5),
        FIGURE,
        FIGURE,
        FIGURE,
    ];
    let title = format!(
        "Waits by process/thread and style · stub exports {}/s ({})",
        per_sec(top.stub_exports_per_sec),
        top.summary.stub_exports()
    );
    let table = Table::new(rows, widths).header(header);
    render_pane(f, top, area, Pane::Waits, title, table);
}

/// Each videobuf2 queue under who it is: the decoder's OUTPUT and CAPTURE
/// and a 2D engine beside it, apart.
fn draw_vb2(f: &mut Frame, top: &Top, area: Rect) {
    let rows: Vec<Row> = top
        .summary
        .vb2
        .by_queue
        .iter()
        .map(|q| {
            let v = &q.figures;
            Row::new(vec![
                // The device last: the first to be cut on a narrow screen.
                format!("{} {} {} {}", q.driver, q.node, q.queue, q.device).into(),
                format!("{}[{}]", q.process, q.pid).into(),
                num(v.qbufs.to_string()),
                num(v.dones.to_string()),
                num(v.with_fence.to_string()),
                num(dur(v.qbuf_to_done.p50_ns)),
                num(dur(v.done_to_dqbuf.p50_ns)),
                num(dur(v.done_to_signal.p50_ns)),
            ])
        })
        .collect();
    let header = header([
        "driver node queue device",
        "process",
        "qbuf",
        "done",
        "fenced",
        "q→done",
        "d→dqbuf",
        "d→sig",
    ]);
    let widths = [
        Constraint::Fill(2),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        FIGURE,
        FIGURE,
        FIGURE,
    ];
    let block = Block::new().borders(Borders::ALL).title("videobuf2 queues (p50)");
    f.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn draw_sparkline(f: &mut Frame, top: &Top, area: Rect) {
    // Newest at the right edge, as many points as there is room for.
    let room = area.width.saturating_sub(2) as usize;
    let points: Vec<u64> = top.history.iter().map(|(_, r)| r.ceil() as u64).collect();
    let shown = &points[points.len().saturating_sub(room)..];
    let peak = shown.iter().max().copied().unwrap_or(0);
    let title = format!("Real fences/s, last minute (peak {peak})");
    let spark = Sparkline::default()
        .block(Block::new().borders(Borders::ALL).title(title))
        .data(shown)
        .style(Style::new().fg(Color::Green));
    f.render_widget(spark, area);
}

fn oldest_line(top: &Top, o: &InFlightFence) -> Line<'static> {
    let text = format!(
        "{:>8}  {}/{} context {} seqno {}  by {}[{}]",
        dur(o.age_ns),
        o.driver,
        o.timeline,
        o.context,
        o.seqno,
        o.process,
        o.tgid
    );
    if o.age_ns >= top.hang_ns {
        Line::styled(text, Style::new().fg(Color::Red).bold())
    } else {
        Line::raw(text)
    }
}

fn draw_oldest(f: &mut Frame, top: &Top, area: Rect) {
    let room = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = top.oldest.iter().take(room).map(|o| oldest_line(top, o)).collect();
    let hanging = top.hanging();
    let title = if hanging > 0 {
        Span::styled(
            format!("Oldest unsignalled fences: {hanging} older than {}", dur(top.hang_ns)),
            Style::new().fg(Color::Red).bold(),
        )
    } else {
        Span::raw(format!("Oldest unsignalled fences (none older than {})", dur(top.hang_ns)))
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(title)),
        area,
    );
}

fn status_line(top: &Top) -> Paragraph<'static> {
    let s = &top.summary;
    let lost = Style::new().fg(Color::Red).bold();
    let count = |label: &str, n: u64| {
        let text = format!("{label} {n}");
        if n > 0 { Span::styled(text, lost) } else { Span::raw(text) }
    };
    let mut spans = vec![
        count("drops", s.dropped),
        Span::raw(" · "),
        count("evicted", s.evicted),
        Span::raw(" · "),
        Span::raw(format!("unpaired {}", s.unpaired)),
    ];
    let c = &s.contract;
    if c.handed_out_unarmed > 0 || c.never_signalled > 0 {
        // The review's question answered live: fences that can hang a waiter.
        let text = format!(
            " · contract: {} handed out unarmed, {} never signalled",
            c.handed_out_unarmed, c.never_signalled
        );
        spans.push(Span::styled(text, lost));
    } else if c.arms > 0 {
        spans.push(Span::raw(format!(" · {} armed, contract kept", c.armed)));
    }
    if top.paused {
        spans.push(Span::styled(" · PAUSED", Style::new().fg(Color::Yellow).bold()));
    }
    match &top.editing {
        Some(text) => spans.push(Span::styled(format!(" · filter: {text}_"), Style::new().bold())),
        None if !top.filter.is_empty() => {
            spans.push(Span::raw(format!(" · filter: {}", top.filter)))
        }
        None => {}
    }
    spans.push(Span::raw(" · ? help · q quit"));
    Paragraph::new(Line::from(spans))
}

/// A rectangle of at most `w`×`h` in the middle of `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

fn draw_detail(f: &mut Frame, top: &Top) {
    let Some((pane, key)) = top.detail_key() else { return };
    let what = match pane {
        Pane::Timelines => "Lifetimes of",
        Pane::Waits => "Waits of",
    };
    let rows = match &top.detail_histogram {
        Some(h) => log2_buckets(h, 1_000),
        None => Vec::new(),
    };
    let area = centered(f.area(), 72, rows.len().max(1) as u16 + 2);
    let bar_room = area.width.saturating_sub(2 + 16 + 9 + 3) as u64;
    let mut lines = Vec::new();
    match rows.iter().map(|r| r.1).max() {
        Some(max) => {
            // On a short screen, the slowest buckets are the ones to keep.
            let room = area.height.saturating_sub(2) as usize;
            for (low, count) in &rows[rows.len().saturating_sub(room)..] {
                let high = if *low == 0 { 1 } else { low * 2 };
                let range = format!("[{}, {})", bucket_bound(*low), bucket_bound(high));
                let bar = "@".repeat((count * bar_room).div_ceil(max) as usize);
                lines.push(Line::raw(format!("{range:<16}{count:>9} |{bar}")));
            }
        }
        None => lines.push(Line::raw("nothing recorded yet")),
    }
    let block = Block::new()
        .borders(Borders::ALL)
        .title(format!("{what} {key}, us (Enter or Esc closes)"))
        .border_style(Style::new().fg(Color::Cyan));
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

const HELP: [(&str, &str); 11] = [
    ("q, Ctrl-C", "quit"),
    ("?", "this help"),
    ("Tab", "switch between timelines and waits"),
    ("↑ ↓ j k", "select a row"),
    ("Enter", "log2 histogram of the selected row"),
    ("s", "sort: name, rate, p99, in flight"),
    ("p, Space", "pause the screen (collection goes on)"),
    ("/", "filter rows by text; Enter applies, Esc clears"),
    ("z", "zero the counters and histograms"),
    ("red", "a fence older than --hang-ms, or lost records"),
    ("Esc", "close this, the detail, or the filter"),
];

fn draw_help(f: &mut Frame) {
    let area = centered(f.area(), 64, HELP.len() as u16 + 2);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>10}  "), Style::new().bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    let block = Block::new()
        .borders(Borders::ALL)
        .title("Keys")
        .border_style(Style::new().fg(Color::Yellow));
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
