//! A kernel the test VM boots: which one (its series) and where its image
//! and modules are, whether Debian's packages (crate::kernels) or the
//! source build (crate::kbuild) made it.
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::{Arch, output};

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
