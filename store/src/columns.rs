//! Column names of every table, in order: the one place they are spelled. The writers and
//! readers of this crate use them, and a test checks `docs/run-store.md` lists the same.

/// `jobs` (one row per attempt; also the keys of a `jobs.jsonl` record).
pub const JOBS: [&str; 38] = [
    "attempt_id",
    "job_id",
    "stage",
    "target",
    "atlas",
    "node",
    "attempt",
    "status",
    "mem_request",
    "voxels",
    "threads",
    "start_s",
    "end_s",
    "wall_s",
    "exit_code",
    "signal",
    "oom_killed",
    "cpu_s",
    "cpu_user_s",
    "cpu_sys_s",
    "peak_rss",
    "peak_rss_anon",
    "peak_hwm_sum",
    "max_rss_largest_process",
    "rchar",
    "wchar",
    "read_bytes",
    "write_bytes",
    "samples",
    "agent_cpu_s",
    "tick_late_p50_ms",
    "tick_late_p99_ms",
    "executor_job_id",
    "totals_from_samples",
    "involuntary_switches",
    "acct_cpu_s",
    "acct_max_rss",
    "acct_elapsed_s",
];

/// `samples` (long format), and the header of each `samples/<attempt>.csv`.
pub const SAMPLES: [&str; 15] = [
    "attempt_id",
    "t",
    "unix",
    "cpu_core_pct",
    "cpu_s",
    "rss",
    "rss_anon",
    "hwm_sum",
    "rchar",
    "wchar",
    "read_bytes",
    "write_bytes",
    "threads",
    "processes",
    "late_ms",
];

/// `nodes` (per node, on a grid of the sampling period).
pub const NODES: [&str; 14] = [
    "node",
    "t",
    "jobs_running",
    "cpu_node_pct",
    "rss",
    "rss_anon",
    "rchar",
    "wchar",
    "read_bytes",
    "write_bytes",
    "rchar_per_s",
    "wchar_per_s",
    "read_bytes_per_s",
    "write_bytes_per_s",
];

/// `machine` (the whole machine, sampled by the harness).
pub const MACHINE: [&str; 18] = [
    "t",
    "unix",
    "cpu_machine_pct",
    "mem_used",
    "mem_total",
    "disk_read_bytes",
    "disk_write_bytes",
    "cpu_busy_s",
    "cpu_steal_s",
    "own_cpu_s",
    "psi_cpu_some_us",
    "psi_cpu_full_us",
    "psi_memory_some_us",
    "psi_memory_full_us",
    "psi_io_some_us",
    "psi_io_full_us",
    "swap_in_pages",
    "swap_out_pages",
];

/// Header of `samples/machine.node.csv` while running: `machine` without `t`.
pub fn machine_csv() -> &'static [&'static str] {
    &MACHINE[1..]
}

#[cfg(test)]
mod tests {
    /// The column names of a section of `docs/run-store.md`: every backticked name in the
    /// first cell of its table's rows, in order.
    fn documented(doc: &str, heading: &str) -> Vec<String> {
        let Some(start) = doc.find(&format!("\n## {heading}")) else {
            return Vec::new();
        };
        let section = &doc[start + 1..];
        let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
        section[..end]
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| {
                let cell = l.split('|').nth(1).unwrap_or("");
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_users_document_lists_exactly_these_columns() {
        // At run time, not `env!`: a test binary may be reused from another checkout.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests");
        let path = std::path::Path::new(&dir).join("../docs/run-store.md");
        let doc =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (heading, columns) in [
            ("jobs", &super::JOBS[..]),
            ("samples", &super::SAMPLES[..]),
            ("nodes", &super::NODES[..]),
            ("machine", &super::MACHINE[..]),
        ] {
            assert_eq!(
                documented(&doc, heading),
                columns,
                "docs/run-store.md section `{heading}` against the store's columns"
            );
        }
    }
}
