//! The test kernel built from source (`--kernel 6.12-src`): Debian's
//! `linux-source-6.12`, fetched through the same private apt lists as the
//! kernel packages, `kernel/patches/*.patch` applied, configured from
//! allnoconfig plus `kernel/fencescope.config`, everything built in.
//!
//! Cache layout (under [`cache::dir`]`/kbuild`):
//! - `src-<version>/`: the unpacked source, with the patches of the last
//!   build applied (kept in `.fencescope-patches/` so they can be reversed);
//! - `out-<arch>/`: kbuild's output directory, reused, so a changed patch
//!   rebuilds only what it touches;
//! - `<arch>-<key>/`: the kernel image, `config`, `System.map` and
//!   `build.txt` (seconds taken) of one (source version, fragment, patches,
//!   base recipe); a build is skipped when its directory is complete.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::apt::PrivateApt;
use crate::kernel::{Kernel, Series};
use crate::{Arch, cache, output, run, workspace_root};

/// The Debian source package the kernel is built from.
const SOURCE_PACKAGE: &str = "linux-source-6.12";
/// The suite that carries it (the 6.12 kernel packages' suite).
const SOURCE_SERIES: Series = Series::V6_12;
/// How the configuration is made; part of the cache key.
const BASE_RECIPE: &str = "allnoconfig + merge_config.sh -m fencescope.config + olddefconfig; \
                           make -j2 <image>; v1";

/// Host tools the build needs (Debian package, a program it provides).
const HOST_TOOLS: &[(&str, &str)] = &[
    ("dwarves", "pahole"),
    ("bc", "bc"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("libelf-dev", "/usr/include/gelf.h"),
    ("libssl-dev", "/usr/include/openssl/ssl.h"),
    ("make", "make"),
    ("gcc", "gcc"),
];

/// How kbuild names an architecture and its image.
struct Target {
    arch: &'static str,
    cross: Option<&'static str>,
    image_target: &'static str,
    image_path: &'static str,
}

fn target(arch: Arch) -> Target {
    let cross = |c| if arch == Arch::host() { None } else { Some(c) };
    match arch {
        Arch::X86_64 => Target {
            arch: "x86_64",
            cross: cross("x86_64-linux-gnu-"),
            image_target: "bzImage",
            image_path: "arch/x86/boot/bzImage",
        },
        Arch::Aarch64 => Target {
            arch: "arm64",
            cross: cross("aarch64-linux-gnu-"),
            image_target: "Image",
            image_path: "arch/arm64/boot/Image",
        },
    }
}

fn root() -> PathBuf {
    cache::dir().join("kbuild")
}

fn fragment_path() -> PathBuf {
    workspace_root().join("kernel/fencescope.config")
}

/// `kernel/patches/*.patch`, in name order.
fn patches() -> Result<Vec<PathBuf>> {
    let dir = workspace_root().join("kernel/patches");
    let mut all: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(d) => d
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "patch"))
            .collect(),
        Err(_) => Vec::new(),
    };
    all.sort();
    Ok(all)
}

/// The version of the source package, resolved once and remembered.
fn source_version(apt: &mut Option<PrivateApt>) -> Result<String> {
    let remembered = root().join("source-version");
    if let Ok(v) = fs::read_to_string(&remembered) {
        return Ok(v.trim().to_string());
    }
    let a = private_apt(apt)?;
    let policy = output(a.cmd("apt-cache").args(["policy", SOURCE_PACKAGE]))?;
    let version = policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate: "))
        .filter(|v| *v != "(none)")
        .with_context(|| format!("{SOURCE_PACKAGE} is not in {}", SOURCE_SERIES.suite()))?
        .to_string();
    fs::create_dir_all(root())?;
    fs::write(&remembered, &version)?;
    Ok(version)
}

fn private_apt(apt: &mut Option<PrivateApt>) -> Result<&PrivateApt> {
    if apt.is_none() {
        let a = PrivateApt::new(SOURCE_SERIES, Arch::host())?;
        a.update()?;
        *apt = Some(a);
    }
    Ok(apt.as_ref().expect("set above"))
}

/// The unpacked source tree of `version`, fetched on first use.
fn source_tree(version: &str, apt: &mut Option<PrivateApt>) -> Result<PathBuf> {
    let src = root().join(format!("src-{version}"));
    if src.join("Makefile").is_file() {
        return Ok(src);
    }
    eprintln!("xtask: fetching Debian's {SOURCE_PACKAGE} {version} ({})", SOURCE_SERIES.suite());
    let a = private_apt(apt)?;
    let dl = root().join("download");
    let tree = crate::apt::unpack(a, &[SOURCE_PACKAGE.to_string()], &dl)?;
    let tarball = fs::read_dir(tree.join("usr/src"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.xz"))
        .with_context(|| format!("{SOURCE_PACKAGE} holds no source tarball"))?;
    let staging = root().join(format!("unpacking-{version}"));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    run(Command::new("tar").arg("-xJf").arg(&tarball).arg("-C").arg(&staging))?;
    let top = fs::read_dir(&staging)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("Makefile").is_file())
        .context("the source tarball has no top-level tree")?;
    fs::rename(&top, &src)?;
    fs::remove_dir_all(&staging)?;
    fs::remove_dir_all(&dl)?;
    Ok(src)
}

/// Installs the host tools the build needs that are missing, with the
/// machine's own apt (as scripts/setup.sh installs the VM's packages).
fn host_tools() -> Result<()> {
    let have = |probe: &str| {
        if probe.starts_with('/') {
            Path::new(probe).exists()
        } else {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {probe} >/dev/null"))
                .status()
                .is_ok_and(|s| s.success())
        }
    };
    let missing: Vec<&str> =
        HOST_TOOLS.iter().filter(|(_, probe)| !have(probe)).map(|(p, _)| *p).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing the kernel build's tools: {}", missing.join(" "));
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing))
    .context("installing the kernel build's tools (run scripts/setup.sh as root)")
}

fn key(version: &str, arch: Arch, fragment: &[u8], patches: &[(String, Vec<u8>)]) -> String {
    let mut h = Sha256::new();
    for part in [SOURCE_PACKAGE.as_bytes(), version.as_bytes(), arch.name().as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(BASE_RECIPE.as_bytes());
    h.update((fragment.len() as u64).to_le_bytes());
    h.update(fragment);
    for (name, body) in patches {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((body.len() as u64).to_le_bytes());
        h.update(body);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The `CONFIG_…` lines of a fragment that a final .config does not have
/// as written (`# CONFIG_X is not set` lines stand for `=n`).
pub fn missing_options(fragment: &str, config: &str) -> Vec<String> {
    let have: std::collections::HashMap<&str, &str> = config
        .lines()
        .filter_map(|l| {
            if let Some(name) = l.strip_prefix("# ").and_then(|l| l.strip_suffix(" is not set")) {
                Some((name, "n"))
            } else if l.starts_with("CONFIG_") {
                l.split_once('=')
            } else {
                None
            }
        })
        .collect();
    fragment
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            if let Some(name) = l.strip_prefix("# ").and_then(|l| l.strip_suffix(" is not set")) {
                Some((name, "n", l))
            } else if l.starts_with("CONFIG_") {
                l.split_once('=').map(|(n, v)| (n, v, l))
            } else {
                None
            }
        })
        .filter(|(name, want, _)| have.get(name).copied().unwrap_or("n") != *want)
        .map(|(name, want, _)| {
            format!("{name}={want} (got {})", have.get(name).copied().unwrap_or("unset"))
        })
        .collect()
}

/// Reverses the patches a previous build applied to `src`, then applies
/// `patches`, keeping copies so the next build can reverse them.
fn apply_patches(src: &Path, patches: &[(String, Vec<u8>)]) -> Result<()> {
    let kept = src.join(".fencescope-patches");
    fs::create_dir_all(&kept)?;
    let mut old: Vec<PathBuf> = fs::read_dir(&kept)?.flatten().map(|e| e.path()).collect();
    old.sort();
    let same = old.len() == patches.len()
        && old.iter().zip(patches).all(|(p, (name, body))| {
            p.file_name().is_some_and(|n| n.to_string_lossy() == *name)
                && fs::read(p).is_ok_and(|b| b == *body)
        });
    if same {
        return Ok(());
    }
    for p in old.iter().rev() {
        run(Command::new("patch").current_dir(src).args(["-R", "-p1", "-s", "-i"]).arg(p))
            .with_context(|| format!("reversing {} in {}", p.display(), src.display()))?;
        fs::remove_file(p)?;
    }
    for (name, body) in patches {
        let copy = kept.join(name);
        fs::write(&copy, body)?;
        let ok = Command::new("patch")
            .current_dir(src)
            .args(["-p1", "-s", "--no-backup-if-mismatch", "-i"])
            .arg(&copy)
            .status()?
            .success();
        if !ok {
            // Leave the tree as the kept copies say: without this one.
            let _ = Command::new("patch")
                .current_dir(src)
                .args(["-R", "-p1", "-s", "-f", "--no-backup-if-mismatch", "-i"])
                .arg(&copy)
                .status();
            fs::remove_file(&copy)?;
            bail!("kernel/patches/{name} does not apply to {}", src.display());
        }
    }
    Ok(())
}

/// What one build left in the cache.
#[derive(Clone, Debug)]
pub struct Built {
    pub dir: PathBuf,
    pub image: PathBuf,
    pub version: String,
    /// Seconds the build took, when this call built it.
    pub built_in: Option<u64>,
}

/// Builds the kernel for `arch` unless the cache has it; returns it.
/// An exclusive lock on the build cache, held until the file is dropped.
fn build_lock() -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    fs::create_dir_all(root())?;
    let file = fs::File::create(root().join("build.lock"))?;
    // SAFETY: flock on a file this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        eprintln!("xtask: another kernel build is running; waiting for it");
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error()).context("locking the kernel build cache");
        }
    }
    Ok(file)
}

pub fn build(arch: Arch) -> Result<Built> {
    let mut apt = None;
    let version = source_version(&mut apt)?;
    let fragment = fs::read(fragment_path()).context("reading kernel/fencescope.config")?;
    let mut bodies = Vec::new();
    for p in patches()? {
        let name = p.file_name().expect("a name").to_string_lossy().into_owned();
        bodies.push((name, fs::read(&p)?));
    }
    let t = target(arch);
    let dir = root().join(format!("{}-{}", arch.name(), key(&version, arch, &fragment, &bodies)));
    let image = dir.join(t.image_target);
    if dir.join("build.txt").is_file() && image.is_file() {
        return Ok(Built { dir, image, version, built_in: None });
    }
    // One build at a time (`xtask test` starts one in the background while
    // the VM tests run): a second caller waits, then finds it cached.
    let _lock = build_lock()?;
    if dir.join("build.txt").is_file() && image.is_file() {
        return Ok(Built { dir, image, version, built_in: None });
    }
    host_tools()?;
    let src = source_tree(&version, &mut apt)?;
    apply_patches(&src, &bodies)?;
    let out = root().join(format!("out-{}", arch.name()));
    fs::create_dir_all(&out)?;
    let make = |args: &[&str]| {
        let mut c = Command::new("make");
        c.current_dir(&src).arg(format!("O={}", out.display())).arg(format!("ARCH={}", t.arch));
        if let Some(cross) = t.cross {
            c.arg(format!("CROSS_COMPILE={cross}"));
        }
        c.args(args);
        c
    };
    eprintln!(
        "xtask: building {SOURCE_PACKAGE} {version} for {} ({} patches; a cold build takes minutes)",
        arch.name(),
        bodies.len()
    );
    let start = Instant::now();
    run(&mut make(&["-s", "allnoconfig"]))?;
    let mut merge = Command::new(src.join("scripts/kconfig/merge_config.sh"));
    merge
        .current_dir(&src)
        .env("ARCH", t.arch)
        .arg("-m")
        .arg("-O")
        .arg(&out)
        .arg(out.join(".config"))
        .arg(fragment_path())
        .stdout(std::process::Stdio::null());
    run(&mut merge)?;
    run(&mut make(&["-s", "olddefconfig"]))?;
    let config = fs::read_to_string(out.join(".config"))?;
    let missing = missing_options(&String::from_utf8_lossy(&fragment), &config);
    if !missing.is_empty() {
        bail!(
            "kernel/fencescope.config options that did not survive olddefconfig (a dependency is \
             off): {}",
            missing.join(", ")
        );
    }
    run(&mut make(&["-j2", t.image_target])).context("building the kernel")?;
    let secs = start.elapsed().as_secs();
    let staging = dir.with_extension("partial");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    fs::copy(out.join(t.image_path), staging.join(t.image_target))?;
    fs::copy(out.join(".config"), staging.join("config"))?;
    fs::copy(out.join("System.map"), staging.join("System.map"))?;
    let release = output(&mut make(&["-s", "kernelrelease"]))?.trim().to_string();
    fs::write(staging.join("release"), &release)?;
    fs::write(
        staging.join("build.txt"),
        format!(
            "{SOURCE_PACKAGE} {version}\narch {}\npatches {}\nseconds {secs}\n",
            arch.name(),
            bodies.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" ")
        ),
    )?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&staging, &dir)?;
    let size = fs::metadata(&image).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "xtask: built {} in {secs} s ({:.1} MB); cached in {}",
        t.image_target,
        size as f64 / 1e6,
        dir.display()
    );
    Ok(Built { dir, image, version, built_in: Some(secs) })
}

/// The source-built kernel as a VM [`Kernel`]: no modules (everything is
/// built in), its config and System.map beside the image.
pub fn kernel(arch: Arch) -> Result<Kernel> {
    let built = build(arch)?;
    let release = fs::read_to_string(built.dir.join("release"))?.trim().to_string();
    Ok(Kernel {
        series: Series::V6_12Src,
        arch,
        release,
        image: built.image,
        module_base: built.dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_that_did_not_survive_are_named() {
        let fragment =
            "# a comment\nCONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n";
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_D=\"x\"\n";
        assert_eq!(missing_options(fragment, config), vec!["CONFIG_B=y (got n)"]);
        assert!(missing_options(fragment, "CONFIG_A=y\nCONFIG_B=y\nCONFIG_D=\"x\"\n").is_empty());
        assert_eq!(missing_options("CONFIG_E=y\n", ""), vec!["CONFIG_E=y (got unset)".to_string()]);
    }
}
