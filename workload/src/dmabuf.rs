//! What a compositor does with a dma-buf: ask for its write fence as a
//! sync file, and poll a file descriptor until it is readable.
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result};

use crate::uapi::*;

/// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` for reading: the buffer's write fence.
pub fn export_sync_file(dmabuf: &impl AsRawFd) -> Result<OwnedFd> {
    let mut e = ExportSyncFile { flags: DMA_BUF_SYNC_READ, fd: -1 };
    ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &mut e).context("EXPORT_SYNC_FILE")?;
    Ok(owned(e.fd))
}

/// poll(POLLIN) with a timeout; true when readable (the fence signalled).
pub fn readable(fd: &impl AsRawFd, timeout_ms: i32) -> Result<bool> {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r >= 0 {
            return Ok(r > 0 && p.revents & libc::POLLIN != 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e.into());
        }
    }
}
