//! Fences across CPUs: producers each on a CPU of their own, one signaller
//! on another CPU that signals every fence a set time after its birth, and
//! a compositor-like waiter on a third that exports each buffer's fence and
//! waits for it. What a board's four cores do to a tracer: records of one
//! fence are written on different CPUs, and reach the ring interleaved with
//! other CPUs' records.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::clock::Clock;
use crate::clock::{cpus, pin};
use crate::dmabuf::{export_sync_file, readable};
use crate::vgem::Device;

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub producers: u32,
    /// Fences each producer makes, one at a time on its own buffer.
    pub fences: u32,
    pub lifetime: Duration,
    /// CPUs: producer i on `producer_cpu + i`, the signaller and the waiter
    /// on theirs (each modulo the CPUs there are).
    pub producer_cpu: usize,
    pub signal_cpu: usize,
    pub waiter_cpu: usize,
    pub waiter_comm: String,
}

#[derive(Serialize)]
pub struct Truth {
    pub driver: &'static str,
    pub timeline: &'static str,
    pub fences: u32,
    pub producers: u32,
    pub cpus: usize,
    /// The CPUs each role ran on, as the kernel said (sched_getcpu) at
    /// each fence: a fence created on one and signalled on another.
    pub created_on: Vec<usize>,
    pub signalled_on: Vec<usize>,
    pub waited_on: Vec<usize>,
    /// Exports the waiter made (one per fence), and how many of those
    /// found the fence still unsignalled.
    pub exports: u32,
    pub exports_busy: u32,
    pub waiter_comm: String,
}

struct Job {
    deadline: Duration,
    fence: u32,
    done: SyncSender<usize>,
}

fn current_cpu() -> usize {
    // SAFETY: no arguments.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).unwrap_or(usize::MAX)
}

fn add(set: &mut Vec<usize>, cpu: usize) {
    if !set.contains(&cpu) {
        set.push(cpu);
        set.sort_unstable();
    }
}

pub fn run(plan: &Plan) -> Result<Truth> {
    let dev = Arc::new(Device::open()?);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(64);
    let (buf_tx, buf_rx) = mpsc::sync_channel::<OwnedFd>(64);
    let signaller = {
        let dev = dev.clone();
        let cpu = plan.signal_cpu;
        std::thread::spawn(move || signal_loop(&dev, cpu, job_rx))
    };
    let waiter = {
        let (cpu, comm) = (plan.waiter_cpu, plan.waiter_comm.clone());
        std::thread::spawn(move || wait_loop(cpu, &comm, buf_rx))
    };
    let producers: Vec<_> = (0..plan.producers)
        .map(|i| {
            let (dev, jobs, bufs) = (dev.clone(), job_tx.clone(), buf_tx.clone());
            let cpu = plan.producer_cpu + i as usize;
            let (n, lifetime) = (plan.fences, plan.lifetime);
            std::thread::spawn(move || -> Result<Vec<usize>> {
                pin(cpu)?;
                crate::set_comm(&format!("fence-prod-{i}"));
                let clock = Clock::monotonic();
                let (handle, dmabuf) = dev.buffer()?;
                let mut on = Vec::new();
                for _ in 0..n {
                    let born = clock.now();
                    let fence = dev.attach(handle)?;
                    add(&mut on, current_cpu());
                    let (done_tx, done_rx) = mpsc::sync_channel(1);
                    bufs.send(dmabuf.try_clone()?).context("the waiter quit")?;
                    jobs.send(Job { deadline: born + lifetime, fence, done: done_tx })
                        .context("the signaller quit")?;
                    // One fence at a time per buffer: vgem refuses a second
                    // write fence while the first is unsignalled.
                    done_rx.recv().context("the signaller quit")?;
                }
                Ok(on)
            })
        })
        .collect();
    drop((job_tx, buf_tx));
    let mut created_on = Vec::new();
    for p in producers {
        for cpu in p.join().expect("a producer panicked")? {
            add(&mut created_on, cpu);
        }
    }
    let signalled_on = signaller.join().expect("the signaller panicked")?;
    let (exports, exports_busy, waited_on) = waiter.join().expect("the waiter panicked")?;
    Ok(Truth {
        driver: "vgem",
        timeline: "unbound",
        fences: plan.producers * plan.fences,
        producers: plan.producers,
        cpus: cpus(),
        created_on,
        signalled_on,
        waited_on,
        exports,
        exports_busy,
        waiter_comm: plan.waiter_comm.clone(),
    })
}

/// Signals each job's fence at its deadline, earliest first.
fn signal_loop(dev: &Device, cpu: usize, jobs: Receiver<Job>) -> Result<Vec<usize>> {
    pin(cpu)?;
    crate::set_comm("fence-signal");
    let clock = Clock::monotonic();
    let mut due: BinaryHeap<Reverse<(Duration, u32)>> = BinaryHeap::new();
    let mut waiting: Vec<Job> = Vec::new();
    let mut on = Vec::new();
    let mut open = true;
    while open || !due.is_empty() {
        let next = due.peek().map(|Reverse((d, _))| *d);
        let timeout = next.map_or(Duration::from_secs(3600), |d| d.saturating_sub(clock.now()));
        if open && !timeout.is_zero() {
            match jobs.recv_timeout(timeout) {
                Ok(job) => {
                    due.push(Reverse((job.deadline, job.fence)));
                    waiting.push(job);
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        }
        let Some(Reverse((deadline, fence))) = due.pop() else { continue };
        clock.sleep_until(deadline);
        dev.signal(fence)?;
        add(&mut on, current_cpu());
        let i = waiting.iter().position(|j| j.fence == fence).expect("a job per fence");
        let _ = waiting.swap_remove(i).done.send(current_cpu());
    }
    Ok(on)
}

/// Exports each buffer's fence (for reading) and waits until it signals.
fn wait_loop(cpu: usize, comm: &str, bufs: Receiver<OwnedFd>) -> Result<(u32, u32, Vec<usize>)> {
    pin(cpu)?;
    crate::set_comm(comm);
    let (mut exports, mut busy, mut on) = (0, 0, Vec::new());
    for dmabuf in bufs {
        let sync = export_sync_file(&dmabuf)?;
        exports += 1;
        add(&mut on, current_cpu());
        if !readable(&sync, 0)? {
            busy += 1;
            if !readable(&sync, 10_000)? {
                bail!("a fence did not signal within 10 s");
            }
        }
    }
    Ok((exports, busy, on))
}
