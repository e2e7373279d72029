//! Node-wide series: CPU and memory from `sysinfo`, storage bytes from `/proc/diskstats`
//! (through `procfs`). On a real node (Slurm) this is the node's series; on the local executor
//! it is recorded as the machine's context next to the emulated nodes' sums.

use std::path::Path;

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, System};

/// One node-wide sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeSample {
    /// Seconds since the Unix epoch.
    pub unix: f64,
    /// CPU utilisation of the whole node, percent of all its cores (0–100).
    pub cpu_pct: f64,
    /// Memory in use (total − available), bytes.
    pub mem_used: u64,
    /// Total memory, bytes.
    pub mem_total: u64,
    /// Cumulative bytes read from whole disks since boot.
    pub disk_read_bytes: u64,
    /// Cumulative bytes written to whole disks since boot.
    pub disk_write_bytes: u64,
}

/// Samples the node. The first CPU figure is 0 (a rate needs two readings).
#[derive(Debug)]
pub struct NodeSampler {
    system: System,
    primed: bool,
}

impl NodeSampler {
    /// A sampler over this machine.
    ///
    /// # Errors
    /// When `sysinfo` cannot read the system.
    pub fn new() -> Result<Self, sysinfo::Error> {
        Ok(Self {
            system: System::new()?,
            primed: false,
        })
    }

    /// Reads the node now.
    pub fn sample(&mut self) -> NodeSample {
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let cpu_pct = if self.primed {
            f64::from(self.system.global_cpu_usage())
        } else {
            0.0
        };
        self.primed = true;
        let total = self.system.total_memory();
        let (read, write) = disk_bytes();
        NodeSample {
            unix: super::unix_now(),
            cpu_pct,
            mem_used: total.saturating_sub(self.system.available_memory()),
            mem_total: total,
            disk_read_bytes: read,
            disk_write_bytes: write,
        }
    }
}

/// Σ bytes read and written over whole disks (entries of `/sys/block` that are not loop or RAM
/// devices), so partitions are not counted twice. Sectors in diskstats are 512 bytes.
fn disk_bytes() -> (u64, u64) {
    let Ok(stats) = procfs::diskstats() else {
        return (0, 0);
    };
    stats
        .iter()
        .filter(|d| {
            !d.name.starts_with("loop")
                && !d.name.starts_with("ram")
                && Path::new("/sys/block").join(&d.name).exists()
        })
        .fold((0, 0), |(r, w), d| {
            (r + d.sectors_read * 512, w + d.sectors_written * 512)
        })
}

/// Records the machine's series into a CSV (`header` first) every `interval` on absolute
/// deadlines, in a background thread, until `stop` is raised. Rows are written one `write` at a
/// time so a killed run keeps them.
pub fn record_machine(
    path: std::path::PathBuf,
    header: &'static str,
    interval: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<std::io::Result<()>> {
    use std::io::Write;
    std::thread::spawn(move || {
        let fresh = !path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        if fresh {
            writeln!(f, "{header}")?;
        }
        let Ok(mut sampler) = NodeSampler::new() else {
            return Ok(());
        };
        let start = std::time::Instant::now();
        let mut tick = 0u32;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let s = sampler.sample();
            f.write_all(
                format!(
                    "{:.4},{:.2},{},{},{},{}\n",
                    s.unix,
                    s.cpu_pct,
                    s.mem_used,
                    s.mem_total,
                    s.disk_read_bytes,
                    s.disk_write_bytes
                )
                .as_bytes(),
            )?;
            tick += 1;
            std::thread::sleep((interval * tick).saturating_sub(start.elapsed()));
        }
        Ok(())
    })
}
