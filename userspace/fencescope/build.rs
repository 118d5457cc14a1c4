//! What `fencescope --version` says besides the version: the commit and the
//! target it was built for (the board's binary is a cross build).
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo::rustc-env=FENCESCOPE_COMMIT={commit}");
    println!("cargo::rustc-env=FENCESCOPE_TARGET={}", std::env::var("TARGET").unwrap_or_default());
    println!("cargo::rerun-if-changed=../../.git/HEAD");
}
