//! `fencescope-report`: every way fencescope shows figures, as pure
//! functions from the engine's summaries to text, bytes or JSON.
//!
//! They live apart from the binary so that a figure is rendered one way
//! whichever command asks for it (`watch`, `record --report`, `report`,
//! `watch --interval`), so that each output is tested by snapshot without a
//! kernel or a command line, and so that adding an output touches this
//! crate and one small command file. Nothing here reads files, parses
//! arguments or prints.
//!
//! - [`render`] / [`render_engine`]: the report in a [`Format`]; text is
//!   [`text::text`] (72 columns, for mail) with [`histogram`]s, markdown is
//!   [`markdown::markdown`], JSON is the summary itself.
//! - [`contract`]: the arming contract's section of text and markdown.
//! - [`compare`]: two captures side by side, with a verdict per figure.
//! - [`perfetto`]: a Chrome-JSON trace for Perfetto.
//! - [`flamegraph`]: folded stacks drawn as SVG by inferno.
#![deny(missing_docs)]

use fencescope_engine::{Engine, Summary};

pub mod compare;
pub mod contract;
pub mod flamegraph;
pub mod histogram;
pub mod markdown;
pub mod perfetto;
pub mod text;
mod units;
mod vb2;

#[cfg(test)]
mod tests;

/// How a report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Tables and log2 histograms in 72 columns, for mail.
    Text,
    /// Tables, for forges.
    Markdown,
    /// Every figure, for scripts.
    Json,
}

/// The report of an engine: `render` of its summary, and in text the log2
/// histograms of its lifetimes and waits after the tables.
pub fn render_engine(engine: &Engine, format: Format, kernel: &str) -> String {
    let mut out = render(&engine.summary(), format, kernel);
    if format == Format::Text {
        let d = engine.distributions();
        for (name, h) in &d.lifetimes {
            out.push('\n');
            out.push_str(&histogram::log2(&format!("lifetime of {name}, us"), h, 1_000));
        }
        for (name, h) in &d.waits {
            out.push('\n');
            out.push_str(&histogram::log2(&format!("waits of {name}, us"), h, 1_000));
        }
    }
    out
}

/// A summary in `format`, for a run on kernel release `kernel`.
pub fn render(s: &Summary, format: Format, kernel: &str) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(s).expect("summary serialises") + "\n",
        Format::Text => text::text(s, kernel),
        Format::Markdown => markdown::markdown(s, kernel),
    }
}
