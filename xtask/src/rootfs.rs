//! The Debian 13 root filesystem the compositor scenarios boot into: KWin,
//! Mutter and Weston with Mesa's software renderer, GStreamer and
//! v4l-utils. Made with debootstrap from the machine's own Debian archive
//! (its apt set-up untouched), packed into an ext4 image by `mkfs.ext4 -d`
//! (no mount, no loop device), and cached by suite, architecture and
//! package list: rebuilt only when one of them changes.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use sha2::{Digest, Sha256};

use crate::{Arch, cache, run};

/// The series' userland, as on the board.
pub const SUITE: &str = "trixie";

/// What the scenarios run, installed without recommends. Mesa's llvmpipe renders;
/// dbus is for KWin's and Mutter's session bus; v4l-utils has v4l2-compliance;
/// GStreamer's good plugins drive vim2m and vicodec (`v4l2convert`,
/// `v4l2fwhtenc`, `v4l2fwhtdec`) and the bad ones have `kmssink`.
pub const PACKAGES: &[&str] = &[
    "kwin-wayland",
    "mutter",
    "weston",
    "xwayland",
    "libegl-mesa0",
    "libgl1-mesa-dri",
    "libgbm1",
    "libegl1",
    "libgles2",
    "dbus",
    "dbus-bin",
    "dbus-daemon",
    "dbus-user-session",
    "wayland-utils",
    "procps",
    "kmod",
    "v4l-utils",
    "gstreamer1.0-tools",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
];

/// Bumped when what is done to the tree after debootstrap changes.
const RECIPE: &str = "2: minbase, then apt without recommends, docs dropped, ext4 with 25% room";

/// A built image and what building it cost.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Rootfs {
    pub image: PathBuf,
    pub bytes: u64,
    /// Seconds debootstrap and mkfs took when it was built.
    pub build_secs: f64,
}

/// The cached image for `arch`, built first if it is missing.
pub fn ensure_built(arch: Arch) -> Result<Rootfs> {
    let dir = cache::dir().join("rootfs").join(format!("{}-{}", arch.name(), key(arch)));
    let meta = dir.join("rootfs.json");
    if let Ok(text) = fs::read_to_string(&meta)
        && let Ok(r) = serde_json::from_str::<Rootfs>(&text)
        && r.image.is_file()
    {
        return Ok(r);
    }
    ensure!(
        arch == Arch::host(),
        "a {} root filesystem needs debootstrap's second stage under emulation: only {} is built",
        arch.name(),
        Arch::host().name()
    );
    ensure!(
        is_root(),
        "building the compositors' root filesystem needs root (debootstrap): run as root"
    );
    let debootstrap = which("debootstrap")
        .context("debootstrap is missing: run ./x setup (it installs Debian's debootstrap)")?;
    let start = Instant::now();
    let tree = dir.join("tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(&dir)?;
    let (uri, keyring) = crate::apt::archive()?;
    eprintln!("xtask: building the {SUITE} root filesystem for the compositors (a few minutes)");
    // debootstrap lays down the base; apt inside it installs the rest, as
    // debootstrap's own resolver does not follow virtual packages.
    run(Command::new(debootstrap)
        .args(["--variant=minbase", "--arch", arch.debian()])
        .arg(format!("--keyring={keyring}"))
        .arg(SUITE)
        .arg(&tree)
        .arg(&uri))
    .context("debootstrap failed (its log: <tree>/debootstrap/debootstrap.log)")?;
    install(&tree)?;
    trim(&tree)?;
    let image = dir.join("rootfs.ext4");
    let bytes = pack(&tree, &image)?;
    fs::remove_dir_all(&tree)?;
    let r = Rootfs { image, bytes, build_secs: start.elapsed().as_secs_f64() };
    fs::write(&meta, serde_json::to_string_pretty(&r)?)?;
    eprintln!(
        "xtask: root filesystem built in {:.0} s: {} ({:.2} GB)",
        r.build_secs,
        r.image.display(),
        r.bytes as f64 / 1e9
    );
    Ok(r)
}

/// [`PACKAGES`] by apt inside the tree, with /proc mounted for their
/// maintainer scripts and no service started.
fn install(tree: &Path) -> Result<()> {
    fs::write(tree.join("usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n")?;
    set_mode(&tree.join("usr/sbin/policy-rc.d"), 0o755)?;
    let proc = tree.join("proc");
    run(Command::new("mount").args(["-t", "proc", "proc"]).arg(&proc))?;
    // dpkg's progress (hundreds of lines) goes nowhere; its errors show.
    let chroot = |args: &[&str]| {
        run(Command::new("chroot")
            .arg(tree)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdout(std::process::Stdio::null()))
    };
    let installed = chroot(&["apt-get", "-qq", "update"]).and_then(|()| {
        let mut args = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
        args.extend(PACKAGES);
        chroot(&args)
    });
    let unmounted = run(Command::new("umount").arg(&proc));
    installed.context("installing the compositors' packages in the root filesystem")?;
    unmounted?;
    fs::remove_file(tree.join("usr/sbin/policy-rc.d"))?;
    chroot(&["apt-get", "clean"])
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    Ok(fs::set_permissions(path, fs::Permissions::from_mode(mode))?)
}

/// Drops what no scenario reads (downloaded packages, documentation) and
/// makes the directories the compositors write to.
fn trim(tree: &Path) -> Result<()> {
    for d in ["var/cache/apt/archives", "usr/share/doc", "usr/share/man", "usr/share/info"] {
        let p = tree.join(d);
        if p.is_dir() {
            for e in fs::read_dir(&p)? {
                let path = e?.path();
                if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) }?;
            }
        }
    }
    for d in ["var/cache/mesa", "fencescope"] {
        fs::create_dir_all(tree.join(d))?;
    }
    Ok(())
}

/// The tree as an ext4 image a quarter larger than its contents; written
/// beside the final name and renamed, so a half-made image is never used.
fn pack(tree: &Path, image: &Path) -> Result<u64> {
    let out = Command::new("du").arg("-sb").arg(tree).output().context("running du")?;
    ensure!(out.status.success(), "du -sb {} failed", tree.display());
    let used: u64 = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .context("reading du's output")?;
    let size_mb = (used + used / 4) / (1 << 20) + 256;
    let partial = image.with_extension("ext4.partial");
    let _ = fs::remove_file(&partial);
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "fencescope", "-d"])
        .arg(tree)
        .arg(&partial)
        .arg(format!("{size_mb}M")))
    .context("mkfs.ext4 -d failed (e2fsprogs 1.43 or later is needed)")?;
    fs::rename(&partial, image)?;
    Ok(fs::metadata(image)?.len())
}

fn key(arch: Arch) -> String {
    let mut h = Sha256::new();
    for part in [SUITE, arch.name(), RECIPE].into_iter().chain(PACKAGES.iter().copied()) {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_the_package_list_and_architecture() {
        assert_ne!(key(Arch::X86_64), key(Arch::Aarch64));
        assert_eq!(key(Arch::X86_64), key(Arch::X86_64));
        assert_eq!(key(Arch::X86_64).len(), 16);
    }
}
