//! `fencescope top`: one screen, one state struct ([`state::Top`]), and
//! rendering ([`view::draw`]) apart from collection. The binary feeds the
//! state from the engine, live or from a capture; this crate never sees a
//! probe or a file, so every screen can be tested without a kernel.
#![deny(missing_docs)]
pub mod state;
pub mod view;

pub use state::{Action, Top};
pub use view::draw;

/// A rendered screen as plain text, one line per row, trailing blanks cut:
/// what a headless run prints and what tests compare.
pub fn screen_text(buffer: &ratatui::buffer::Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
