use super::*;

/// Builds a BTF blob: strings and type records as the kernel lays them out.
#[derive(Default)]
struct Blob {
    strings: Vec<u8>,
    types: Vec<u8>,
    next_id: u32,
}

impl Blob {
    fn new() -> Blob {
        Blob { strings: vec![0], types: Vec::new(), next_id: 1 }
    }

    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }

    fn u32s(&mut self, v: &[u32]) {
        for x in v {
            self.types.extend_from_slice(&x.to_le_bytes());
        }
    }

    fn record(
        &mut self,
        name: &str,
        kind: u32,
        vlen: u32,
        kind_flag: bool,
        size_or_type: u32,
    ) -> u32 {
        let n = self.s(name);
        let info = (u32::from(kind_flag) << 31) | (kind << 24) | vlen;
        self.u32s(&[n, info, size_or_type]);
        self.next_id += 1;
        self.next_id - 1
    }

    fn int(&mut self, name: &str, size: u32) -> u32 {
        let id = self.record(name, INT, 0, false, size);
        self.u32s(&[size * 8]);
        id
    }

    /// members: (name, type id, bit offset)
    fn strukt(&mut self, kind: u32, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let id = self.record(name, kind, members.len() as u32, false, size);
        for (m, ty, bits) in members {
            let n = self.s(m);
            self.u32s(&[n, *ty, *bits]);
        }
        id
    }

    fn enumeration(&mut self, name: &str, values: &[(&str, i32)]) -> u32 {
        let id = self.record(name, ENUM, values.len() as u32, false, 4);
        for (v, x) in values {
            let n = self.s(v);
            self.u32s(&[n, *x as u32]);
        }
        id
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for v in
            [24u32, 0, self.types.len() as u32, self.types.len() as u32, self.strings.len() as u32]
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// `struct dma_fence` as 6.12's BTF lays it out (the layout table's row),
/// with its anonymous union, and the 6.17+ flag bits.
fn fence_blob() -> Vec<u8> {
    let mut b = Blob::new();
    let u64t = b.int("u64", 8);
    let ptr = b.record("", 2, 0, false, u64t);
    let list = b.strukt(STRUCT, "list_head", 16, &[("next", ptr, 0), ("prev", ptr, 64)]);
    let ktime = b.record("ktime_t", 8, 0, false, u64t);
    let union = b.strukt(UNION, "", 16, &[("cb_list", list, 0), ("timestamp", ktime, 0)]);
    b.strukt(
        STRUCT,
        "dma_fence",
        64,
        &[
            ("lock", ptr, 0),
            ("ops", ptr, 64),
            ("", union, 128),
            ("context", u64t, 256),
            ("seqno", u64t, 320),
            ("flags", u64t, 384),
        ],
    );
    // A forward-declared twin must not shadow the real one.
    b.record("dma_fence", 7, 0, false, 0);
    b.enumeration(
        "dma_fence_flag_bits",
        &[
            ("DMA_FENCE_FLAG_SEQNO64_BIT", 0),
            ("DMA_FENCE_FLAG_SIGNALED_BIT", 1),
            ("DMA_FENCE_FLAG_TIMESTAMP_BIT", 2),
        ],
    );
    b.bytes()
}

#[test]
fn finds_members_and_enumerators() {
    let data = fence_blob();
    let btf = Btf::parse(&data).unwrap();
    assert_eq!(btf.member_offset("dma_fence", "context"), Some(32));
    assert_eq!(btf.member_offset("dma_fence", "seqno"), Some(40));
    assert_eq!(btf.member_offset("dma_fence", "flags"), Some(48));
    // Inside the anonymous union.
    assert_eq!(btf.member_offset("dma_fence", "timestamp"), Some(16));
    assert_eq!(btf.member_offset("dma_fence", "nope"), None);
    assert_eq!(btf.member_offset("no_such_struct", "context"), None);
    assert_eq!(btf.enum_value("dma_fence_flag_bits", "DMA_FENCE_FLAG_SIGNALED_BIT"), Some(1));
    assert_eq!(btf.enum_value("dma_fence_flag_bits", "DMA_FENCE_FLAG_NOPE"), None);
}

#[test]
fn bad_blobs_are_errors_not_panics() {
    assert_eq!(Btf::parse(&[]).err(), Some(Error::Short(0)));
    let mut data = fence_blob();
    data[0] = 0;
    assert_eq!(Btf::parse(&data).err(), Some(Error::Magic));
    let data = fence_blob();
    for cut in 0..data.len() {
        let _ = Btf::parse(&data[..cut]);
    }
    // Every single-byte corruption: parse or fail, never panic.
    for i in 0..data.len() {
        let mut d = data.clone();
        d[i] ^= 0xa5;
        if let Ok(btf) = Btf::parse(&d) {
            let _ = btf.member_offset("dma_fence", "seqno");
            let _ = btf.enum_value("dma_fence_flag_bits", "DMA_FENCE_FLAG_SIGNALED_BIT");
        }
    }
}

#[test]
fn reads_this_machines_btf_where_there_is_one() {
    // Not a mock: on a machine with BTF the real blob must parse and name
    // dma_fence's members; without BTF there is nothing to check.
    let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else { return };
    let btf = Btf::parse(&data).expect("the running kernel's BTF parses");
    assert_eq!(btf.member_offset("dma_fence", "context"), Some(32));
    assert!(btf.enum_value("dma_fence_flag_bits", "DMA_FENCE_FLAG_SIGNALED_BIT").is_some());
}
