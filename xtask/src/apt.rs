//! Private apt lists for one Debian suite and architecture, under the
//! project's cache: packages are resolved and downloaded through them and
//! unpacked with dpkg-deb, and the machine's own apt set-up is never touched.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::kernel::Series;
use crate::{Arch, cache, output, run};

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
    pub(crate) fn depends(&self, pkg: &str) -> Result<Vec<String>> {
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
