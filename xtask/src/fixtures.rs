//! The kernel fixtures (C, GPL-2.0, in fixtures/): built out of tree
//! against Debian's headers of the very kernel the VM boots for them
//! (bookworm-backports' 6.12, whose kbuild tools match this machine's
//! compiler), cached by source hash.
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::kernels::{self, Kernel, PrivateApt, Series};
use crate::{Arch, cache, run, workspace_root};

/// The series the fixtures are built for and loaded into.
pub const SERIES: Series = Series::V6_12Bpo;

/// Headers of `kernel` unpacked with their kbuild tools, absolute links
/// and includes pointed into the unpacked tree.
fn headers(kernel: &Kernel) -> Result<PathBuf> {
    let root = cache::dir().join("headers").join(&kernel.release);
    let dir = root.join("tree/usr/src").join(format!("linux-headers-{}", kernel.release));
    if root.join("done").is_file() {
        return Ok(dir);
    }
    eprintln!("xtask: fetching Debian's headers for {}", kernel.release);
    let apt = PrivateApt::new(kernel.series, kernel.arch)?;
    apt.update()?;
    let top = format!("linux-headers-{}", kernel.release);
    let packages: Vec<String> = apt
        .closure(&top)?
        .into_iter()
        .filter(|p| p.starts_with("linux-headers-") || p.starts_with("linux-kbuild-"))
        .collect();
    let tree = kernels::unpack(&apt, &packages, &root)?;
    relocate(&tree, &tree)?;
    if !dir.is_dir() {
        bail!("{top} has no {}", dir.display());
    }
    fs::write(root.join("done"), packages.join("\n"))?;
    Ok(dir)
}

/// Debian's headers link and include by absolute /usr/… paths: make every
/// such link, and every Makefile line naming /usr/src or /usr/lib, point
/// into `tree`.
fn relocate(dir: &Path, tree: &Path) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let path = e?.path();
        let meta = fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)?;
            if let Ok(rel) = target.strip_prefix("/") {
                fs::remove_file(&path)?;
                symlink(tree.join(rel), &path)?;
            }
        } else if meta.is_dir() {
            relocate(&path, tree)?;
        } else if path.file_name().is_some_and(|n| n == "Makefile") {
            let text = fs::read_to_string(&path).unwrap_or_default();
            let root = tree.display().to_string();
            let fixed = text
                .replace(" /usr/src/", &format!(" {root}/usr/src/"))
                .replace(" /usr/lib/linux-kbuild", &format!(" {root}/usr/lib/linux-kbuild"));
            if fixed != text {
                fs::write(&path, fixed)?;
            }
        }
    }
    Ok(())
}

/// Builds fixtures/NAME for the fixture kernel of `arch`; returns the .ko.
pub fn build(name: &str, arch: Arch) -> Result<(Kernel, PathBuf)> {
    if arch != Arch::host() {
        bail!("kernel fixtures are built for this machine's architecture only (no cross compiler)");
    }
    let kernel = kernels::fetch(SERIES, arch)?;
    let headers = headers(&kernel)?;
    let src = workspace_root().join("fixtures").join(name);
    let out = cache::dir().join("fixtures").join(format!("{name}-{}", kernel.release));
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out)?;
    for f in ["Makefile", &format!("{name}.c")] {
        fs::copy(src.join(f), out.join(f)).with_context(|| format!("copying {f}"))?;
    }
    run(Command::new("make")
        .arg("-C")
        .arg(&headers)
        .arg(format!("M={}", out.display()))
        // The headers carry no vmlinux to take module BTF from.
        .arg("CONFIG_DEBUG_INFO_BTF_MODULES=")
        .arg("modules"))
    .context("building the kernel fixture (needs make and gcc: scripts/setup.sh installs them)")?;
    let ko = out.join(format!("{name}.ko"));
    if !ko.is_file() {
        bail!("the build made no {}", ko.display());
    }
    // Into the kernel's own module tree, so the scenario loads it (and the
    // videobuf2 modules it needs) by name like any other.
    let updates = kernel.module_base.join("lib/modules").join(&kernel.release).join("updates");
    fs::create_dir_all(&updates)?;
    fs::copy(&ko, updates.join(format!("{name}.ko")))?;
    run(Command::new("depmod").arg("-b").arg(&kernel.module_base).arg(&kernel.release))?;
    Ok((kernel, ko))
}
