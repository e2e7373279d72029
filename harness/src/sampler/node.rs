//! Node-wide series: CPU and memory from `sysinfo`, storage bytes from `/proc/diskstats`
//! (through `procfs`). On a real node (Slurm) this is the node's series; on the local executor
//! it is recorded as the machine's context next to the emulated nodes' sums.

use std::path::Path;

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, System};

use crate::store::{HostFacts, MachineRow};

/// Samples the node. The first CPU figure is 0 (a rate needs two readings).
#[derive(Debug)]
pub struct NodeSampler {
    system: System,
    last_cpu: Option<super::sensors::CpuTimes>,
    ticks: u64,
    slow_every: u64,
}

impl NodeSampler {
    /// A sampler over this machine.
    ///
    /// # Errors
    /// When `sysinfo` cannot read the system.
    pub fn new() -> Result<Self, sysinfo::Error> {
        Ok(Self {
            system: System::new()?,
            last_cpu: None,
            ticks: 0,
            slow_every: 1,
        })
    }

    /// Reads the slow sensors (PSI, swap) on every `n`-th sample only, from the first.
    pub fn slow_sensors_every(mut self, n: u64) -> Self {
        self.slow_every = n.max(1);
        self
    }

    /// Reads the node now.
    pub fn sample(&mut self) -> MachineRow {
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let cpu = super::sensors::cpu_times();
        let cpu_machine_pct = match (self.last_cpu, cpu) {
            (Some(a), Some(b)) if b.total_s > a.total_s => {
                (100.0 * (b.busy_s - a.busy_s) / (b.total_s - a.total_s)).clamp(0.0, 100.0)
            }
            _ => 0.0,
        };
        self.last_cpu = cpu.or(self.last_cpu);
        let mut sensors = super::sensors::fast(cpu);
        if self.ticks % self.slow_every == 0 {
            super::sensors::slow(&mut sensors);
        }
        self.ticks += 1;
        let total = self.system.total_memory();
        let (read, write) = disk_bytes();
        MachineRow {
            unix: super::unix_now(),
            cpu_machine_pct,
            mem_used: total.saturating_sub(self.system.available_memory()),
            mem_total: total,
            disk_read_bytes: read,
            disk_write_bytes: write,
            sensors,
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

/// Records the machine's series into `path` (the run store's `samples/machine.node.csv`)
/// every `interval` until `stop` is raised, on absolute deadlines. Stops quietly when the
/// file cannot be written (a full disk): the machine context is a courtesy, the jobs' own
/// samples are the measurement.
pub fn record_machine(
    path: std::path::PathBuf,
    interval: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Result<(), crate::store::StoreError>> {
    use crate::store::{columns::machine_csv, fsio};
    use std::io::Write;
    std::thread::spawn(move || {
        let io = |e| crate::store::StoreError::Io {
            path: path.clone(),
            source: e,
        };
        let mut f = fsio::open_append(&path)?;
        if f.metadata().map_err(io)?.len() == 0 {
            writeln!(f, "{}", machine_csv().join(",")).map_err(io)?;
        }
        let per_second = (1000 / interval.as_millis().max(1)).max(1);
        let Ok(sampler) = NodeSampler::new() else {
            return Ok(());
        };
        let mut sampler = sampler.slow_sensors_every(u64::try_from(per_second).unwrap_or(1));
        let start = std::time::Instant::now();
        let mut tick = 0u32;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let s = sampler.sample();
            f.write_all(s.to_csv_line().as_bytes()).map_err(io)?;
            tick += 1;
            std::thread::sleep((interval * tick).saturating_sub(start.elapsed()));
        }
        // One last look when asked to stop, so the series (and the run's conditions) cover
        // the run to its end rather than to the tick before it.
        let mut last = sampler.sample();
        super::sensors::slow(&mut last.sensors);
        f.write_all(last.to_csv_line().as_bytes()).map_err(io)?;
        Ok(())
    })
}

/// This machine's facts for `run.json` (best effort: unknown fields stay empty).
pub fn host_facts() -> HostFacts {
    let mut sys = System::new().ok();
    if let Some(s) = sys.as_mut() {
        s.refresh_memory();
        s.refresh_cpu_list(CpuRefreshKind::nothing());
    }
    HostFacts {
        hostname: System::host_name().unwrap_or_default(),
        cpu_model: sys
            .as_ref()
            .and_then(|s| s.cpus().first().map(|c| c.brand().to_string()))
            .unwrap_or_default(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        memory_bytes: sys.as_ref().map_or(0, System::total_memory),
        kernel: System::kernel_version().unwrap_or_default(),
        os: System::long_os_version().unwrap_or_default(),
    }
}
