//! Sleeping to exact deadlines: the truth the VM tests compare against is
//! the lifetime asked for, so the producer must hit it closely.
use std::time::Duration;

use anyhow::{Result, bail};

/// Nanosecond timer slack instead of the default 50 µs.
pub fn tighten_timer_slack() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0) };
}

/// Runs the calling thread SCHED_FIFO where allowed: between a deadline and
/// the signalling ioctl nothing of normal priority (the tracer under test,
/// the waiter) may preempt it, so the lifetime the kernel sees is the one
/// asked for. Returns why not, where it did not take effect.
pub fn realtime(priority: i32) -> Result<(), String> {
    // The raw syscall: musl's sched_setscheduler() is a stub that returns
    // ENOSYS (POSIX means the process, Linux the thread).
    // SAFETY: the kernel reads one int (struct sched_param) from the pointer.
    let r = unsafe { libc::syscall(libc::SYS_sched_setscheduler, 0, libc::SCHED_FIFO, &priority) };
    if r == 0 {
        return Ok(());
    }
    Err(std::io::Error::last_os_error().to_string())
}

/// Pins the calling thread to `cpu` (modulo the CPUs online).
pub fn pin(cpu: usize) -> Result<usize> {
    let n = cpus();
    let cpu = cpu % n;
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays in it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
            bail!("sched_setaffinity({cpu}): {}", std::io::Error::last_os_error());
        }
    }
    Ok(cpu)
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() reads too.
pub struct Clock;

impl Clock {
    pub fn monotonic() -> Clock {
        Clock
    }

    pub fn now(&self) -> Duration {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    /// Sleeps to shortly before the deadline, then spins to it: a wake-up
    /// under an emulated CPU can be late by far more than the tolerance.
    pub fn sleep_until(&self, deadline: Duration) {
        const SPIN: Duration = Duration::from_micros(1500);
        if let Some(coarse) = deadline.checked_sub(SPIN) {
            let ts = libc::timespec {
                tv_sec: coarse.as_secs() as _,
                tv_nsec: coarse.subsec_nanos() as _,
            };
            // SAFETY: absolute sleep on a valid timespec; EINTR just ends early.
            unsafe {
                libc::clock_nanosleep(
                    libc::CLOCK_MONOTONIC,
                    libc::TIMER_ABSTIME,
                    &ts,
                    std::ptr::null_mut(),
                )
            };
        }
        while self.now() < deadline {
            std::hint::spin_loop();
        }
    }
}
