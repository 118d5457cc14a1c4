//! An upstream mem2mem converter (vim2m) writing into buffers it did not
//! allocate: the Wayland client's vgem dumb buffers, imported as DMABUF
//! CAPTURE buffers. With the series (kernel/patches) each queued CAPTURE
//! buffer gets a release fence on the imported dma-buf's own reservation
//! object, so a compositor that was handed the buffer waits on it until the
//! converter's job is done; before the series it finds no fence.
//!
//! Both queues take RGB565 at twice the Wayland buffer's width: a row is
//! then as many bytes as an XRGB8888 row of the buffer, so the converter
//! fills it exactly. The compositor shows the bytes as XRGB8888; what the
//! pixels look like is beside the point, when they are written is not.
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::clock::Clock;
use crate::uapi::{ioc_rw, ioctl};
use crate::v4l2::{
    BUF_TYPE_VIDEO_CAPTURE, Buffer, MEMORY_MMAP, RequestBuffers, VIDIOC_DQBUF, VIDIOC_QBUF,
    VIDIOC_REQBUFS, VIDIOC_STREAMON, find_device,
};

const BUF_TYPE_VIDEO_OUTPUT: u32 = 2;
const MEMORY_DMABUF: u32 = 4;
const CAP_VIDEO_M2M: u32 = 0x8000;
/// V4L2_PIX_FMT_RGB565 ('RGBP'): two bytes a pixel.
const RGB565: u32 = 0x5042_4752;
/// The converter finishes a job `default_transtime` after it starts it, as
/// a delayed work counted in jiffies: up to one tick (10 ms at HZ 100, the
/// coarsest) sooner than the milliseconds say.
pub const TICK_SLACK: Duration = Duration::from_millis(10);

/// `struct v4l2_pix_format`, the single-planar member of `v4l2_format`.
#[repr(C)]
#[derive(Default, Clone, Copy, Debug)]
struct PixFormat {
    width: u32,
    height: u32,
    pixelformat: u32,
    field: u32,
    bytesperline: u32,
    sizeimage: u32,
    colorspace: u32,
    private: u32,
    flags: u32,
    ycbcr_enc: u32,
    quantization: u32,
    xfer_func: u32,
}

/// `struct v4l2_format` on 64-bit kernels: the union is 200 bytes, 8-aligned.
#[repr(C)]
struct Format {
    kind: u32,
    pad: u32,
    pix: PixFormat,
    rest: [u8; 200 - size_of::<PixFormat>()],
}

const VIDIOC_S_FMT: u64 = ioc_rw(b'V', 5, size_of::<Format>());

/// The converter and the dma-bufs its CAPTURE queue writes.
pub struct Converter {
    node: File,
    size: u32,
    /// Its job time: vim2m's `default_transtime` parameter.
    pub job: Duration,
    /// The series' mode parameter (`none`, `queue`, `run`), if it has one.
    pub mode: String,
}

fn param(driver: &str, name: &str) -> String {
    std::fs::read_to_string(format!("/sys/module/{driver}/parameters/{name}"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn set_format(node: &File, kind: u32, width: u32, height: u32) -> Result<PixFormat> {
    let mut f = Format {
        kind,
        pad: 0,
        pix: PixFormat { width, height, pixelformat: RGB565, ..Default::default() },
        rest: [0; 200 - size_of::<PixFormat>()],
    };
    ioctl(node, VIDIOC_S_FMT, &mut f).context("S_FMT")?;
    Ok(f.pix)
}

impl Converter {
    /// Opens `driver`'s node and gives it the `buffers` dma-bufs (each
    /// `width` × `height` XRGB8888 rows of `pitch` bytes) as its CAPTURE
    /// buffers, index for index.
    pub fn open(
        driver: &str,
        width: u32,
        height: u32,
        pitch: u32,
        buffers: u32,
    ) -> Result<Converter> {
        let (node, path) = find_device(driver, CAP_VIDEO_M2M)?;
        let want = (width * 2, height);
        for kind in [BUF_TYPE_VIDEO_OUTPUT, BUF_TYPE_VIDEO_CAPTURE] {
            let got = set_format(&node, kind, want.0, want.1)?;
            if (got.width, got.height, got.pixelformat) != (want.0, want.1, RGB565) {
                bail!(
                    "{path} takes no RGB565 {}x{} (it offered {}x{} {:#x}): pick a buffer size \
                     the converter supports with --width/--height",
                    want.0,
                    want.1,
                    got.width,
                    got.height,
                    got.pixelformat
                );
            }
            if kind == BUF_TYPE_VIDEO_CAPTURE && got.bytesperline != pitch {
                bail!(
                    "{path} writes rows of {} bytes, the buffers have {pitch}: pick another --width",
                    got.bytesperline
                );
            }
        }
        let size = pitch * height;
        for (kind, memory) in
            [(BUF_TYPE_VIDEO_OUTPUT, MEMORY_MMAP), (BUF_TYPE_VIDEO_CAPTURE, MEMORY_DMABUF)]
        {
            let mut req = RequestBuffers { count: buffers, kind, memory, ..Default::default() };
            ioctl(&node, VIDIOC_REQBUFS, &mut req).context("REQBUFS")?;
            if req.count != buffers {
                bail!("{path} gave {} buffers of {buffers} asked for", req.count);
            }
        }
        for kind in [BUF_TYPE_VIDEO_OUTPUT, BUF_TYPE_VIDEO_CAPTURE] {
            let mut k = kind as i32;
            ioctl(&node, VIDIOC_STREAMON, &mut k).context("STREAMON")?;
        }
        let job_ms: f64 = param(driver, "default_transtime").parse().unwrap_or(0.0);
        Ok(Converter {
            node,
            size,
            job: Duration::from_secs_f64(job_ms / 1e3),
            mode: param(driver, "mode"),
        })
    }

    /// Queues a job writing `dmabuf` as CAPTURE buffer `index`: its OUTPUT
    /// first, as a decoder has its bitstream before a frame to decode into,
    /// so the job starts as the CAPTURE buffer is queued. vim2m runs the job
    /// inside that QBUF (it converts the frame, then finishes the job its
    /// transaction time later), so the returned time, the QBUF's return, is
    /// the earliest its transaction time can start from.
    pub fn start(&self, index: u32, dmabuf: BorrowedFd) -> Result<Duration> {
        let mut out = Buffer {
            index,
            kind: BUF_TYPE_VIDEO_OUTPUT,
            memory: MEMORY_MMAP,
            bytesused: self.size,
            ..Default::default()
        };
        ioctl(&self.node, VIDIOC_QBUF, &mut out).context("QBUF OUTPUT")?;
        let mut cap = Buffer {
            index,
            kind: BUF_TYPE_VIDEO_CAPTURE,
            memory: MEMORY_DMABUF,
            // The union's fd member.
            offset: dmabuf.as_raw_fd() as u32 as u64,
            length: self.size,
            ..Default::default()
        };
        ioctl(&self.node, VIDIOC_QBUF, &mut cap).context("QBUF CAPTURE (DMABUF)")?;
        Ok(Clock::monotonic().now())
    }

    /// A thread that waits for the job's CAPTURE buffer and then its OUTPUT,
    /// and returns when the CAPTURE buffer came back (just after the
    /// driver's buffer done, which signals the series' fence).
    pub fn finish(&self) -> Result<std::thread::JoinHandle<Result<Duration>>> {
        let node = self.node.try_clone()?;
        Ok(std::thread::spawn(move || {
            let dq = |kind, memory| {
                let mut b = Buffer { kind, memory, ..Default::default() };
                ioctl(&node, VIDIOC_DQBUF, &mut b).context("DQBUF")
            };
            dq(BUF_TYPE_VIDEO_CAPTURE, MEMORY_DMABUF)?;
            let done = Clock::monotonic().now();
            dq(BUF_TYPE_VIDEO_OUTPUT, MEMORY_MMAP)?;
            Ok(done)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_ioctl_has_the_kernels_number() {
        // _IOWR('V', 5, struct v4l2_format) with the 208-byte struct.
        assert_eq!(size_of::<Format>(), 208);
        assert_eq!(VIDIOC_S_FMT, 0xc0d0_5605);
    }
}
