//! Reads the kernel's BTF (`/sys/kernel/btf/vmlinux`) for the two things
//! fencescope needs from it: where a struct keeps a member, and the value of
//! an enumerator. Pure parsing over a byte slice, no syscalls, so it is
//! tested on blobs built in the tests and on every kernel the VM boots.
//!
//! Format: `include/uapi/linux/btf.h` — a header, a type section of
//! variable-length records (ids from 1), and a string section.
#![deny(missing_docs)]

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why a blob is not BTF this reader can use.
pub enum Error {
    #[error("not BTF (bad magic)")]
    /// The blob does not start with BTF's magic.
    Magic,
    #[error("BTF is cut short at byte {0}")]
    /// The blob ends inside a header, a type or a string.
    Short(usize),
    #[error("BTF type {0} has unknown kind {1}")]
    /// A type of a kind this reader does not know (a newer BTF).
    Kind(u32, u32),
}

const MAGIC: u16 = 0xeb9f;

// Kinds (btf.h BTF_KIND_*).
const INT: u32 = 1;
const ARRAY: u32 = 3;
const STRUCT: u32 = 4;
const UNION: u32 = 5;
const ENUM: u32 = 6;
const FUNC_PROTO: u32 = 13;
const VAR: u32 = 14;
const DATASEC: u32 = 15;
const DECL_TAG: u32 = 17;
const ENUM64: u32 = 19;

// Small: a kernel's BTF has over a hundred thousand types.
#[derive(Clone, Copy, Debug)]
struct Type {
    kind: u32,
    kind_flag: bool,
    vlen: u16,
    /// Byte offset of the kind-specific data after the 12-byte record.
    extra: u32,
    /// A type of the base BTF, seen through a module's split BTF.
    in_base: bool,
}

/// A parsed BTF blob.
pub struct Btf<'a> {
    types: Vec<Type>,
    type_data: &'a [u8],
    strings: &'a [u8],
    /// A module's BTF is split: its ids and string offsets continue the
    /// base's (vmlinux), and its types refer to the base's.
    base: Option<&'a Btf<'a>>,
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, Error> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("four bytes")))
        .ok_or(Error::Short(at))
}

impl<'a> Btf<'a> {
    /// Parses the header and finds where every type is. Names are not
    /// indexed: a start asks for a handful of them out of a hundred thousand,
    /// so each lookup is a scan instead (see the `vmlinux` bench).
    pub fn parse(data: &'a [u8]) -> Result<Btf<'a>, Error> {
        Btf::parse_with(data, None)
    }

    /// Parses a module's BTF (`/sys/kernel/btf/MODULE`), split on top of
    /// `base`, the kernel's: structs a module defines (videobuf2's,
    /// V4L2's on distribution kernels) are found only there.
    pub fn parse_split(data: &'a [u8], base: &'a Btf<'a>) -> Result<Btf<'a>, Error> {
        Btf::parse_with(data, Some(base))
    }

    fn first_id(&self) -> u32 {
        self.base.map_or(1, |b| b.first_id() + b.types.len() as u32)
    }

    fn parse_with(data: &'a [u8], base: Option<&'a Btf<'a>>) -> Result<Btf<'a>, Error> {
        if data.len() < 24 {
            return Err(Error::Short(data.len()));
        }
        if u16::from_le_bytes([data[0], data[1]]) != MAGIC {
            return Err(Error::Magic);
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let (type_off, type_len) = (u32_at(data, 8)? as usize, u32_at(data, 12)? as usize);
        let (str_off, str_len) = (u32_at(data, 16)? as usize, u32_at(data, 20)? as usize);
        let section = |off: usize, len: usize| {
            data.get(hdr_len + off..hdr_len + off + len).ok_or(Error::Short(hdr_len + off + len))
        };
        let type_data = section(type_off, type_len)?;
        let strings = section(str_off, str_len)?;
        let mut types = Vec::new();
        let mut at = 0;
        let first = base.map_or(1, |b| b.first_id() + b.types.len() as u32);
        while at < type_data.len() {
            let id = types.len() as u32 + first;
            // The name is read only when asked for, but a record cut short
            // inside it is refused here all the same.
            u32_at(type_data, at)?;
            let info = u32_at(type_data, at + 4)?;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let extra = at + 12;
            let size = match kind {
                INT | VAR | DECL_TAG => 4,
                ARRAY => 12,
                STRUCT | UNION | DATASEC | ENUM64 => 12 * vlen,
                ENUM | FUNC_PROTO => 8 * vlen,
                2 | 7..=12 | 16 | 18 => 0,
                k => return Err(Error::Kind(id, k)),
            };
            at = extra + size;
            if at > type_data.len() {
                return Err(Error::Short(hdr_len + type_off + at));
            }
            let (vlen, extra) = (vlen as u16, extra as u32);
            types.push(Type { kind, kind_flag: info >> 31 == 1, extra, vlen, in_base: false });
        }
        Ok(Btf { types, type_data, strings, base })
    }

    /// The string at `off`: the base's below its length, else this blob's.
    fn string_bytes(&self, off: u32) -> Option<&'a [u8]> {
        match self.base {
            Some(b) => match (off as usize).checked_sub(b.strings_end()) {
                Some(own) => self.strings.get(own..),
                None => b.string_bytes(off),
            },
            None => self.strings.get(off as usize..),
        }
    }

    fn strings_end(&self) -> usize {
        self.base.map_or(0, |b| b.strings_end()) + self.strings.len()
    }

    fn str_at(&self, off: u32) -> Option<&'a str> {
        let s = self.string_bytes(off)?;
        let end = s.iter().position(|&c| c == 0)?;
        std::str::from_utf8(&s[..end]).ok()
    }

    fn get(&self, id: u32) -> Option<Type> {
        match (self.base, id.checked_sub(self.first_id())) {
            (Some(b), None) => b.get(id).map(|t| Type { in_base: true, ..t }),
            (_, own) => self.types.get(own? as usize).copied(),
        }
    }

    /// The type records `t` lives in: a base type's are the base's.
    fn data(&self, t: Type) -> &'a [u8] {
        match self.base {
            Some(b) if t.in_base => b.type_data,
            _ => self.type_data,
        }
    }

    /// The first type of one of `kinds` with members and this name, in id order.
    fn named(&self, name: &str, kinds: &[u32]) -> Option<Type> {
        if name.is_empty() {
            return None;
        }
        self.types
            .iter()
            .copied()
            .find(|t| kinds.contains(&t.kind) && t.vlen > 0 && self.is_named(*t, name))
    }

    /// Compares bytes, not `str_at`: the whole name and its NUL, without
    /// checking the UTF-8 of every name of the kind on the way.
    fn is_named(&self, t: Type, name: &str) -> bool {
        let Ok(off) = u32_at(self.data(t), t.extra as usize - 12) else { return false };
        let s = self.string_bytes(off).unwrap_or_default();
        s.strip_prefix(name.as_bytes()).is_some_and(|rest| rest.first() == Some(&0))
    }

    /// Byte offset of `member` in `struct name`, looking into anonymous
    /// structs and unions the way C does.
    /// A split BTF looks in its own types first, then in the base's.
    pub fn member_offset(&self, name: &str, member: &str) -> Option<u32> {
        match self.named(name, &[STRUCT, UNION]) {
            Some(t) => self.find_member(t, member, 0, 0),
            None => self.base?.member_offset(name, member),
        }
    }

    fn find_member(&self, t: Type, member: &str, base_bits: u32, depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        for i in 0..t.vlen as usize {
            let at = t.extra as usize + 12 * i;
            let data = self.data(t);
            let name = self.str_at(u32_at(data, at).ok()?)?;
            let ty = u32_at(data, at + 4).ok()?;
            let raw = u32_at(data, at + 8).ok()?;
            let bits = base_bits + if t.kind_flag { raw & 0x00ff_ffff } else { raw };
            if name == member {
                return bits.is_multiple_of(8).then_some(bits / 8);
            }
            if name.is_empty()
                && let Some(inner) = self.resolve(ty).filter(|x| matches!(x.kind, STRUCT | UNION))
                && let Some(off) = self.find_member(inner, member, bits, depth + 1)
            {
                return Some(off);
            }
        }
        None
    }

    /// Follows typedefs and qualifiers to the type they name.
    fn resolve(&self, mut id: u32) -> Option<Type> {
        for _ in 0..16 {
            let t = self.get(id)?;
            if !matches!(t.kind, 8..=11 | 18) {
                return Some(t);
            }
            id = u32_at(self.data(t), t.extra as usize - 4).ok()?;
        }
        None
    }

    /// The value of `enumerator` in `enum name`.
    pub fn enum_value(&self, name: &str, enumerator: &str) -> Option<i64> {
        let t = self.named(name, &[ENUM, ENUM64])?;
        let step = if t.kind == ENUM { 8 } else { 12 };
        (0..t.vlen as usize).find_map(|i| {
            let at = t.extra as usize + step * i;
            if self.str_at(u32_at(self.type_data, at).ok()?)? != enumerator {
                return None;
            }
            let lo = u32_at(self.type_data, at + 4).ok()?;
            Some(if t.kind == ENUM {
                i64::from(lo as i32)
            } else {
                let hi = u32_at(self.type_data, at + 8).ok()?;
                ((u64::from(hi) << 32) | u64::from(lo)) as i64
            })
        })
    }
}

#[cfg(test)]
mod tests;
