//! Where `struct dma_fence` keeps what the eBPF programs read, and which bit
//! of its flags says "signalled". From the running kernel's BTF where it has
//! one; else from a table of the kernels fencescope was checked on. Never a
//! bare constant: the flag bits moved in 6.17 (SEQNO64 became bit 0) and
//! again by 7.2.
use anyhow::{Result, bail};
use fencescope_btf::Btf;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// The offsets the programs read fences at, and where they came from.
pub struct FenceLayout {
    /// Offset of `context` (u64).
    pub context: u32,
    /// Offset of `seqno` (u64).
    pub seqno: u32,
    /// Offset of `flags` (unsigned long).
    pub flags: u32,
    /// `DMA_FENCE_FLAG_SIGNALED_BIT`; None where neither BTF nor the table
    /// knows it for this kernel. The destroy program reads it to tell a lost
    /// signal record from a fence that never signalled; without it, it says
    /// it cannot tell rather than guess.
    pub signaled_bit: Option<u32>,
    /// "BTF" or "table …": said by `probe` and kept in captures.
    pub source: String,
}

/// A row of the table: the layout read from the BTF of the kernels it was
/// seen on, valid for the versions `from..=to`.
struct Known {
    from: (u32, u32),
    to: (u32, u32),
    context: u32,
    seqno: u32,
    flags: u32,
    signaled_bit: u32,
    seen_on: &'static str,
}

#[rustfmt::skip]
/// Read from kernels' BTF: Debian's in the test VM (`fencescope probe`
/// prints it; the VM tests check each row against BTF) and the development
/// machine's 6.18. Versions between rows are not guessed: offsets come from
/// the nearest older row (they have not moved since 6.1), the bit stays
/// unknown.
const TABLE: &[Known] = &[
    Known { from: (6, 1), to: (6, 16), context: 32, seqno: 40, flags: 48, signaled_bit: 0, seen_on: "6.1.0-50, 6.12.117" },
    Known { from: (6, 17), to: (6, 18), context: 32, seqno: 40, flags: 48, signaled_bit: 1, seen_on: "6.18.44" },
    Known { from: (7, 2), to: (7, 2), context: 32, seqno: 40, flags: 48, signaled_bit: 3, seen_on: "7.2.13" },
];

/// `6.12.117+deb13-amd64` → (6, 12).
pub fn version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The layout read from a kernel BTF blob (`/sys/kernel/btf/vmlinux`).
pub fn from_btf(data: &[u8]) -> Result<FenceLayout> {
    let btf = Btf::parse(data)?;
    let member = |m: &str| {
        btf.member_offset("dma_fence", m)
            .ok_or_else(|| anyhow::anyhow!("kernel BTF has no struct dma_fence member {m}"))
    };
    let bit = btf
        .enum_value("dma_fence_flag_bits", "DMA_FENCE_FLAG_SIGNALED_BIT")
        .ok_or_else(|| anyhow::anyhow!("kernel BTF has no DMA_FENCE_FLAG_SIGNALED_BIT"))?;
    Ok(FenceLayout {
        context: member("context")?,
        seqno: member("seqno")?,
        flags: member("flags")?,
        signaled_bit: Some(bit as u32),
        source: "BTF".into(),
    })
}

/// The layout from the table, for a kernel without BTF (or `--no-btf`).
pub fn from_table(release: &str) -> Result<FenceLayout> {
    let Some(v) = version(release) else {
        bail!("cannot read a version from kernel release {release:?}");
    };
    let Some(k) = TABLE.iter().rev().find(|k| v >= k.from) else {
        bail!(
            "kernel {release} is older than any fencescope knows (6.1) and has no BTF: \
             boot it with CONFIG_DEBUG_INFO_BTF=y or use a newer kernel"
        );
    };
    let exact = v <= k.to;
    Ok(FenceLayout {
        context: k.context,
        seqno: k.seqno,
        flags: k.flags,
        signaled_bit: exact.then_some(k.signaled_bit),
        source: if exact {
            format!("table, as seen on {}", k.seen_on)
        } else {
            format!("table: no row for {}.{}, offsets as on {}, bit unknown", v.0, v.1, k.seen_on)
        },
    })
}

/// From the kernel's BTF blob where there is one to use, else the table.
pub fn resolve(release: &str, btf: Option<&[u8]>) -> Result<FenceLayout> {
    match btf {
        Some(data) => from_btf(data),
        None => from_table(release),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_distribution_releases() {
        assert_eq!(version("6.12.117+deb13-amd64"), Some((6, 12)));
        assert_eq!(version("6.1.0-50-arm64"), Some((6, 1)));
        assert_eq!(version("7.2.13+deb14-amd64"), Some((7, 2)));
        assert_eq!(version("6.19.10-1-ARCH"), Some((6, 19)));
        assert_eq!(version("garbage"), None);
    }

    #[test]
    fn the_table_moves_the_signalled_bit_and_does_not_guess() {
        assert_eq!(from_table("6.12.117+deb13-amd64").unwrap().signaled_bit, Some(0));
        assert_eq!(from_table("6.16.0").unwrap().signaled_bit, Some(0));
        assert_eq!(from_table("6.17.1").unwrap().signaled_bit, Some(1));
        assert_eq!(from_table("7.2.13+deb14-amd64").unwrap().signaled_bit, Some(3));
        // The board's 6.19 falls between rows: offsets yes, the bit unknown.
        let board = from_table("6.19.10-1-ARCH").unwrap();
        assert_eq!((board.context, board.seqno, board.signaled_bit), (32, 40, None));
        assert!(board.source.contains("unknown"), "{}", board.source);
        let e = from_table("5.15.0").unwrap_err().to_string();
        assert!(e.contains("older than") && e.contains("BTF"), "{e}");
    }

    #[test]
    fn this_machines_btf_agrees_with_the_table() {
        let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else { return };
        let release = crate::kernel::release();
        let btf = from_btf(&data).unwrap();
        let table = from_table(&release).unwrap();
        assert_eq!((btf.context, btf.seqno, btf.flags), (table.context, table.seqno, table.flags));
        if table.signaled_bit.is_some() {
            assert_eq!(
                btf.signaled_bit, table.signaled_bit,
                "kernel {release}: the table is wrong"
            );
        }
    }
}
