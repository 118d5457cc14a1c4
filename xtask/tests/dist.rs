//! `cargo xtask dist`: for each architecture, a tarball whose binary is a
//! static ELF of that architecture, whose SHA256SUMS hold, and whose
//! `--version` (run where the host can) names commit, target and schema.
use std::io::Read as _;
use std::process::Command;

use sha2::{Digest, Sha256};
use xtask::Arch;
use xtask::dist::{check_static_elf, dist};

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn check(arch: Arch) {
    let d = dist(arch).expect("dist");
    let gz = std::fs::read(&d.tarball).unwrap();
    assert_eq!(hex(&gz), d.sha256);
    let mut files = std::collections::BTreeMap::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
    for entry in tar.entries().unwrap() {
        let mut e = entry.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        let (top, rest) = path.split_once('/').unwrap();
        assert!(top.ends_with(arch.rust_target()), "{path}");
        files.insert(rest.to_string(), bytes);
    }
    for want in ["fencescope", "README.md", "LICENSE-MIT", "LICENSE-APACHE", "SHA256SUMS"] {
        assert!(files.contains_key(want), "{want} missing from {:?}", files.keys());
    }
    assert!(files.keys().any(|k| k.starts_with("dashboards/")), "no dashboards");
    let sums = String::from_utf8(files["SHA256SUMS"].clone()).unwrap();
    for line in sums.lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        assert_eq!(hex(&files[name]), sum, "{name}");
    }
    assert_eq!(sums.lines().count(), files.len() - 1);
    check_static_elf(&files["fencescope"], arch).unwrap();
    if arch == Arch::host() {
        let bin = d.tarball.with_extension("").with_extension("bin");
        std::fs::write(&bin, &files["fencescope"]).unwrap();
        std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = Command::new(&bin).arg("--version").output().unwrap();
        let v = String::from_utf8_lossy(&out.stdout);
        assert!(
            v.contains(arch.rust_target()) && v.contains("commit") && v.contains("event schema"),
            "{v}"
        );
        std::fs::remove_file(&bin).unwrap();
    }
    eprintln!("{}: {} bytes, sha256 {}", d.tarball.display(), gz.len(), d.sha256);
}

#[test]
#[ignore = "builds both release binaries: run with cargo xtask test"]
fn dist_tarballs_for_x86_64_and_aarch64() {
    check(Arch::X86_64);
    check(Arch::Aarch64);
}
