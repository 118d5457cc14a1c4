//! Debian kernel packages for the test VM, fetched through private apt
//! lists (the machine's own apt setup is never touched) and cached.
//!
//! A kernel is named by its series; the Debian suite that carries it decides
//! the exact version, resolved from `linux-image-<arch>` when first fetched.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::apt::{PrivateApt, unpack};
pub use crate::kernel::{Kernel, Series};
use crate::{Arch, cache, run};

/// Fetches (once) and unpacks the kernel of `series` for `arch`.
pub fn fetch(series: Series, arch: Arch) -> Result<Kernel> {
    if series == Series::V6_12Src {
        return crate::kbuild::kernel(arch);
    }
    let root = cache::dir().join("kernels").join(format!("{}-{}", series.name(), arch.name()));
    let done = root.join("release");
    if let Ok(release) = fs::read_to_string(&done) {
        return locate(series, arch, &root, release.trim());
    }
    eprintln!(
        "xtask: fetching Debian's {} kernel for {} ({})",
        series.name(),
        arch.debian(),
        series.suite()
    );
    let apt = PrivateApt::new(series, arch)?;
    apt.update()?;
    let meta = format!("linux-image-{}", arch.debian());
    let image =
        apt.depends(&meta)?.into_iter().find(|d| d.starts_with("linux-image-")).with_context(
            || format!("{meta} in {} depends on no linux-image package", series.suite()),
        )?;
    let release = image.trim_start_matches("linux-image-").to_string();
    // Newer packaging splits the image into -binary and -modules packages.
    let mut packages = vec![image.clone()];
    for dep in apt.depends(&image)? {
        if dep.ends_with(&release)
            && (dep.starts_with("linux-binary-") || dep.starts_with("linux-modules-"))
        {
            packages.push(dep);
        }
    }
    unpack(&apt, &packages, &root)?;
    let kernel = locate(series, arch, &root, &release)?;
    run(Command::new("depmod").arg("-b").arg(&kernel.module_base).arg(&release))?;
    fs::write(&done, &release)?;
    Ok(kernel)
}

fn locate(series: Series, arch: Arch, root: &Path, release: &str) -> Result<Kernel> {
    let tree = root.join("tree");
    let module_base = ["", "usr"]
        .iter()
        .map(|p| tree.join(p))
        .find(|b| b.join("lib/modules").join(release).is_dir())
        .with_context(|| format!("no lib/modules/{release} in {}", tree.display()))?;
    let image = [
        tree.join("boot").join(format!("vmlinuz-{release}")),
        module_base.join("lib/modules").join(release).join("vmlinuz"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .with_context(|| format!("no kernel image for {release} in {}", tree.display()))?;
    Ok(Kernel { series, arch, release: release.to_string(), image, module_base })
}

/// Debian's bpftrace (Debian 13's, whose costs the bench measures) and every
/// library it loads, unpacked under one root, for the guest to run as the
/// everyday tool fencescope is compared with.
pub fn bpftrace(arch: Arch) -> Result<PathBuf> {
    let root = cache::dir().join("bpftrace").join(arch.debian());
    let done = root.join("done");
    if done.is_file() {
        return Ok(root.join("tree"));
    }
    eprintln!("xtask: fetching Debian 13's bpftrace and its libraries for {}", arch.debian());
    let apt = PrivateApt::new(Series::V6_12, arch)?;
    apt.update()?;
    let packages = apt.closure("bpftrace")?;
    let tree = unpack(&apt, &packages, &root)?;
    fs::write(&done, packages.join("\n"))?;
    Ok(tree)
}

/// A static busybox for `arch`, from Debian's busybox-static of that
/// architecture (the host's own serves its own architecture).
pub fn busybox(arch: Arch) -> Result<PathBuf> {
    let root = cache::dir().join("busybox").join(arch.debian());
    let bin = root.join("busybox");
    if bin.is_file() {
        return Ok(bin);
    }
    let apt = PrivateApt::new(Series::V6_12, arch)?;
    apt.update()?;
    let tree = unpack(&apt, &["busybox-static".to_string()], &root)?;
    let found = ["bin/busybox", "usr/bin/busybox"]
        .iter()
        .map(|p| tree.join(p))
        .find(|p| p.is_file())
        .with_context(|| format!("busybox-static for {} has no busybox", arch.debian()))?;
    fs::copy(&found, &bin)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))?;
    Ok(bin)
}
