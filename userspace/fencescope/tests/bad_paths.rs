//! Bad input fails at once with one line naming the problem: before any
//! probe attaches, and without reading a file that never ends.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fencescope(args: &[&str]) -> (i32, String, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fencescope"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A hang is the failure this guards against: give up after 20 s.
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("fencescope {args:?} still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

#[test]
fn report_of_an_endless_file_fails_on_its_header() {
    let (code, err, _) = fencescope(&["report", "/dev/zero"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/dev/zero: not a fencescope capture"), "{err}");
}

#[test]
fn record_into_a_missing_directory_fails_before_attaching() {
    let (code, err, _) = fencescope(&["record", "-o", "/nonexistent-fencescope-dir/run.fsc"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("directory /nonexistent-fencescope-dir does not exist"), "{err}");
    assert!(!err.contains("watching"), "it attached first: {err}");
    let (code, err, _) =
        fencescope(&["top", "--headless", "80x24", "-o", "/nonexistent-fencescope-dir/t.fsc"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not exist"), "{err}");
}
