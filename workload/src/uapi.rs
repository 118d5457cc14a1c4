//! The few kernel uapi ioctls the workloads use. vgem's are not in Debian's
//! headers; all are plain `_IOC` encodings, the same on x86_64 and arm64.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const fn ioc_rw(ty: u8, nr: u8, size: usize) -> u64 {
    ioc(RW, ty, nr, size)
}

pub const fn ioc_w(ty: u8, nr: u8, size: usize) -> u64 {
    ioc(W, ty, nr, size)
}

const fn ioc(dir: u64, ty: u8, nr: u8, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | ((ty as u64) << 8) | nr as u64
}
const W: u64 = 1;
const RW: u64 = 3;

#[repr(C)]
#[derive(Default)]
pub struct DrmVersion {
    pub major: i32,
    pub minor: i32,
    pub patchlevel: i32,
    pub name_len: usize,
    pub name: u64,
    pub date_len: usize,
    pub date: u64,
    pub desc_len: usize,
    pub desc: u64,
}

#[repr(C)]
#[derive(Default)]
pub struct CreateDumb {
    pub height: u32,
    pub width: u32,
    pub bpp: u32,
    pub flags: u32,
    pub handle: u32,
    pub pitch: u32,
    pub size: u64,
}

#[repr(C)]
#[derive(Default)]
pub struct PrimeHandle {
    pub handle: u32,
    pub flags: u32,
    pub fd: i32,
}

#[repr(C)]
#[derive(Default)]
pub struct VgemFenceAttach {
    pub handle: u32,
    pub flags: u32,
    pub out_fence: u32,
    pub pad: u32,
}

#[repr(C)]
#[derive(Default)]
pub struct VgemFenceSignal {
    pub fence: u32,
    pub flags: u32,
}

#[repr(C)]
#[derive(Default)]
pub struct ExportSyncFile {
    pub flags: u32,
    pub fd: i32,
}

pub const DRM_IOCTL_VERSION: u64 = ioc(RW, b'd', 0x00, size_of::<DrmVersion>());
pub const DRM_IOCTL_MODE_CREATE_DUMB: u64 = ioc(RW, b'd', 0xb2, size_of::<CreateDumb>());
pub const DRM_IOCTL_PRIME_HANDLE_TO_FD: u64 = ioc(RW, b'd', 0x2d, size_of::<PrimeHandle>());
pub const DRM_IOCTL_PRIME_FD_TO_HANDLE: u64 = ioc(RW, b'd', 0x2e, size_of::<PrimeHandle>());
pub const DRM_IOCTL_VGEM_FENCE_ATTACH: u64 = ioc(RW, b'd', 0x41, size_of::<VgemFenceAttach>());
pub const DRM_IOCTL_VGEM_FENCE_SIGNAL: u64 = ioc(W, b'd', 0x42, size_of::<VgemFenceSignal>());
pub const DMA_BUF_IOCTL_EXPORT_SYNC_FILE: u64 = ioc(RW, b'b', 2, size_of::<ExportSyncFile>());

pub const VGEM_FENCE_WRITE: u32 = 1;
pub const DMA_BUF_SYNC_READ: u32 = 1;
pub const DMA_BUF_SYNC_WRITE: u32 = 2;
pub const DRM_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
pub const DRM_RDWR: u32 = libc::O_RDWR as u32;

/// `ioctl(fd, req, arg)`, retried on EINTR.
pub fn ioctl<T>(fd: &impl AsRawFd, req: u64, arg: &mut T) -> io::Result<()> {
    loop {
        // SAFETY: arg is a live repr(C) struct of the size encoded in req.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Wraps a file descriptor the kernel just returned.
pub fn owned(fd: i32) -> OwnedFd {
    // SAFETY: the kernel handed us this fd and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The numbers the kernel headers encode (_IOWR of the uapi structs): a
    // wrong size in a struct here would change them.
    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        assert_eq!(DMA_BUF_IOCTL_EXPORT_SYNC_FILE, 0xc008_6202);
        assert_eq!(DRM_IOCTL_MODE_CREATE_DUMB, 0xc020_64b2);
        assert_eq!(DRM_IOCTL_PRIME_HANDLE_TO_FD, 0xc00c_642d);
        assert_eq!(DRM_IOCTL_PRIME_FD_TO_HANDLE, 0xc00c_642e);
        assert_eq!(DRM_IOCTL_VERSION, 0xc040_6400);
        assert_eq!(DRM_IOCTL_VGEM_FENCE_ATTACH, 0xc010_6441);
        assert_eq!(DRM_IOCTL_VGEM_FENCE_SIGNAL, 0x4008_6442);
    }
}
