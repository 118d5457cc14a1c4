//! The filters BCC users expect: `-p PID`, `--comm NAME`, `--driver NAME`.
//!
//! They select what is counted, not what is watched: a fence from another
//! process still has to be followed to pair its waits. A fence counts when
//! the process that created it matches `-p`/`--comm` and its driver matches
//! `--driver`; a wait or export counts when the asking thread matches
//! `-p`/`--comm`.
use crate::event::Comm;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Thread group id (process).
    pub pid: Option<u32>,
    /// Task name, as the kernel keeps it (15 characters at most).
    pub comm: Option<String>,
    pub driver: Option<String>,
    /// Fences born before this time (monotonic ns) are followed, never
    /// counted: `--verify` counts from the moment its second witness
    /// started, and both witnesses must count the same fences.
    pub since_ns: u64,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.pid.is_none() && self.comm.is_none() && self.driver.is_none()
    }

    pub fn task(&self, tgid: u32, comm: &Comm) -> bool {
        self.pid.is_none_or(|p| p == tgid)
            && self.comm.as_deref().is_none_or(|c| comm.as_str() == c)
    }

    pub fn driver(&self, driver: &str) -> bool {
        self.driver.as_deref().is_none_or(|d| d == driver)
    }
}
