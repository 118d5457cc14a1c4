//! The guest's whole userland: a newc cpio archive with busybox, the static
//! fencescope and workload binaries, the scenario's modules and an /init.
//! Written in-process so device nodes need no privileges on the host.
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use cpio::newc::{Builder, ModeFileType, trailer};

#[derive(Default)]
pub struct Initramfs {
    entries: Vec<(Builder, Vec<u8>)>,
    ino: u32,
}

impl Initramfs {
    fn push(&mut self, name: &str, kind: ModeFileType, perm: u32, data: Vec<u8>) -> Builder {
        self.ino += 1;
        let b = Builder::new(name).ino(self.ino).mode(perm).set_mode_file_type(kind).nlink(1);
        self.entries.push((b.clone(), data));
        b
    }

    pub fn dir(&mut self, name: &str) {
        self.push(name, ModeFileType::Directory, 0o755, Vec::new());
    }

    pub fn file(&mut self, name: &str, perm: u32, data: Vec<u8>) {
        self.push(name, ModeFileType::Regular, perm, data);
    }

    pub fn copy(&mut self, name: &str, perm: u32, from: &Path) -> Result<()> {
        let data = fs::read(from).with_context(|| format!("reading {}", from.display()))?;
        self.file(name, perm, data);
        Ok(())
    }

    /// A module, decompressed: busybox insmod takes plain .ko files.
    pub fn module(&mut self, name: &str, from: &Path) -> Result<()> {
        let ext = from.extension().and_then(|e| e.to_str()).unwrap_or("");
        let tool = match ext {
            "xz" => Some("xz"),
            "zst" => Some("zstd"),
            "gz" => Some("gzip"),
            _ => None,
        };
        let data = match tool {
            Some(t) => {
                let out = Command::new(t)
                    .arg("-dc")
                    .arg(from)
                    .output()
                    .with_context(|| format!("running {t} (install it: ./x setup)"))?;
                anyhow::ensure!(out.status.success(), "{t} -dc {} failed", from.display());
                out.stdout
            }
            None => fs::read(from)?,
        };
        self.file(name, 0o644, data);
        Ok(())
    }

    /// `dir` below `root`, as `name`, with its files and symlinks; `keep`
    /// says which relative paths to take.
    pub fn tree(&mut self, root: &Path, dir: &str, keep: &dyn Fn(&str) -> bool) -> Result<()> {
        let base = root.join(dir);
        let mut stack = vec![base.clone()];
        while let Some(d) = stack.pop() {
            let rel = d.strip_prefix(root)?.to_string_lossy().into_owned();
            self.dir(&rel);
            for entry in fs::read_dir(&d)? {
                let path = entry?.path();
                let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
                let meta = fs::symlink_metadata(&path)?;
                if meta.file_type().is_symlink() {
                    let target = fs::read_link(&path)?;
                    self.symlink(&rel, &target.to_string_lossy());
                } else if meta.is_dir() {
                    stack.push(path);
                } else if keep(&rel) {
                    use std::os::unix::fs::PermissionsExt;
                    self.copy(&rel, meta.permissions().mode() & 0o777, &path)?;
                }
            }
        }
        Ok(())
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.push(name, ModeFileType::Symlink, 0o777, target.as_bytes().to_vec());
    }

    pub fn char_dev(&mut self, name: &str, major: u32, minor: u32) {
        self.ino += 1;
        let b = Builder::new(name)
            .ino(self.ino)
            .mode(0o600)
            .set_mode_file_type(ModeFileType::Char)
            .nlink(1)
            .rdev_major(major)
            .rdev_minor(minor);
        self.entries.push((b, Vec::new()));
    }

    pub fn write(self, to: &Path) -> Result<()> {
        let mut out = std::io::BufWriter::new(fs::File::create(to)?);
        for (b, data) in self.entries {
            let mut w = b.write(&mut out, data.len() as u32);
            w.write_all(&data)?;
            w.finish()?;
        }
        trailer(&mut out)?;
        out.flush()?;
        Ok(())
    }
}
