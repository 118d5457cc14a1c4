//! Where the kernel keeps what names a videobuf2 queue: its type and device
//! in `struct vb2_queue`, the device's driver, and the video node of the
//! file handle that owns the queue. From BTF where the kernel has it (the
//! modules' too: videobuf2 and the V4L2 core are modules on distribution
//! kernels); else only what has not moved since videobuf2 began, the rest
//! unknown, so the kernel side leaves that name empty instead of guessing.
use fencescope_btf::Btf;
use fencescope_schema::OFFSET_UNKNOWN;
use serde::{Deserialize, Serialize};

/// Byte offsets the vb2 QBUF program reads at ([`OFFSET_UNKNOWN`] where not known).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vb2Layout {
    /// `vb2_queue.type`.
    pub queue_type: u32,
    /// `vb2_queue.dev`.
    pub queue_dev: u32,
    /// `vb2_queue.owner`.
    pub queue_owner: u32,
    /// `device.driver`.
    pub device_driver: u32,
    /// `v4l2_fh.vdev`.
    pub fh_vdev: u32,
    /// `video_device.dev`.
    pub vdev_dev: u32,
    /// `video_device.dev_parent`.
    pub vdev_dev_parent: u32,
    /// Where the offsets came from, for `probe`.
    pub source: String,
}

impl Vb2Layout {
    /// Without BTF. `type`, `io_modes` and `dev` open `struct vb2_queue`, and
    /// a `list_head` opens `struct v4l2_fh`, on every kernel with vb2; the
    /// queue's `owner` follows one word of flag bits, a `dma_attrs` and the
    /// lock pointer on every kernel from 6.1 to 6.12 (read from their
    /// sources). `device.driver` and `video_device.dev` move with the
    /// config: unknown.
    pub fn table() -> Vb2Layout {
        Vb2Layout {
            queue_type: 0,
            queue_dev: 8,
            queue_owner: 32,
            device_driver: OFFSET_UNKNOWN,
            fh_vdev: 16,
            vdev_dev: OFFSET_UNKNOWN,
            vdev_dev_parent: OFFSET_UNKNOWN,
            source: "table".into(),
        }
    }

    /// Each offset from the first of `btfs` whose struct has the member,
    /// the table's where none has.
    pub fn from_btf(btfs: &[&Btf]) -> Vb2Layout {
        let t = Vb2Layout::table();
        let mut found = 0;
        let mut at = |ty: &str, member: &str, fallback: u32| match btfs
            .iter()
            .find_map(|b| b.member_offset(ty, member))
        {
            Some(o) => {
                found += 1;
                o
            }
            None => fallback,
        };
        let mut l = Vb2Layout {
            queue_type: at("vb2_queue", "type", t.queue_type),
            queue_dev: at("vb2_queue", "dev", t.queue_dev),
            queue_owner: at("vb2_queue", "owner", t.queue_owner),
            device_driver: at("device", "driver", t.device_driver),
            fh_vdev: at("v4l2_fh", "vdev", t.fh_vdev),
            vdev_dev: at("video_device", "dev", t.vdev_dev),
            vdev_dev_parent: at("video_device", "dev_parent", t.vdev_dev_parent),
            source: String::new(),
        };
        l.source = format!("BTF ({found} of 7 offsets; the rest from the table)");
        if found == 7 {
            l.source = "BTF".into();
        }
        l
    }
}

/// The modules whose BTF holds the structs read here where they are not
/// built in: videobuf2's core and the V4L2 core.
const MODULES: [&str; 2] = ["videobuf2_common", "videodev"];

/// From the kernel's BTF (`vmlinux`, read once per start, None without it
/// or with `--no-btf`) and the modules' that are loaded, else the table. A
/// module loaded after fencescope started is not seen: its offsets stay the
/// table's.
pub fn resolve(vmlinux: Option<&[u8]>) -> Vb2Layout {
    let Some(Ok(base)) = vmlinux.map(Btf::parse) else { return Vb2Layout::table() };
    let modules: Vec<Vec<u8>> =
        MODULES.iter().filter_map(|m| std::fs::read(format!("/sys/kernel/btf/{m}")).ok()).collect();
    let split: Vec<Btf> = modules.iter().filter_map(|d| Btf::parse_split(d, &base).ok()).collect();
    let mut all: Vec<&Btf> = split.iter().collect();
    all.push(&base);
    Vb2Layout::from_btf(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_btf_only_what_never_moved_is_known() {
        let t = Vb2Layout::table();
        assert_eq!((t.queue_type, t.queue_dev, t.fh_vdev), (0, 8, 16));
        assert_eq!((t.device_driver, t.vdev_dev), (OFFSET_UNKNOWN, OFFSET_UNKNOWN));
        assert_eq!(t.vdev_dev_parent, OFFSET_UNKNOWN);
    }

    /// On a machine whose kernel has BTF, `struct device` is in vmlinux:
    /// the driver's offset is found there.
    #[test]
    fn this_machines_btf_has_the_devices_driver() {
        let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else { return };
        let btf = Btf::parse(&data).unwrap();
        let l = Vb2Layout::from_btf(&[&btf]);
        assert_ne!(l.device_driver, OFFSET_UNKNOWN, "{l:?}");
        assert_eq!(l.device_driver % 8, 0);
    }
}
