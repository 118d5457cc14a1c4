//! `fencescope top --replay` in a real terminal (tmux): the first screen
//! names fences, `?` changes the screen, `q` exits 0 and hands back a
//! terminal in cooked mode on the normal screen.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fencescope_capture::{Info, Writer};
use fencescope_engine::synthetic;

/// Ten seconds of a three-driver session: the replay (at recorded speed)
/// outlasts the test, so the screen is live while keys are sent.
fn write_capture(path: &Path) {
    let info = Info {
        tool_version: "test".into(),
        schema_version: fencescope_schema::SCHEMA_VERSION,
        kernel_release: "test".into(),
        machine: "x86_64".into(),
        ..Info::default()
    };
    let mut w = Writer::create(path, &info).unwrap();
    let mut buf = Vec::new();
    for ev in synthetic::compositor_session(2_000, 3, 5_000_000) {
        buf.clear();
        ev.encode(&mut buf);
        w.push(&buf).unwrap();
    }
    w.finish().unwrap();
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs (scripts/setup.sh installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"])
    }

    /// The screen once it shows every one of `want`, or a panic naming it.
    fn wait_for(&self, want: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if want.iter().all(|w| s.contains(w)) {
                return s;
            }
            assert!(Instant::now() < deadline, "screen never showed {want:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn top_replay_in_a_real_terminal() {
    let dir = std::env::temp_dir().join(format!("fencescope-top-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("session.fsc");
    write_capture(&cap);
    let bin = env!("CARGO_BIN_EXE_fencescope");
    let tmux = Tmux { socket: format!("fencescope-test-{}", std::process::id()) };
    let script = format!(
        "{bin} top --replay {} --interval 200; echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; sleep 60",
        cap.display()
    );
    tmux.run(&["new-session", "-d", "-s", "top", "-x", "100", "-y", "30", &script]);
    let first = tmux.wait_for(&["Fence lifetimes", "drv0/unbound", "drv2/unbound", "? help"]);
    assert!(first.contains("kwin_wayland"), "waits or exports of the replay missing:\n{first}");
    tmux.run(&["send-keys", "-t", "top", "?"]);
    let help = tmux.wait_for(&["Keys", "this help"]);
    assert_ne!(help, first);
    tmux.run(&["send-keys", "-t", "top", "q"]);
    let after = tmux.wait_for(&["EXIT="]);
    assert!(after.contains("EXIT=0"), "top did not exit 0:\n{after}");
    // Back on the normal screen, in cooked mode with echo.
    assert!(!after.contains("Fence lifetimes"), "alternate screen not left:\n{after}");
    let modes = after.lines().find(|l| l.contains("icanon")).unwrap_or_default();
    assert_eq!(modes.split_whitespace().collect::<Vec<_>>(), ["icanon", "echo"], "{after}");
    std::fs::remove_dir_all(&dir).unwrap();
}
