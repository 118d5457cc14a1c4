//! `cargo xtask dist --target x86_64|aarch64`: the static binary (its eBPF
//! object inside) with the README, licences and dashboards in a tarball,
//! and the tarball's SHA-256 beside it — what gets copied to the board.
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::{Arch, build, workspace_root};

/// What `dist` made.
pub struct Dist {
    pub tarball: PathBuf,
    pub sha256: String,
}

/// ELF machine numbers, to check a binary is for the arch it claims.
fn elf_machine(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => 62,
        Arch::Aarch64 => 183,
    }
}

/// A 64-bit little-endian ELF executable for `arch` with no interpreter
/// (static): it runs on any distribution the board has.
pub fn check_static_elf(bin: &[u8], arch: Arch) -> Result<()> {
    if bin.len() < 64 || &bin[..4] != b"\x7fELF" || bin[4] != 2 || bin[5] != 1 {
        bail!("not a 64-bit little-endian ELF file");
    }
    let u16_at = |o: usize| u16::from_le_bytes([bin[o], bin[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(bin[o..o + 8].try_into().expect("8 bytes"));
    let machine = u16_at(18);
    if machine != elf_machine(arch) {
        bail!("ELF machine {machine}, not {}", arch.name());
    }
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56) as usize);
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        const PT_INTERP: u32 = 3;
        if bin.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            == Some(PT_INTERP)
        {
            bail!("dynamically linked (has an interpreter)");
        }
    }
    Ok(())
}

/// Files below `dir`, sorted, hidden ones left out.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        let path = e?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            out.extend(files_under(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn add_file(tar: &mut tar::Builder<GzEncoder<File>>, from: &Path, to: &str) -> Result<()> {
    tar.append_path_with_name(from, to).with_context(|| format!("adding {}", from.display()))
}

pub fn dist(arch: Arch) -> Result<Dist> {
    let root = workspace_root();
    let bins = build::guest_bins(arch)?;
    let bin = std::fs::read(&bins.fencescope)?;
    check_static_elf(&bin, arch).with_context(|| bins.fencescope.display().to_string())?;
    let name = format!("fencescope-{}-{}", env!("CARGO_PKG_VERSION"), arch.rust_target());
    let out = root.join("target/dist");
    std::fs::create_dir_all(&out)?;
    let tarball = out.join(format!("{name}.tar.gz"));
    let mut tar = tar::Builder::new(GzEncoder::new(File::create(&tarball)?, Compression::best()));
    tar.mode(tar::HeaderMode::Deterministic);
    let mut sums = String::new();
    let mut files = vec![(bins.fencescope.clone(), "fencescope".to_string())];
    for f in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        files.push((root.join(f), f.to_string()));
    }
    for d in files_under(&root.join("dashboards"))? {
        let rel = d.strip_prefix(&root).expect("under the root").to_string_lossy().into_owned();
        files.push((d, rel));
    }
    for (from, to) in &files {
        add_file(&mut tar, from, &format!("{name}/{to}"))?;
        sums += &format!("{}  {to}\n", sha256_hex(&std::fs::read(from)?));
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(sums.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, format!("{name}/SHA256SUMS"), sums.as_bytes())?;
    tar.into_inner()?.finish()?.flush()?;
    let sha256 = sha256_hex(&std::fs::read(&tarball)?);
    let file_name = tarball.file_name().unwrap_or_default().to_string_lossy().into_owned();
    std::fs::write(out.join(format!("{file_name}.sha256")), format!("{sha256}  {file_name}\n"))?;
    Ok(Dist { tarball, sha256 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_checks_refuse_what_would_not_run_on_the_board() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // This test binary is dynamic (glibc): refused as such, or as the
        // wrong machine when cross-checked.
        let err = check_static_elf(&me, Arch::host()).unwrap_err().to_string();
        assert!(err.contains("dynamically linked"), "{err}");
        let other = if Arch::host() == Arch::X86_64 { Arch::Aarch64 } else { Arch::X86_64 };
        assert!(check_static_elf(&me, other).unwrap_err().to_string().contains("ELF machine"));
        assert!(check_static_elf(b"#!/bin/sh\n", Arch::host()).is_err());
    }
}
