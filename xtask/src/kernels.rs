//! Debian kernel packages for the test VM, fetched through private apt
//! lists (the machine's own apt setup is never touched) and cached.
//!
//! A kernel is named by its series; the Debian suite that carries it decides
//! the exact version, resolved from `linux-image-<arch>` when first fetched.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{Arch, cache, output, run};

/// The kernels the VM tests boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Series {
    /// Debian 12 (bookworm): the older check.
    #[value(name = "6.1")]
    V6_1,
    /// Debian 13 (trixie): the board's series, the main test kernel.
    #[value(name = "6.12")]
    V6_12,
    /// Debian's development suite (sid): newer than the board's 6.19.
    #[value(name = "7.2")]
    V7_2,
    /// 6.12 built for Debian 12 (bookworm-backports): the kernel the kernel
    /// fixtures are built for, since its headers and kbuild tools match this
    /// machine's compiler and C library (trixie's do not).
    #[value(name = "6.12-bpo")]
    V6_12Bpo,
    /// 6.12 built here from Debian's linux-source-6.12 with the series'
    /// patches, lockdep and the test drivers built in (crate::kbuild).
    #[value(name = "6.12-src")]
    V6_12Src,
}

impl Series {
    pub fn suite(self) -> &'static str {
        match self {
            Series::V6_1 => "bookworm",
            Series::V6_12 => "trixie",
            Series::V7_2 => "sid",
            Series::V6_12Bpo => "bookworm-backports",
            Series::V6_12Src => "trixie",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Series::V6_1 => "6.1",
            Series::V6_12 => "6.12",
            Series::V7_2 => "7.2",
            Series::V6_12Bpo => "6.12-bpo",
            Series::V6_12Src => "6.12-src",
        }
    }
}

/// An unpacked kernel package: the kernel image and its module tree.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub series: Series,
    pub arch: Arch,
    /// `uname -r` of the guest, e.g. `6.12.117+deb13-amd64`.
    pub release: String,
    pub image: PathBuf,
    /// The directory whose `lib/modules/<release>` holds the modules (what
    /// `depmod -b` and `modprobe -d` take).
    pub module_base: PathBuf,
}

/// The machine's own Debian archive and keyring, read from its apt sources,
/// so no archive host is written down in this project.
pub(crate) fn archive() -> Result<(String, String)> {
    let default_key = "/usr/share/keyrings/debian-archive-keyring.gpg".to_string();
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "sources")) {
            let text = fs::read_to_string(f)?;
            let field = |name: &str| {
                text.lines().find_map(|l| {
                    l.strip_prefix(name)
                        .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
                })
            };
            if let Some(uri) = field("URIs:").filter(|u| !u.is_empty()) {
                return Ok((uri, field("Signed-By:").unwrap_or(default_key)));
            }
        }
    }
    let list = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    for line in list.lines().filter(|l| l.starts_with("deb ")) {
        if let Some(uri) = line.split_whitespace().find(|w| w.contains("://")) {
            return Ok((uri.to_string(), default_key));
        }
    }
    bail!("no Debian archive found in the machine's apt sources")
}

/// apt-get/apt-cache arguments for a private view of one suite.
pub(crate) struct PrivateApt {
    dir: PathBuf,
    arch: Arch,
}

impl PrivateApt {
    pub(crate) fn new(series: Series, arch: Arch) -> Result<PrivateApt> {
        let dir = cache::dir().join("apt").join(format!("{}-{}", series.suite(), arch.debian()));
        fs::create_dir_all(dir.join("lists/partial"))?;
        fs::create_dir_all(dir.join("archives/partial"))?;
        let (uri, key) = archive()?;
        let sources = format!(
            "Types: deb\nURIs: {uri}\nSuites: {}\nComponents: main\nSigned-By: {key}\n",
            series.suite()
        );
        fs::write(dir.join("private.sources"), sources)?;
        Ok(PrivateApt { dir, arch })
    }

    pub(crate) fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let d = &self.dir;
        for o in [
            format!("Dir::Etc::sourcelist={}", d.join("private.sources").display()),
            "Dir::Etc::sourceparts=-".into(),
            format!("Dir::State::Lists={}", d.join("lists").display()),
            format!("Dir::Cache::archives={}", d.join("archives").display()),
            format!("Dir::Cache::pkgcache={}", d.join("pkgcache.bin").display()),
            format!("Dir::Cache::srcpkgcache={}", d.join("srcpkgcache.bin").display()),
            format!("APT::Architecture={}", self.arch.debian()),
            format!("APT::Architectures={}", self.arch.debian()),
        ] {
            c.arg("-o").arg(o);
        }
        c
    }

    pub(crate) fn update(&self) -> Result<()> {
        run(self.cmd("apt-get").args(["-qq", "update"]))
    }

    /// Every package `pkg` needs to run, itself included.
    pub(crate) fn closure(&self, pkg: &str) -> Result<Vec<String>> {
        let out = output(self.cmd("apt-cache").args([
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            "--no-pre-depends",
            pkg,
        ]))?;
        let mut all: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('<'))
            .map(|l| l.split(':').next().unwrap_or(l).trim().to_string())
            .collect();
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Direct dependencies of `pkg` named like `prefix…`.
    fn depends(&self, pkg: &str) -> Result<Vec<String>> {
        let out = output(self.cmd("apt-cache").args(["depends", pkg]))?;
        Ok(out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .map(|d| d.split(':').next().unwrap_or(d).to_string())
            .collect())
    }

    pub(crate) fn download(&self, pkg: &str, into: &Path) -> Result<()> {
        run(self.cmd("apt-get").current_dir(into).args(["-qq", "download", pkg]))
    }
}

/// Downloads `packages` and unpacks them all into `root/tree`, afresh.
pub(crate) fn unpack(apt: &PrivateApt, packages: &[String], root: &Path) -> Result<PathBuf> {
    let debs = root.join("debs");
    let tree = root.join("tree");
    let _ = fs::remove_dir_all(root);
    fs::create_dir_all(&debs)?;
    fs::create_dir_all(&tree)?;
    for p in packages {
        apt.download(p, &debs)?;
    }
    for deb in fs::read_dir(&debs)? {
        run(Command::new("dpkg-deb").arg("-x").arg(deb?.path()).arg(&tree))?;
    }
    fs::remove_dir_all(&debs)?;
    Ok(tree)
}

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

impl Kernel {
    /// The .ko files to load for `module`, dependencies first.
    pub fn module_chain(&self, module: &str) -> Result<Vec<PathBuf>> {
        if self.series == Series::V6_12Src {
            // Everything is built in; a module this kernel lacks shows as a
            // missing device in the guest.
            return Ok(Vec::new());
        }
        let out = output(Command::new("modprobe").arg("-d").arg(&self.module_base).args([
            "-S",
            &self.release,
            "--show-depends",
            module,
        ]))?;
        Ok(out
            .lines()
            .filter_map(|l| l.strip_prefix("insmod "))
            .map(|l| PathBuf::from(l.split_whitespace().next().unwrap_or(l)))
            .collect())
    }

    /// The kernel's build configuration, as Debian ships it.
    pub fn config(&self) -> Result<String> {
        let tree =
            self.module_base.ancestors().find(|p| p.ends_with("tree")).unwrap_or(&self.module_base);
        for p in [
            self.module_base.join("config"),
            tree.join("boot").join(format!("config-{}", self.release)),
            self.module_base.join("lib/modules").join(&self.release).join("config"),
        ] {
            if let Ok(c) = fs::read_to_string(&p) {
                return Ok(c);
            }
        }
        bail!("no config for {}", self.release)
    }
}

/// Debian's bpftrace (Debian 13's, the one REFERENCE measured) and every
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
