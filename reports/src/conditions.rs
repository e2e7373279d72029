//! The report's "Measurement conditions": what the run's noise sensors saw
//! (`run.json` → `conditions`), with warnings in words where a figure is disturbed, in the
//! manner of hyperfine's and pyperf's warnings about a busy system.

use std::fmt::Write as _;

use atlasperf_store::{Conditions, RunInfo};

use crate::table::bytes;

/// Foreign load from which times are called inflated, cores (a quiet machine shows < 0.05).
pub const FOREIGN_WARN_CORES: f64 = 0.1;
/// Steal time from which the hypervisor is said to have taken CPU.
const STEAL_WARN: f64 = 0.01;
/// Memory stall (PSI memory full) from which memory pressure is named.
const MEMORY_FULL_WARN: f64 = 0.01;

/// The warnings the conditions call for, most disturbing first; empty on a quiet machine.
pub fn warnings(c: &Conditions) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(f) = c
        .foreign_cpu_cores_mean
        .filter(|f| *f >= FOREIGN_WARN_CORES)
    {
        w.push(format!(
            "{f:.1} cores of CPU went to processes outside this run (of {} CPUs); times are inflated",
            c.cpus
        ));
    }
    if let Some(s) = c.steal_fraction.filter(|s| *s >= STEAL_WARN) {
        w.push(format!(
            "the hypervisor took {:.1} % of CPU time (steal); times are inflated",
            100.0 * s
        ));
    }
    let swapped = c.swap_in_bytes.unwrap_or(0) + c.swap_out_bytes.unwrap_or(0);
    if swapped > 0 {
        w.push(format!(
            "the machine swapped {} during the run; memory and time figures are disturbed",
            bytes(swapped as f64)
        ));
    }
    if let Some(m) = c
        .psi_memory_full_fraction
        .filter(|m| *m >= MEMORY_FULL_WARN)
    {
        w.push(format!(
            "every task stalled on memory {:.1} % of the time (PSI memory full)",
            100.0 * m
        ));
    }
    w
}

/// One line for `summary.md`'s header.
pub fn headline(info: &RunInfo) -> String {
    match &info.conditions {
        None if info.notes.simulation.is_some() => String::new(),
        None if info.notes.import.is_some() => "Measurement conditions: not known (an imported run: the source did not record the machine's noise).".into(),
        None => "Measurement conditions: not recorded (a store written before the noise sensors, or one that did not finish).".into(),
        Some(c) => {
            let w = warnings(c);
            if w.is_empty() {
                format!(
                    "Measurement conditions: quiet ({} of foreign CPU on average).",
                    cores(c.foreign_cpu_cores_mean)
                )
            } else {
                format!("Measurement conditions: **warning** — {}.", w.join("; "))
            }
        }
    }
}

fn cores(v: Option<f64>) -> String {
    v.map_or("unknown".into(), |v| format!("{v:.2} cores"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("not measured".into(), |v| format!("{:.1} %", 100.0 * v))
}

/// The "Measurement conditions" section (empty for a simulated run).
pub fn markdown(info: &RunInfo) -> String {
    let Some(c) = &info.conditions else {
        return if info.notes.simulation.is_some() {
            String::new()
        } else {
            format!("\n### Measurement conditions\n\n{}\n", headline(info))
        };
    };
    let mut s = String::from("\n### Measurement conditions\n\n");
    for w in warnings(c) {
        let _ = writeln!(s, "- **Warning:** {w}.");
    }
    let _ = writeln!(
        s,
        "- Over {:.1} s of machine samples on {} CPUs: foreign CPU {} on average, the run's own {} (jobs, agents, harness).",
        c.window_s,
        c.cpus,
        cores(c.foreign_cpu_cores_mean),
        cores(c.own_cpu_cores_mean)
    );
    let _ = writeln!(
        s,
        "- Steal {}; CPU pressure (some task waiting for a CPU, the run's own oversubscription included) {}; memory pressure some {} / full {}; I/O pressure some {}.",
        pct(c.steal_fraction),
        pct(c.psi_cpu_some_fraction),
        pct(c.psi_memory_some_fraction),
        pct(c.psi_memory_full_fraction),
        pct(c.psi_io_some_fraction)
    );
    let swap = |v: Option<u64>| v.map_or("not measured".into(), |v| bytes(v as f64));
    let _ = writeln!(
        s,
        "- Swapped in {}, out {}; the jobs were switched out involuntarily {} times per CPU-second.",
        swap(c.swap_in_bytes),
        swap(c.swap_out_bytes),
        c.involuntary_switches_per_cpu_s
            .map_or("an unknown number of".into(), |v| format!("{v:.1}"))
    );
    for a in &c.absent {
        let _ = writeln!(s, "- Not measured on this machine: {a}.");
    }
    s
}
