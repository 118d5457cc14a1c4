//! The kernel fixtures (C, GPL-2.0, in fixtures/): built out of tree
//! against Debian's headers of the very kernel the VM boots for them
//! (bookworm-backports' 6.12, whose kbuild tools match this machine's
//! compiler), cached by source hash.
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::apt::{self, PrivateApt};
use crate::kernel::{Kernel, Series};
use crate::kernels;
use crate::{Arch, cache, run, workspace_root};

/// The series the fixtures are built for and loaded into.
pub const SERIES: Series = Series::V6_12Bpo;

/// Headers of `kernel` unpacked with their kbuild tools, absolute links
/// and includes pointed into the unpacked tree. The kbuild tools run here,
/// so they are this machine's architecture's build of the same version.
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
    let closure = apt.closure(&top)?;
    let headers: Vec<String> =
        closure.iter().filter(|p| p.starts_with("linux-headers-")).cloned().collect();
    let kbuild: Vec<String> =
        closure.into_iter().filter(|p| p.starts_with("linux-kbuild-")).collect();
    let tree = apt::unpack(&apt, &headers, &root)?;
    let host = PrivateApt::new(kernel.series, Arch::host())?;
    host.update()?;
    let tools = apt::unpack(&host, &kbuild, &root.join("kbuild"))?;
    copy_tree(&tools, &tree)?;
    relocate(&tree, &tree)?;
    if !dir.is_dir() {
        bail!("{top} has no {}", dir.display());
    }
    fs::write(root.join("done"), [headers, kbuild].concat().join("\n"))?;
    Ok(dir)
}

/// Copies `from` into `to`, links as links.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for e in fs::read_dir(from)? {
        let path = e?.path();
        let dest = to.join(path.file_name().expect("a name"));
        let meta = fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            let _ = fs::remove_file(&dest);
            symlink(fs::read_link(&path)?, &dest)?;
        } else if meta.is_dir() {
            fs::create_dir_all(&dest)?;
            copy_tree(&path, &dest)?;
        } else {
            fs::copy(&path, &dest)?;
        }
    }
    Ok(())
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

/// Builds fixtures/NAME for the fixture kernel of `arch` (another
/// architecture's with Debian's cross compiler); returns the .ko.
pub fn build(name: &str, arch: Arch) -> Result<(Kernel, PathBuf)> {
    let kernel = kernels::fetch(SERIES, arch)?;
    let headers = headers(&kernel)?;
    let src = workspace_root().join("fixtures").join(name);
    let out = cache::dir().join("fixtures").join(format!("{name}-{}", kernel.release));
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out)?;
    for f in ["Makefile", &format!("{name}.c")] {
        fs::copy(src.join(f), out.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let mut make = Command::new("make");
    if arch != Arch::host() {
        let cross = match arch {
            Arch::Aarch64 => ("arm64", "aarch64-linux-gnu-"),
            Arch::X86_64 => ("x86", "x86_64-linux-gnu-"),
        };
        make.arg(format!("ARCH={}", cross.0)).arg(format!("CROSS_COMPILE={}", cross.1));
    }
    run(make
        .arg("-C")
        .arg(&headers)
        .arg(format!("M={}", out.display()))
        // The headers carry no vmlinux to take module BTF from.
        .arg("CONFIG_DEBUG_INFO_BTF_MODULES=")
        .arg("modules"))
    .context(
        "building the kernel fixture (needs make, gcc and gcc-aarch64-linux-gnu: scripts/setup.sh installs them)",
    )?;
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
