//! The noise sensors: cumulative counters that say how much of the machine the run did not
//! have (`docs/run-store.md`, `machine` table). Each is read through `procfs`; a file the
//! kernel does not provide (`/proc/pressure` without PSI, no steal column) leaves its field
//! `None`, which the run's conditions report as absent rather than as 0.

use procfs::{Current, CurrentSI};

use crate::store::Sensors;

/// CPU time over all CPUs since boot from `/proc/stat`, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTimes {
    /// user + nice + system + irq + softirq.
    pub busy_s: f64,
    /// Everything: busy + idle + iowait + steal.
    pub total_s: f64,
    /// Steal, when the kernel reports it.
    pub steal_s: Option<f64>,
}

/// Reads `/proc/stat`'s CPU line (one read serves the machine's CPU % and the sensors).
pub fn cpu_times() -> Option<CpuTimes> {
    let k = procfs::KernelStats::current().ok()?;
    let tps = procfs::ticks_per_second() as f64;
    let t = &k.total;
    let busy = t.user + t.nice + t.system + t.irq.unwrap_or(0) + t.softirq.unwrap_or(0);
    let total = busy + t.idle + t.iowait.unwrap_or(0) + t.steal.unwrap_or(0);
    Some(CpuTimes {
        busy_s: busy as f64 / tps,
        total_s: total as f64 / tps,
        steal_s: t.steal.map(|v| v as f64 / tps),
    })
}

/// Reads every sensor now (the `sensors` bench times it).
pub fn read() -> Sensors {
    let mut s = fast(cpu_times());
    slow(&mut s);
    s
}

/// The sensors read on every tick: the CPU counters (from a `/proc/stat` read the machine
/// sample makes anyway) and the harness's own CPU.
pub fn fast(cpu: Option<CpuTimes>) -> Sensors {
    Sensors {
        cpu_busy_s: cpu.map(|c| c.busy_s),
        cpu_steal_s: cpu.and_then(|c| c.steal_s),
        own_cpu_s: Some(own_cpu_s()),
        ..Sensors::default()
    }
}

/// The sensors read once a second: PSI and swap counters are cumulative, so a reading every
/// tick would add cost and no information.
pub fn slow(s: &mut Sensors) {
    if let Ok(p) = procfs::CpuPressure::current() {
        s.psi_us[0] = Some(p.some.total);
        s.psi_us[1] = Some(p.full.total);
    }
    if let Ok(p) = procfs::MemoryPressure::current() {
        s.psi_us[2] = Some(p.some.total);
        s.psi_us[3] = Some(p.full.total);
    }
    if let Ok(p) = procfs::IoPressure::current() {
        s.psi_us[4] = Some(p.some.total);
        s.psi_us[5] = Some(p.full.total);
    }
    if let Ok(v) = procfs::vmstat() {
        let page = |k: &str| v.get(k).and_then(|n| u64::try_from(*n).ok());
        s.swap_in_pages = page("pswpin");
        s.swap_out_pages = page("pswpout");
    }
}

/// User + system CPU of this process, all threads (getrusage `RUSAGE_SELF`), s.
pub fn own_cpu_s() -> f64 {
    cpu_s(&rusage(libc::RUSAGE_SELF))
}

/// getrusage for `who` (`RUSAGE_SELF` or `RUSAGE_CHILDREN`).
pub fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage fills the zeroed struct it is given and has no other effect.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut r);
        r
    }
}

/// A timeval in seconds.
pub fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

/// User + system CPU of a rusage, s.
pub fn cpu_s(r: &libc::rusage) -> f64 {
    seconds(r.ru_utime) + seconds(r.ru_stime)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_reports_busy_time_and_its_own_cpu() {
        let a = super::read();
        let busy = a.cpu_busy_s.unwrap_or(-1.0);
        assert!(busy > 0.0, "{a:?}");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = super::read();
        assert!(b.own_cpu_s >= a.own_cpu_s && b.cpu_busy_s >= a.cpu_busy_s);
        // PSI is either there for all three resources or for none.
        let have = b.psi_us.iter().filter(|v| v.is_some()).count();
        assert!(have == 0 || have == 6, "{:?}", b.psi_us);
    }
}
