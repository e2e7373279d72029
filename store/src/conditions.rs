//! Measurement conditions: how quiet the machine was while a run measured it.
//!
//! The machine series carries cumulative counters ([`Sensors`]) read from `/proc/stat`
//! (busy and steal time over all CPUs), `/proc/pressure/{cpu,memory,io}` (PSI `total`, µs),
//! `/proc/vmstat` (`pswpin`, `pswpout`) and the harness's own rusage. Their deltas over the
//! run's sampled time give [`Conditions`], stored in `run.json`: above all the *foreign* CPU —
//! the machine's busy time less what the run's jobs, agents and harness used — which inflates
//! every time the run measured when it is not zero.
//!
//! A sensor the machine lacks (a kernel without PSI, a hypervisor that reports no steal) is
//! `None` and named in [`Conditions::absent`], never reported as 0.

use serde::{Deserialize, Serialize};

use crate::{JobRecord, MachineRow};

/// Cumulative counters read with each machine sample; `None` where the machine has no such
/// sensor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sensors {
    /// Busy CPU time over all CPUs since boot (user, nice, system, irq, softirq), s.
    pub cpu_busy_s: Option<f64>,
    /// Steal time over all CPUs since boot, s.
    pub cpu_steal_s: Option<f64>,
    /// CPU time of the harness process itself (all its threads), s.
    pub own_cpu_s: Option<f64>,
    /// PSI `total` of `cpu`, `memory`, `io`, each as (some, full), µs.
    pub psi_us: [Option<u64>; 6],
    /// Pages swapped in since boot.
    pub swap_in_pages: Option<u64>,
    /// Pages swapped out since boot.
    pub swap_out_pages: Option<u64>,
}

/// Where the PSI counters stand among the `machine` columns, in [`Sensors::psi_us`] order.
const PSI_AT: usize = 10;

/// Names of the PSI counters, in [`Sensors::psi_us`] order (spelled once, in
/// [`crate::columns::MACHINE`]).
pub const PSI: [&str; 6] = {
    let m = crate::columns::MACHINE;
    [
        m[PSI_AT],
        m[PSI_AT + 1],
        m[PSI_AT + 2],
        m[PSI_AT + 3],
        m[PSI_AT + 4],
        m[PSI_AT + 5],
    ]
};

/// Bytes of one swapped page as `/proc/vmstat` counts them.
const PAGE: u64 = 4096;

/// How quiet the machine was over the run's sampled time (`run.json` → `conditions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// Seconds of machine samples the figures below cover (idle gaps of a resume left out).
    pub window_s: f64,
    /// CPUs of the machine.
    pub cpus: usize,
    /// Cores' worth of CPU used by processes outside the run, averaged over the window.
    pub foreign_cpu_cores_mean: Option<f64>,
    /// Cores' worth of CPU the run itself used (jobs, agents, harness), averaged over the window.
    pub own_cpu_cores_mean: Option<f64>,
    /// Steal time as a fraction of all CPU time.
    pub steal_fraction: Option<f64>,
    /// Fraction of the window some task waited for a CPU (PSI cpu some).
    pub psi_cpu_some_fraction: Option<f64>,
    /// Fraction of the window some task waited for memory (PSI memory some).
    pub psi_memory_some_fraction: Option<f64>,
    /// Fraction of the window all non-idle tasks waited for memory (PSI memory full).
    pub psi_memory_full_fraction: Option<f64>,
    /// Fraction of the window some task waited for I/O (PSI io some).
    pub psi_io_some_fraction: Option<f64>,
    /// Bytes swapped in over the window.
    pub swap_in_bytes: Option<u64>,
    /// Bytes swapped out over the window.
    pub swap_out_bytes: Option<u64>,
    /// Involuntary context switches of the run's jobs per CPU-second they used.
    pub involuntary_switches_per_cpu_s: Option<f64>,
    /// Sensors this machine does not have, in words.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// Longest gap between two machine samples that still counts as one stretch of sampling, s;
/// a longer one is the idle time between a killed harness and its resume.
const MAX_GAP_S: f64 = 5.0;

impl Conditions {
    /// The conditions over a run's machine series and its job records; `None` without two
    /// machine samples (a simulated or imported store).
    pub fn measure(machine: &[MachineRow], jobs: &[JobRecord], cpus: usize) -> Option<Self> {
        let mut rows: Vec<&MachineRow> = machine.iter().collect();
        rows.sort_by(|a, b| a.unix.total_cmp(&b.unix));
        let pairs: Vec<(&MachineRow, &MachineRow)> = rows
            .windows(2)
            .map(|w| (w[0], w[1]))
            .filter(|(a, b)| b.unix > a.unix && b.unix - a.unix <= MAX_GAP_S)
            .collect();
        let window_s: f64 = pairs.iter().map(|(a, b)| b.unix - a.unix).sum();
        if window_s <= 0.0 {
            return None;
        }
        // A counter's increase summed over consecutive readings of it (some sensors are read
        // once a second, not every tick) and the seconds those readings span; None without
        // two readings in one stretch.
        let delta = |f: &dyn Fn(&MachineRow) -> Option<f64>| -> Option<(f64, f64)> {
            let read: Vec<(f64, f64)> = rows.iter().filter_map(|r| Some((r.unix, f(r)?))).collect();
            let spans: Vec<(f64, f64)> = read
                .windows(2)
                .filter(|w| w[1].0 > w[0].0 && w[1].0 - w[0].0 <= MAX_GAP_S)
                .map(|w| ((w[1].1 - w[0].1).max(0.0), w[1].0 - w[0].0))
                .collect();
            (!spans.is_empty()).then(|| {
                spans
                    .iter()
                    .fold((0.0, 0.0), |(d, t), (dd, dt)| (d + dd, t + dt))
            })
        };
        let total = |f: &dyn Fn(&MachineRow) -> Option<f64>| delta(f).map(|(d, _)| d);
        let busy = total(&|r| r.sensors.cpu_busy_s);
        let steal = total(&|r| r.sensors.cpu_steal_s);
        let own_harness = total(&|r| r.sensors.own_cpu_s).unwrap_or(0.0);
        let psi: Vec<Option<f64>> = (0..PSI.len())
            .map(|i| {
                delta(&|r| r.sensors.psi_us[i].map(|v| v as f64))
                    .map(|(us, secs)| us / 1e6 / secs.max(1e-9))
            })
            .collect();
        let swap = |f: &dyn Fn(&MachineRow) -> Option<u64>| {
            total(&|r| f(r).map(|v| v as f64)).map(|p| p as u64 * PAGE)
        };
        let have_psi = rows
            .iter()
            .any(|r| r.sensors.psi_us.iter().any(Option::is_some));
        // Each attempt's CPU counts for the part of its life the machine samples cover (a job
        // that started before the first sample or ended after the last is prorated).
        let covered = |j: &JobRecord| -> f64 {
            let (s, e) = (j.totals.start_unix, j.totals.end_unix);
            if e <= s {
                return 0.0;
            }
            let overlap: f64 = pairs
                .iter()
                .map(|(a, b)| (e.min(b.unix) - s.max(a.unix)).max(0.0))
                .sum();
            (overlap / (e - s)).min(1.0)
        };
        let (mut jobs_cpu, mut job_cpu, mut switches) = (0.0, 0.0, 0.0);
        for j in jobs {
            let f = covered(j);
            jobs_cpu += f * (j.totals.cpu_s() + j.totals.agent_cpu_s);
            job_cpu += f * j.totals.cpu_s();
            switches += f * j.totals.involuntary_switches as f64;
        }
        let own = jobs_cpu + own_harness;
        let mut absent = Vec::new();
        if busy.is_none() {
            absent.push("busy CPU time (/proc/stat): foreign load unknown".to_string());
        }
        if steal.is_none() {
            absent.push("steal time (/proc/stat has no steal column)".to_string());
        }
        if !have_psi {
            absent.push(
                "pressure stall information (/proc/pressure: kernel without PSI)".to_string(),
            );
        }
        let all = busy.zip(steal).map(|(b, s)| b + s);
        Some(Self {
            window_s,
            cpus,
            foreign_cpu_cores_mean: busy.map(|b| ((b - own) / window_s).max(0.0)),
            own_cpu_cores_mean: Some(own / window_s),
            steal_fraction: steal
                .zip(all)
                .map(|(s, a)| if a > 0.0 { s / a } else { 0.0 }),
            psi_cpu_some_fraction: psi[0],
            psi_memory_some_fraction: psi[2],
            psi_memory_full_fraction: psi[3],
            psi_io_some_fraction: psi[4],
            swap_in_bytes: swap(&|r| r.sensors.swap_in_pages),
            swap_out_bytes: swap(&|r| r.sensors.swap_out_pages),
            involuntary_switches_per_cpu_s: (job_cpu > 0.0).then(|| switches / job_cpu),
            absent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Totals;

    fn row(t: f64, busy: f64, own: f64) -> MachineRow {
        MachineRow {
            unix: 1000.0 + t,
            sensors: Sensors {
                cpu_busy_s: Some(busy),
                cpu_steal_s: Some(0.01 * t),
                own_cpu_s: Some(own),
                psi_us: [Some((t * 2e5) as u64), Some(0), None, None, None, None],
                swap_in_pages: Some(0),
                swap_out_pages: Some(3),
            },
            ..MachineRow::default()
        }
    }

    fn job(start: f64, end: f64, cpu: f64) -> JobRecord {
        JobRecord::ok_for_test(
            "j.1",
            start,
            end,
            Totals {
                start_unix: 1000.0 + start,
                end_unix: 1000.0 + end,
                wall_s: end - start,
                cpu_user_s: cpu,
                agent_cpu_s: 0.1,
                involuntary_switches: 50,
                ..Totals::default()
            },
        )
    }

    #[test]
    fn the_psi_names_are_the_machine_tables_psi_columns() {
        assert_eq!(PSI[0], "psi_cpu_some_us");
        assert_eq!(PSI[5], "psi_io_full_us");
        assert!(PSI
            .iter()
            .all(|p| p.starts_with("psi_") && p.ends_with("_us")));
    }

    #[test]
    fn foreign_load_is_busy_time_less_the_runs_own() {
        // 10 s on 2 CPUs, 15 CPU-seconds busy: the jobs used 9.8 + 0.2, the harness 1, so
        // 4 CPU-seconds (0.4 cores) went elsewhere.
        let rows: Vec<MachineRow> = (0..=10)
            .map(|t| row(t as f64, 1.5 * t as f64, 0.1 * t as f64))
            .collect();
        let jobs = [job(0.5, 5.0, 4.9), job(5.0, 9.5, 4.9)];
        let c = Conditions::measure(&rows, &jobs, 2).unwrap_or_else(|| panic!("no conditions"));
        assert!((c.window_s - 10.0).abs() < 1e-9);
        let f = c.foreign_cpu_cores_mean.unwrap_or(f64::NAN);
        assert!((f - 0.4).abs() < 1e-9, "{f}");
        assert!((c.psi_cpu_some_fraction.unwrap_or(0.0) - 0.2).abs() < 1e-9);
        assert_eq!(c.psi_memory_some_fraction, None);
        assert_eq!(c.swap_out_bytes, Some(0));
        assert!((c.involuntary_switches_per_cpu_s.unwrap_or(0.0) - 100.0 / 9.8).abs() < 1e-9);
        assert!(c.absent.is_empty());
    }

    #[test]
    fn a_job_outside_the_samples_counts_for_the_part_they_cover() {
        // Samples cover 0–10 s; a job ran 5–15 s with 10 CPU-seconds: half of it counts.
        let rows: Vec<MachineRow> = (0..=10).map(|t| row(t as f64, t as f64, 0.0)).collect();
        let mut j = job(5.0, 15.0, 9.9);
        j.totals.agent_cpu_s = 0.1;
        let c = Conditions::measure(&rows, &[j], 2).unwrap_or_else(|| panic!("no conditions"));
        // Busy 10 CPU-seconds, 5 of them the job's: 0.5 cores foreign.
        let f = c.foreign_cpu_cores_mean.unwrap_or(f64::NAN);
        assert!((f - 0.5).abs() < 1e-9, "{f}");
    }

    #[test]
    fn the_idle_gap_of_a_resume_is_left_out_and_absent_sensors_are_named() {
        let mut rows: Vec<MachineRow> = (0..=4).map(|t| row(t as f64, t as f64, 0.0)).collect();
        rows.extend((100..=104).map(|t| row(t as f64, t as f64 - 50.0, 0.0)));
        for r in &mut rows {
            r.sensors.psi_us = [None; 6];
            r.sensors.cpu_steal_s = None;
        }
        let c = Conditions::measure(&rows, &[], 2).unwrap_or_else(|| panic!("no conditions"));
        assert!((c.window_s - 8.0).abs() < 1e-9);
        assert!((c.foreign_cpu_cores_mean.unwrap_or(0.0) - 1.0).abs() < 1e-9);
        assert_eq!(c.steal_fraction, None);
        assert_eq!(c.absent.len(), 2, "{:?}", c.absent);
        assert_eq!(Conditions::measure(&rows[..1], &[], 2), None);
    }
}
