//! The lockdep gate of the source-built kernel (`--kernel 6.12-src`, built
//! with PROVE_LOCKING, PROVE_RCU and DEBUG_ATOMIC_SLEEP): a boot on it fails
//! when the guest's kernel log has a lockdep report, a `WARNING:` or a
//! `BUG:`, and the error carries the splat.
//!
//! The console runs at `loglevel=1`, so reports would not reach it: the
//! guest's /init sends its whole `dmesg` back as `dmesg.txt` when the
//! initramfs holds [`DMESG_FLAG`], and the gate reads that and the console.
use anyhow::{Result, bail};

use crate::qemu::Boot;

/// A file in the initramfs that makes /init send `dmesg` back.
pub const DMESG_FLAG: &str = "send-dmesg";

/// What starts a report (matched anywhere in a line).
const PATTERNS: &[&str] = &[
    "possible recursive locking",
    "possible circular locking",
    "inconsistent lock state",
    "WARNING:",
    "BUG: sleeping function called from invalid context",
    "BUG:",
];

/// Lines kept after the first line of a report.
const SPLAT_LINES: usize = 80;

/// The first report in `log`, from its first line to its end-of-trace
/// marker (or `SPLAT_LINES` more lines).
pub fn splat(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
    let start = lines.iter().position(|l| PATTERNS.iter().any(|p| l.contains(p)))?;
    let mut end = (start + SPLAT_LINES).min(lines.len());
    if let Some(e) = lines[start..end].iter().position(|l| l.contains("---[ end trace")) {
        end = start + e + 1;
    }
    Some(lines[start..end].join("\n"))
}

/// Fails when the guest's log or console has a report; fails too when the
/// guest got to send no log at all (the gate could not look).
pub fn gate(boot: &Boot) -> Result<()> {
    for (what, log) in [("dmesg", boot.files.get("dmesg.txt")), ("console", Some(&boot.console))] {
        if let Some(s) = log.and_then(|l| splat(l)) {
            bail!("the guest kernel reported a problem (lockdep gate, from its {what}):\n{s}");
        }
    }
    if boot.exit.is_some() && !boot.files.contains_key("dmesg.txt") {
        bail!("the guest sent no dmesg.txt: the lockdep gate could not look at its kernel log");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lockdep_report_is_found_and_cut_at_its_end() {
        let log = "[    0.1] RCU lockdep checking is enabled.\n\
                   [    1.0] ======================================================\n\
                   [    1.0] WARNING: possible circular locking dependency detected\n\
                   [    1.0] 6.12.117 #1 Not tainted\n\
                   [    1.1] ---[ end trace 0000000000000000 ]---\n\
                   [    1.2] later\n";
        let s = splat(log).expect("a splat");
        assert!(s.starts_with("[    1.0] WARNING: possible circular"));
        assert!(s.ends_with("]---") && !s.contains("later"));
        assert!(splat("[ 0.1] RCU lockdep checking is enabled.\n[ 0.2] fine\n").is_none());
        let s = splat("x\r\n[ 2.0] BUG: sleeping function called from invalid context at y\r\n");
        assert_eq!(
            s.as_deref(),
            Some("[ 2.0] BUG: sleeping function called from invalid context at y")
        );
    }
}
