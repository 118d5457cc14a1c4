//! The witness on this machine's own tracefs, where it has one: it must
//! leave tracefs exactly as it found it.
use std::path::Path;

use fencescope_verify::Witness;

#[test]
fn the_instance_is_made_and_removed_and_the_global_trace_untouched() {
    let tracefs = Path::new("/sys/kernel/tracing");
    if !tracefs.join("events/dma_fence").is_dir() || !tracefs.join("instances").is_dir() {
        eprintln!("skipped: no tracefs with dma_fence events here (the VM tests cover it)");
        return;
    }
    let global = tracefs.join("events/dma_fence/enable");
    let before = std::fs::read_to_string(&global).unwrap();
    let before_instances: Vec<_> = std::fs::read_dir(tracefs.join("instances"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let w = Witness::start(tracefs, 0).expect("an instance can be made as root");
    let dir = tracefs.join(format!("instances/fencescope-{}", std::process::id()));
    assert!(dir.is_dir());
    assert_eq!(
        std::fs::read_to_string(dir.join("events/dma_fence/dma_fence_init/enable")).unwrap().trim(),
        "1"
    );
    assert!(std::fs::read_to_string(dir.join("trace_clock")).unwrap().contains("[mono]"));
    let seen = w.finish(u64::MAX).unwrap();
    assert_eq!(seen.lost, 0);
    assert!(!dir.exists(), "the instance is removed");
    assert_eq!(std::fs::read_to_string(&global).unwrap(), before);
    let after: Vec<_> = std::fs::read_dir(tracefs.join("instances"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before_instances, after);
}
