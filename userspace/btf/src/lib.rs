//! Reads the kernel's BTF (`/sys/kernel/btf/vmlinux`) for the two things
//! fencescope needs from it: where a struct keeps a member, and the value of
//! an enumerator. Pure parsing over a byte slice, no syscalls, so it is
//! tested on blobs built in the tests and on every kernel the VM boots.
//!
//! Format: `include/uapi/linux/btf.h` — a header, a type section of
//! variable-length records (ids from 1), and a string section.
#![deny(missing_docs)]
use std::collections::HashMap;

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

#[derive(Clone, Debug)]
struct Type {
    kind: u32,
    kind_flag: bool,
    /// Byte offset of the kind-specific data after the 12-byte record.
    extra: usize,
    vlen: usize,
}

/// A parsed BTF blob.
pub struct Btf<'a> {
    types: Vec<Type>,
    type_data: &'a [u8],
    strings: &'a [u8],
    by_name: HashMap<&'a str, Vec<u32>>,
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, Error> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("four bytes")))
        .ok_or(Error::Short(at))
}

impl<'a> Btf<'a> {
    /// Parses the header and indexes every type; names are read on demand.
    pub fn parse(data: &'a [u8]) -> Result<Btf<'a>, Error> {
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
        let mut btf = Btf { types: Vec::new(), type_data, strings, by_name: HashMap::new() };
        let mut at = 0;
        while at < type_data.len() {
            let id = btf.types.len() as u32 + 1;
            let name = u32_at(type_data, at)?;
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
            btf.types.push(Type { kind, kind_flag: info >> 31 == 1, extra, vlen });
            if let Some(n) = btf.str_at(name).filter(|n| !n.is_empty()) {
                btf.by_name.entry(n).or_default().push(id);
            }
            at = extra + size;
            if at > type_data.len() {
                return Err(Error::Short(hdr_len + type_off + at));
            }
        }
        Ok(btf)
    }

    fn str_at(&self, off: u32) -> Option<&'a str> {
        let s = self.strings.get(off as usize..)?;
        let end = s.iter().position(|&c| c == 0)?;
        std::str::from_utf8(&s[..end]).ok()
    }

    fn get(&self, id: u32) -> Option<&Type> {
        self.types.get((id as usize).checked_sub(1)?)
    }

    fn named(&self, name: &str, kinds: &[u32]) -> Option<&Type> {
        self.by_name
            .get(name)?
            .iter()
            .filter_map(|&id| self.get(id))
            .find(|t| kinds.contains(&t.kind) && t.vlen > 0)
    }

    /// Byte offset of `member` in `struct name`, looking into anonymous
    /// structs and unions the way C does.
    pub fn member_offset(&self, name: &str, member: &str) -> Option<u32> {
        let t = self.named(name, &[STRUCT, UNION])?;
        self.find_member(t, member, 0, 0)
    }

    fn find_member(&self, t: &Type, member: &str, base_bits: u32, depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        for i in 0..t.vlen {
            let at = t.extra + 12 * i;
            let name = self.str_at(u32_at(self.type_data, at).ok()?)?;
            let ty = u32_at(self.type_data, at + 4).ok()?;
            let raw = u32_at(self.type_data, at + 8).ok()?;
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
    fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..16 {
            let t = self.get(id)?;
            if !matches!(t.kind, 8..=11 | 18) {
                return Some(t);
            }
            id = u32_at(self.type_data, t.extra - 4).ok()?;
        }
        None
    }

    /// The value of `enumerator` in `enum name`.
    pub fn enum_value(&self, name: &str, enumerator: &str) -> Option<i64> {
        let t = self.named(name, &[ENUM, ENUM64])?;
        let step = if t.kind == ENUM { 8 } else { 12 };
        (0..t.vlen).find_map(|i| {
            let at = t.extra + step * i;
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
