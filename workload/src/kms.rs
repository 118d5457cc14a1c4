//! A KMS consumer for the m2m client's buffers: each CAPTURE dma-buf is
//! imported into vkms (PRIME) as a framebuffer, and a hand-over commits it
//! to the CRTC with a legacy SETCRTC. That is a blocking atomic commit, so
//! the kernel's atomic helper waits, in the calling thread, on the
//! buffer's WRITE fences (`drm_atomic_helper_wait_for_fences`): the
//! series' release fence. The consumer is the kernel's; only the calls
//! that lead to it are ours.
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result, bail};

use crate::uapi::*;
use crate::v4l2::PixFormat;

/// `struct drm_mode_modeinfo`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ModeInfo {
    pub clock: u32,
    pub hdisplay: u16,
    pub hsync_start: u16,
    pub hsync_end: u16,
    pub htotal: u16,
    pub hskew: u16,
    pub vdisplay: u16,
    pub vsync_start: u16,
    pub vsync_end: u16,
    pub vtotal: u16,
    pub vscan: u16,
    pub vrefresh: u32,
    pub flags: u32,
    pub kind: u32,
    pub name: [u8; 32],
}

/// `struct drm_mode_card_res`.
#[repr(C)]
#[derive(Default)]
pub struct CardRes {
    pub fb_id_ptr: u64,
    pub crtc_id_ptr: u64,
    pub connector_id_ptr: u64,
    pub encoder_id_ptr: u64,
    pub count_fbs: u32,
    pub count_crtcs: u32,
    pub count_connectors: u32,
    pub count_encoders: u32,
    pub min_width: u32,
    pub max_width: u32,
    pub min_height: u32,
    pub max_height: u32,
}

/// `struct drm_mode_get_connector`.
#[repr(C)]
#[derive(Default)]
pub struct GetConnector {
    pub encoders_ptr: u64,
    pub modes_ptr: u64,
    pub props_ptr: u64,
    pub prop_values_ptr: u64,
    pub count_modes: u32,
    pub count_props: u32,
    pub count_encoders: u32,
    pub encoder_id: u32,
    pub connector_id: u32,
    pub connector_type: u32,
    pub connector_type_id: u32,
    pub connection: u32,
    pub mm_width: u32,
    pub mm_height: u32,
    pub subpixel: u32,
    pub pad: u32,
}

/// `struct drm_mode_crtc`.
#[repr(C)]
#[derive(Default)]
pub struct SetCrtc {
    pub set_connectors_ptr: u64,
    pub count_connectors: u32,
    pub crtc_id: u32,
    pub fb_id: u32,
    pub x: u32,
    pub y: u32,
    pub gamma_size: u32,
    pub mode_valid: u32,
    pub mode: ModeInfo,
}

/// `struct drm_mode_fb_cmd2`.
#[repr(C)]
#[derive(Default)]
pub struct FbCmd2 {
    pub fb_id: u32,
    pub width: u32,
    pub height: u32,
    pub pixel_format: u32,
    pub flags: u32,
    pub handles: [u32; 4],
    pub pitches: [u32; 4],
    pub offsets: [u32; 4],
    pub modifier: [u64; 4],
}

pub const DRM_IOCTL_MODE_GETRESOURCES: u64 = ioc_rw(b'd', 0xa0, size_of::<CardRes>());
pub const DRM_IOCTL_MODE_SETCRTC: u64 = ioc_rw(b'd', 0xa2, size_of::<SetCrtc>());
pub const DRM_IOCTL_MODE_GETCONNECTOR: u64 = ioc_rw(b'd', 0xa7, size_of::<GetConnector>());
pub const DRM_IOCTL_MODE_ADDFB2: u64 = ioc_rw(b'd', 0xb8, size_of::<FbCmd2>());

const fn fourcc(c: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*c)
}

/// The DRM format of a V4L2 pixel format, for the formats vim2m writes.
fn drm_format(v4l2: u32) -> Option<u32> {
    match &v4l2.to_le_bytes() {
        b"RGBP" => Some(fourcc(b"RG16")),
        b"RGB3" => Some(fourcc(b"BG24")),
        b"BGR3" => Some(fourcc(b"RG24")),
        _ => None,
    }
}

/// vkms's card, its first connector and CRTC, and a mode of the frames' size.
pub struct Display {
    card: File,
    crtc: u32,
    connector: u32,
    mode: ModeInfo,
    fbs: Vec<u32>,
}

impl Display {
    /// Opens the vkms card (becoming its DRM master) and imports `bufs`,
    /// dma-bufs of frames in `format`, as framebuffers.
    pub fn open(bufs: &[OwnedFd], format: PixFormat) -> Result<Display> {
        let card = open_card("vkms")?;
        let (crtc, connector) = first_crtc_and_connector(&card)?;
        let mode = mode_of_size(&card, connector, format.width, format.height)?;
        let pixel_format = drm_format(format.pixelformat).with_context(|| {
            let f = String::from_utf8_lossy(&format.pixelformat.to_le_bytes()).into_owned();
            format!("no KMS format for the CAPTURE format {f:?}")
        })?;
        let mut fbs = Vec::new();
        for buf in bufs {
            let mut p = PrimeHandle { fd: buf.as_raw_fd(), ..Default::default() };
            ioctl(&card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &mut p).context("PRIME_FD_TO_HANDLE")?;
            let mut fb = FbCmd2 {
                width: format.width,
                height: format.height,
                pixel_format,
                ..Default::default()
            };
            fb.handles[0] = p.handle;
            fb.pitches[0] = format.bytesperline;
            ioctl(&card, DRM_IOCTL_MODE_ADDFB2, &mut fb).context("ADDFB2")?;
            fbs.push(fb.fb_id);
        }
        Ok(Display { card, crtc, connector, mode, fbs })
    }

    /// Shows buffer `index`: returns once the commit is done, after the
    /// kernel waited for the buffer's fences.
    pub fn show(&self, index: usize) -> Result<()> {
        let fb_id = *self.fbs.get(index).context("no such buffer")?;
        let connectors = [self.connector];
        let mut c = SetCrtc {
            set_connectors_ptr: connectors.as_ptr() as u64,
            count_connectors: 1,
            crtc_id: self.crtc,
            fb_id,
            mode_valid: 1,
            mode: self.mode,
            ..Default::default()
        };
        ioctl(&self.card, DRM_IOCTL_MODE_SETCRTC, &mut c).context("SETCRTC")
    }
}

/// The first DRM card whose driver is `driver`.
pub fn open_card(driver: &str) -> Result<File> {
    let mut cards: Vec<_> = std::fs::read_dir("/dev/dri")
        .context("no /dev/dri")?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("card")))
        .collect();
    cards.sort();
    for path in cards {
        let card = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut name = [0u8; 32];
        let mut v = DrmVersion {
            name_len: name.len(),
            name: name.as_mut_ptr() as u64,
            ..Default::default()
        };
        if ioctl(&card, DRM_IOCTL_VERSION, &mut v).is_ok() && name.starts_with(driver.as_bytes()) {
            return Ok(card);
        }
    }
    bail!(
        "no {driver} card in /dev/dri: load the {driver} module (or boot a kernel with it built in)"
    )
}

fn first_crtc_and_connector(card: &File) -> Result<(u32, u32)> {
    let mut res = CardRes::default();
    ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, &mut res).context("GETRESOURCES")?;
    let mut crtcs = vec![0u32; res.count_crtcs as usize];
    let mut connectors = vec![0u32; res.count_connectors as usize];
    let mut fill = CardRes {
        crtc_id_ptr: crtcs.as_mut_ptr() as u64,
        connector_id_ptr: connectors.as_mut_ptr() as u64,
        count_crtcs: res.count_crtcs,
        count_connectors: res.count_connectors,
        ..Default::default()
    };
    ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, &mut fill).context("GETRESOURCES")?;
    match (crtcs.first(), connectors.first()) {
        (Some(&crtc), Some(&connector)) => Ok((crtc, connector)),
        _ => bail!("the KMS card has no CRTC or no connector"),
    }
}

fn mode_of_size(card: &File, connector: u32, width: u32, height: u32) -> Result<ModeInfo> {
    let mut c = GetConnector { connector_id: connector, ..Default::default() };
    ioctl(card, DRM_IOCTL_MODE_GETCONNECTOR, &mut c).context("GETCONNECTOR")?;
    let mut modes = vec![ModeInfo::default(); c.count_modes as usize];
    let mut fill = GetConnector {
        connector_id: connector,
        modes_ptr: modes.as_mut_ptr() as u64,
        count_modes: c.count_modes,
        ..Default::default()
    };
    ioctl(card, DRM_IOCTL_MODE_GETCONNECTOR, &mut fill).context("GETCONNECTOR")?;
    modes.truncate(fill.count_modes as usize);
    modes
        .into_iter()
        .find(|m| u32::from(m.hdisplay) == width && u32::from(m.vdisplay) == height)
        .with_context(|| format!("the connector has no {width}x{height} mode for the frames"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The encodings drm.h and drm_mode.h give: a wrong struct size here
    // would change them.
    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        assert_eq!(size_of::<ModeInfo>(), 68);
        assert_eq!(DRM_IOCTL_MODE_GETRESOURCES, 0xc040_64a0);
        assert_eq!(DRM_IOCTL_MODE_SETCRTC, 0xc068_64a2);
        assert_eq!(DRM_IOCTL_MODE_GETCONNECTOR, 0xc050_64a7);
        assert_eq!(DRM_IOCTL_MODE_ADDFB2, 0xc068_64b8);
    }

    #[test]
    fn vim2m_formats_map_to_drm_formats() {
        assert_eq!(drm_format(fourcc(b"RGBP")), Some(fourcc(b"RG16")));
        assert_eq!(drm_format(fourcc(b"YUYV")), None);
    }
}
