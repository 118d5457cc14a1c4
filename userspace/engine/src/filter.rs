//! The filters BCC users expect: `-p PID`, `--comm NAME`, `--driver NAME`.
//!
//! They select what is counted, not what is watched: a fence from another
//! process still has to be followed to pair its waits. A fence counts when
//! the process that created it matches `-p`/`--comm` and its driver matches
//! `--driver`; a wait or export counts when the asking thread matches
//! `-p`/`--comm`.
use crate::event::Comm;

/// What is counted (see the module doc); `None` selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Thread group id (process).
    pub pid: Option<u32>,
    /// Task name, as the kernel keeps it (15 characters at most).
    pub comm: Option<String>,
    /// Driver name, as `dma_fence_ops.get_driver_name` gives it, matched
    /// exactly.
    pub driver: Option<String>,
    /// Fences born before this time (monotonic ns) are followed, never
    /// counted: `--verify` counts from the moment its second witness
    /// started, and both witnesses must count the same fences.
    pub since_ns: u64,
}

impl Filter {
    /// No `-p`, `--comm` or `--driver` (`since_ns` is not looked at).
    pub fn is_empty(&self) -> bool {
        self.pid.is_none() && self.comm.is_none() && self.driver.is_none()
    }

    /// Whether a task, thread group `tgid` named `comm` (the thread's own
    /// name), passes `-p` and `--comm`.
    pub fn task(&self, tgid: u32, comm: &Comm) -> bool {
        self.pid.is_none_or(|p| p == tgid)
            && self.comm.as_deref().is_none_or(|c| comm.as_str() == c)
    }

    /// Whether a fence of `driver` passes `--driver`.
    pub fn driver(&self, driver: &str) -> bool {
        self.driver.as_deref().is_none_or(|d| d == driver)
    }
}
