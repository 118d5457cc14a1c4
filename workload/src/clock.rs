//! Sleeping to exact deadlines: the truth the VM tests compare against is
//! the lifetime asked for, so the producer must hit it closely.
use std::time::Duration;

/// Nanosecond timer slack instead of the default 50 µs.
pub fn tighten_timer_slack() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0) };
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
            let ts = libc::timespec { tv_sec: coarse.as_secs() as _, tv_nsec: coarse.subsec_nanos() as _ };
            // SAFETY: absolute sleep on a valid timespec; EINTR just ends early.
            unsafe {
                libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut())
            };
        }
        while self.now() < deadline {
            std::hint::spin_loop();
        }
    }
}
