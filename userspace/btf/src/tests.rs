use super::*;

/// Builds a BTF blob: strings and type records as the kernel lays them out.
#[derive(Default)]
struct Blob {
    strings: Vec<u8>,
    types: Vec<u8>,
    next_id: u32,
    str_base: u32,
}

impl Blob {
    fn new() -> Blob {
        Blob { strings: vec![0], types: Vec::new(), next_id: 1, str_base: 0 }
    }

    /// A module's blob on top of `base`: ids and string offsets go on
    /// from the base's.
    fn split(base: &Blob) -> Blob {
        Blob {
            strings: Vec::new(),
            types: Vec::new(),
            next_id: base.next_id,
            str_base: base.str_base + base.strings.len() as u32,
        }
    }

    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.str_base + self.strings.len() as u32;
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

#[test]
fn lookups_match_whole_names_first_in_id_order() {
    // Lookups scan instead of an index: a name that only starts or ends the
    // same, a declaration without members, an anonymous struct and a later
    // namesake must not be taken for the one asked about.
    let mut b = Blob::new();
    let u32t = b.int("u32", 4);
    b.record("dma_fence", 7, 0, false, 0);
    b.strukt(STRUCT, "dma_fence_chain", 4, &[("context", u32t, 0)]);
    b.strukt(STRUCT, "my_dma_fence", 4, &[("context", u32t, 0)]);
    b.strukt(STRUCT, "", 4, &[("context", u32t, 0)]);
    b.strukt(STRUCT, "dma_fence", 8, &[("seqno", u32t, 0), ("context", u32t, 32)]);
    b.strukt(STRUCT, "dma_fence", 4, &[("context", u32t, 0)]);
    b.enumeration("dma_fence_flag_bits_old", &[("DMA_FENCE_FLAG_SIGNALED_BIT", 9)]);
    b.enumeration("dma_fence_flag_bits", &[("DMA_FENCE_FLAG_SIGNALED_BIT", 3)]);
    let data = b.bytes();
    let btf = Btf::parse(&data).unwrap();
    assert_eq!(btf.member_offset("dma_fence", "context"), Some(4));
    assert_eq!(btf.member_offset("dma_fence_chain", "context"), Some(0));
    assert_eq!(btf.member_offset("dma_fenc", "context"), None);
    assert_eq!(btf.member_offset("", "context"), None);
    assert_eq!(btf.enum_value("dma_fence_flag_bits", "DMA_FENCE_FLAG_SIGNALED_BIT"), Some(3));
    assert_eq!(btf.enum_value("dma_fence_flag", "DMA_FENCE_FLAG_SIGNALED_BIT"), None);
}

/// A module's split BTF: its struct is found, its members' names come from
/// its own strings and the base's, and an anonymous member of a base type
/// is looked into; a struct only the base has is found through the module.
#[test]
fn split_btf_continues_the_base() {
    let mut base = Blob::new();
    let u64t = base.int("u64", 8);
    let ptr = base.record("", 2, 0, false, u64t);
    let anon = base.strukt(STRUCT, "", 16, &[("lock", ptr, 0), ("owner", ptr, 64)]);
    base.strukt(STRUCT, "device", 64, &[("kobj", ptr, 0), ("driver", ptr, 320)]);
    let base_bytes = base.bytes();
    let mut module = Blob::split(&base);
    let u32t = module.int("u32", 4);
    module.strukt(
        STRUCT,
        "vb2_queue",
        64,
        &[("type", u32t, 0), ("dev", ptr, 64), ("", anon, 192), ("ops", ptr, 320)],
    );
    let module_bytes = module.bytes();
    let vmlinux = Btf::parse(&base_bytes).unwrap();
    let split = Btf::parse_split(&module_bytes, &vmlinux).unwrap();
    assert_eq!(split.member_offset("vb2_queue", "type"), Some(0));
    assert_eq!(split.member_offset("vb2_queue", "dev"), Some(8));
    assert_eq!(split.member_offset("vb2_queue", "owner"), Some(32));
    assert_eq!(split.member_offset("vb2_queue", "ops"), Some(40));
    assert_eq!(split.member_offset("device", "driver"), Some(40));
    assert_eq!(vmlinux.member_offset("vb2_queue", "type"), None);
    // Parsed on its own, the module's names are not where it says.
    let alone = Btf::parse(&module_bytes).unwrap();
    assert_eq!(alone.member_offset("vb2_queue", "dev"), None);
}

/// This machine's modules' BTF, where it has some, parses on its vmlinux.
#[test]
fn reads_this_machines_module_btf_where_there_is_some() {
    let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else { return };
    let vmlinux = Btf::parse(&data).unwrap();
    let Ok(dir) = std::fs::read_dir("/sys/kernel/btf") else { return };
    for m in dir.flatten().filter(|e| e.file_name() != "vmlinux").take(20) {
        let bytes = std::fs::read(m.path()).unwrap();
        Btf::parse_split(&bytes, &vmlinux).unwrap_or_else(|e| panic!("{:?}: {e}", m.path()));
    }
}
