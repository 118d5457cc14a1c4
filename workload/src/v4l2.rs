//! A V4L2 capture client (vivid in the VM): MMAP buffers, each exported as a
//! dma-buf the way Chromium's decoder does, streamed for a number of frames.
use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::uapi::{ioc_rw, ioc_w, ioctl, owned};

pub(crate) const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
pub(crate) const MEMORY_MMAP: u32 = 1;
pub(crate) const CAP_VIDEO_CAPTURE: u32 = 0x1;

#[repr(C)]
pub(crate) struct Capability {
    pub(crate) driver: [u8; 16],
    pub(crate) card: [u8; 32],
    pub(crate) bus_info: [u8; 32],
    pub(crate) version: u32,
    pub(crate) capabilities: u32,
    pub(crate) device_caps: u32,
    pub(crate) reserved: [u32; 3],
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct RequestBuffers {
    pub(crate) count: u32,
    pub(crate) kind: u32,
    pub(crate) memory: u32,
    pub(crate) capabilities: u32,
    pub(crate) flags: u8,
    pub(crate) reserved: [u8; 3],
}

/// `struct v4l2_buffer` on 64-bit kernels (88 bytes).
#[repr(C)]
#[derive(Default)]
pub(crate) struct Buffer {
    pub(crate) index: u32,
    pub(crate) kind: u32,
    pub(crate) bytesused: u32,
    pub(crate) flags: u32,
    pub(crate) field: u32,
    pub(crate) timestamp: [i64; 2],
    pub(crate) timecode: [u32; 4],
    pub(crate) sequence: u32,
    pub(crate) memory: u32,
    pub(crate) offset: u64,
    pub(crate) length: u32,
    pub(crate) reserved2: u32,
    pub(crate) request_fd: i32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct ExportBuffer {
    pub(crate) kind: u32,
    pub(crate) index: u32,
    pub(crate) plane: u32,
    pub(crate) flags: u32,
    pub(crate) fd: i32,
    pub(crate) reserved: [u32; 11],
}

/// `struct v4l2_format` for a single-planar queue: its type, then the
/// union (200 bytes, 8-aligned on 64-bit kernels) of which `pix` is first.
#[repr(C)]
pub(crate) struct Format {
    pub(crate) kind: u32,
    pub(crate) _pad: u32,
    pub(crate) pix: PixFormat,
    pub(crate) rest: [u8; 200 - size_of::<PixFormat>()],
}

/// `struct v4l2_pix_format`, the part of the union a plain queue uses.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PixFormat {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) pixelformat: u32,
    pub(crate) field: u32,
    pub(crate) bytesperline: u32,
    pub(crate) sizeimage: u32,
    pub(crate) colorspace: u32,
    pub(crate) private: u32,
    pub(crate) flags: u32,
    pub(crate) encoding: u32,
    pub(crate) quantization: u32,
    pub(crate) xfer_func: u32,
}

/// The current format of `kind` on `dev` (VIDIOC_G_FMT).
pub(crate) fn format(dev: &File, kind: u32) -> Result<PixFormat> {
    let mut f = Format {
        kind,
        _pad: 0,
        pix: PixFormat::default(),
        rest: [0; 200 - size_of::<PixFormat>()],
    };
    ioctl(dev, VIDIOC_G_FMT, &mut f).context("G_FMT")?;
    Ok(f.pix)
}

/// `_IOR('V', 0, struct v4l2_capability)`.
pub(crate) const VIDIOC_QUERYCAP: u64 =
    (2 << 30) | ((size_of::<Capability>() as u64) << 16) | (b'V' as u64) << 8;
pub(crate) const VIDIOC_G_FMT: u64 = ioc_rw(b'V', 4, size_of::<Format>());
pub(crate) const VIDIOC_REQBUFS: u64 = ioc_rw(b'V', 8, size_of::<RequestBuffers>());
pub(crate) const VIDIOC_QBUF: u64 = ioc_rw(b'V', 15, size_of::<Buffer>());
pub(crate) const VIDIOC_EXPBUF: u64 = ioc_rw(b'V', 16, size_of::<ExportBuffer>());
pub(crate) const VIDIOC_DQBUF: u64 = ioc_rw(b'V', 17, size_of::<Buffer>());
pub(crate) const VIDIOC_STREAMON: u64 = ioc_w(b'V', 18, size_of::<i32>());
pub(crate) const VIDIOC_STREAMOFF: u64 = ioc_w(b'V', 19, size_of::<i32>());

#[derive(Serialize)]
pub struct Streamed {
    pub device: String,
    /// This client's pid: the process fencescope should name for the queue.
    pub pid: u32,
    pub buffers: u32,
    pub frames: u32,
    /// Buffers queued in all (initial queue + requeues).
    pub qbufs: u32,
    pub exported: u32,
}

/// The first video node whose driver is `driver` and whose device caps
/// include `caps` (capture, output): the node and its path.
pub(crate) fn find_device(driver: &str, caps: u32) -> Result<(File, String)> {
    find_nth_device(driver, caps, 0)
}

/// The `nth` (from 0, in node order) such node: one client per instance
/// of a driver loaded with several.
pub(crate) fn find_nth_device(driver: &str, caps: u32, nth: usize) -> Result<(File, String)> {
    let mut skip = nth;
    let mut paths: Vec<_> = std::fs::read_dir("/dev")?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("video")))
        .collect();
    paths.sort();
    for path in paths {
        let Ok(f) = OpenOptions::new().read(true).write(true).open(&path) else { continue };
        // SAFETY: plain data, filled by the kernel.
        let mut cap: Capability = unsafe { std::mem::zeroed() };
        if ioctl(&f, VIDIOC_QUERYCAP, &mut cap).is_ok()
            && cap.driver.starts_with(driver.as_bytes())
            && cap.device_caps & caps != 0
        {
            if skip == 0 {
                return Ok((f, path.display().to_string()));
            }
            skip -= 1;
        }
    }
    bail!("no {driver} device number {nth} with caps {caps:#x} in /dev: load the {driver} module")
}

pub fn stream(driver: &str, nth: usize, buffers: u32, frames: u32) -> Result<Streamed> {
    let (dev, device) = find_nth_device(driver, CAP_VIDEO_CAPTURE, nth)?;
    let mut req = RequestBuffers {
        count: buffers,
        kind: BUF_TYPE_VIDEO_CAPTURE,
        memory: MEMORY_MMAP,
        ..Default::default()
    };
    ioctl(&dev, VIDIOC_REQBUFS, &mut req).context("REQBUFS")?;
    let mut exported: Vec<OwnedFd> = Vec::new();
    let mut qbufs = 0;
    for index in 0..req.count {
        let mut e = ExportBuffer {
            kind: BUF_TYPE_VIDEO_CAPTURE,
            index,
            flags: libc::O_CLOEXEC as u32,
            ..Default::default()
        };
        ioctl(&dev, VIDIOC_EXPBUF, &mut e).context("EXPBUF")?;
        exported.push(owned(e.fd));
        let mut b = Buffer {
            index,
            kind: BUF_TYPE_VIDEO_CAPTURE,
            memory: MEMORY_MMAP,
            ..Default::default()
        };
        ioctl(&dev, VIDIOC_QBUF, &mut b).context("QBUF")?;
        qbufs += 1;
    }
    let mut kind = BUF_TYPE_VIDEO_CAPTURE as i32;
    ioctl(&dev, VIDIOC_STREAMON, &mut kind).context("STREAMON")?;
    for _ in 0..frames {
        let mut b =
            Buffer { kind: BUF_TYPE_VIDEO_CAPTURE, memory: MEMORY_MMAP, ..Default::default() };
        ioctl(&dev, VIDIOC_DQBUF, &mut b).context("DQBUF")?;
        ioctl(&dev, VIDIOC_QBUF, &mut b).context("QBUF")?;
        qbufs += 1;
    }
    ioctl(&dev, VIDIOC_STREAMOFF, &mut kind).context("STREAMOFF")?;
    Ok(Streamed {
        device,
        pid: std::process::id(),
        buffers: req.count,
        frames,
        qbufs,
        exported: exported.len() as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The encodings videodev2.h gives on 64-bit kernels.
    #[test]
    fn ioctl_numbers_match_videodev2() {
        assert_eq!(VIDIOC_QUERYCAP, 0x8068_5600);
        assert_eq!(VIDIOC_REQBUFS, 0xc014_5608);
        assert_eq!(VIDIOC_G_FMT, 0xc0d0_5604);
        assert_eq!(VIDIOC_QBUF, 0xc058_560f);
        assert_eq!(VIDIOC_EXPBUF, 0xc040_5610);
        assert_eq!(VIDIOC_DQBUF, 0xc058_5611);
        assert_eq!(VIDIOC_STREAMON, 0x4004_5612);
    }
}
