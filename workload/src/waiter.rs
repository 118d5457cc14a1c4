//! The compositor-like waiter: a separate process that, for each fence the
//! producer announces, asks for the buffer's fence the way KWin does, at a
//! set time after the fence's birth, and waits for it.
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::clock::Clock;
use crate::dmabuf::{export_sync_file, readable};
use crate::uapi::owned;

/// How the waiter asks: the two ways a compositor waits on a client's
/// buffer (poll the dma-buf, or export its fence as a sync file and poll
/// that), and newer KWin's both in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// EXPORT_SYNC_FILE, then poll the sync file.
    Export,
    /// poll(dma-buf, 0) finds it busy, then poll the dma-buf fd (KWin 6.0).
    DmaBufPoll,
    /// poll(dma-buf, 0) finds it busy, then export and poll the sync file
    /// (newer KWin).
    PollThenExport,
}

impl Style {
    pub fn parse(s: &str) -> Result<Style, String> {
        match s {
            "export" => Ok(Style::Export),
            "dmabuf-poll" => Ok(Style::DmaBufPoll),
            "poll+export" => Ok(Style::PollThenExport),
            other => Err(format!("unknown style {other:?} (export, dmabuf-poll, poll+export)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Style::Export => "export",
            Style::DmaBufPoll => "dmabuf-poll",
            Style::PollThenExport => "poll+export",
        }
    }

    fn code(self) -> u8 {
        match self {
            Style::Export => b'e',
            Style::DmaBufPoll => b'p',
            Style::PollThenExport => b'b',
        }
    }
}

/// A pipe, both ends close-on-exec: (read, write).
fn pipe() -> Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("pipe: {}", std::io::Error::last_os_error());
    }
    Ok((File::from(owned(fds[0])), File::from(owned(fds[1]))))
}

/// Forks the compositor-like waiter, named `comm`, running `body` on its
/// ends of two pipes (tokens in, acks out); returns its pid and the
/// producer's ends. The child exits with `body`'s outcome and never returns.
pub fn spawn_waiter(
    comm: &str,
    body: impl FnOnce(File, File) -> Result<()>,
) -> Result<(libc::pid_t, File, File)> {
    let (token_rx, token_tx) = pipe()?;
    let (ack_rx, ack_tx) = pipe()?;
    // SAFETY: the workloads are single-threaded here; the child only uses
    // its own copies.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop(token_tx);
        drop(ack_rx);
        crate::set_comm(comm);
        let code = match body(token_rx, ack_tx) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("fence-workload waiter: {e:#}");
                1
            }
        };
        // SAFETY: leave the forked child without running the parent's exit.
        unsafe { libc::_exit(code) };
    }
    Ok((pid, token_tx, ack_rx))
}

/// What the producer tells the waiter: 17 bytes, one atomic pipe write.
pub enum Token {
    Fence {
        style: Style,
        ask_at: Duration,
    },
    /// Export the buffer that never had a fence (gets the stub).
    Stub,
    Quit,
}

impl Token {
    pub fn send(&self, to: &mut File) -> Result<()> {
        let mut b = [0u8; 17];
        match self {
            Token::Fence { style, ask_at } => {
                b[0] = style.code();
                b[1..9].copy_from_slice(&(ask_at.as_nanos() as u64).to_le_bytes());
            }
            Token::Stub => b[0] = b's',
            Token::Quit => b[0] = b'q',
        }
        to.write_all(&b)?;
        Ok(())
    }

    fn recv(from: &mut File) -> Result<Token> {
        let mut b = [0u8; 17];
        from.read_exact(&mut b)?;
        let ask_at = Duration::from_nanos(u64::from_le_bytes(b[1..9].try_into()?));
        Ok(match b[0] {
            b'e' => Token::Fence { style: Style::Export, ask_at },
            b'p' => Token::Fence { style: Style::DmaBufPoll, ask_at },
            b'b' => Token::Fence { style: Style::PollThenExport, ask_at },
            b's' => Token::Stub,
            _ => Token::Quit,
        })
    }
}

const WAIT_LIMIT_MS: i32 = 5_000;

fn wait_readable(fd: &OwnedFd, what: &str) -> Result<()> {
    if !readable(fd, WAIT_LIMIT_MS)? {
        bail!("{what} not readable after {WAIT_LIMIT_MS} ms");
    }
    Ok(())
}

/// Runs until told to quit. Acks each token with 'w' (had to wait) or 'r'
/// (ready at once).
pub fn run(fenced: OwnedFd, bare: OwnedFd, mut tokens: File, mut acks: File) -> Result<()> {
    let clock = Clock::monotonic();
    loop {
        let waited = match Token::recv(&mut tokens)? {
            Token::Quit => return Ok(()),
            Token::Stub => {
                let sync = export_sync_file(&bare)?;
                !readable(&sync, 0)?
            }
            Token::Fence { style, ask_at } => {
                if !ask_at.is_zero() {
                    clock.sleep_until(ask_at);
                }
                match style {
                    Style::Export => {
                        let sync = export_sync_file(&fenced)?;
                        let busy = !readable(&sync, 0)?;
                        wait_readable(&sync, "sync file")?;
                        busy
                    }
                    Style::DmaBufPoll => {
                        let busy = !readable(&fenced, 0)?;
                        wait_readable(&fenced, "dma-buf")?;
                        busy
                    }
                    Style::PollThenExport => {
                        let busy = !readable(&fenced, 0)?;
                        if busy {
                            let sync = export_sync_file(&fenced)?;
                            wait_readable(&sync, "sync file")?;
                        }
                        busy
                    }
                }
            }
        };
        acks.write_all(&[if waited { b'w' } else { b'r' }])?;
    }
}
