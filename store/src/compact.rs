//! Compaction: journal and per-attempt sample CSVs → the Parquet and CSV tables (polars),
//! with the node series of [`crate::nodes`].

use std::path::Path;

use polars::prelude::*;

use crate::columns::{JOBS, MACHINE, NODES, SAMPLES};
use crate::{
    fsio, AttemptStatus, JobRecord, MachineRow, NodeRow, RunInfo, RunStore, SampleRow, StoreError,
};

/// What compaction wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactSummary {
    /// Rows of `jobs` (attempts).
    pub jobs: usize,
    /// Rows of `samples`.
    pub samples: usize,
    /// Rows of `nodes`.
    pub node_rows: usize,
    /// Rows of `machine`.
    pub machine_rows: usize,
    /// The measurement conditions over the machine series and the jobs (none without two
    /// machine samples: a simulated store).
    pub conditions: Option<crate::Conditions>,
}

/// Writes `jobs`, `samples`, `nodes` and `machine` as Parquet and CSV from the journal and
/// the samples files. Samples of attempts the journal does not know (none, after a resume
/// has recorded what a killed harness left) are kept in `samples` all the same.
///
/// # Errors
/// When a file cannot be read or a table cannot be written.
pub fn compact(store: &RunStore) -> Result<CompactSummary, StoreError> {
    compact_with(store, &store.read_info()?)
}

/// [`compact`] with `run.json` as the caller holds it (about to be written).
///
/// # Errors
/// When a file cannot be read or a table cannot be written.
pub fn compact_with(store: &RunStore, info: &RunInfo) -> Result<CompactSummary, StoreError> {
    let mut jobs = store.read_jobs()?;
    let accounting = store.read_accounting()?;
    for j in &mut jobs {
        j.accounting = accounting.get(&j.attempt_id).copied();
    }
    let mut rows = Vec::new();
    for id in store.sampled_attempts()? {
        rows.extend(store.read_samples(&id)?);
    }
    let machine = read_machine(&store.machine_csv())?;
    let nodes = crate::nodes::nodes_of(info, &jobs, &rows);
    write_tables(store.dir(), info, &jobs, &rows, &nodes, &machine)
}

/// Writes the four tables from typed rows (compaction, and stores built from other sources).
///
/// # Errors
/// When a table cannot be built or written.
pub fn write_tables(
    dir: &Path,
    info: &RunInfo,
    jobs: &[JobRecord],
    samples: &[SampleRow],
    nodes: &[NodeRow],
    machine: &[MachineRow],
) -> Result<CompactSummary, StoreError> {
    let err = |name: &str| {
        let path = dir.join(format!("{name}.parquet"));
        move |source| StoreError::Table { path, source }
    };
    let mut jobs_df = frame(&JOBS, |c| job_column(c, jobs)).map_err(err("jobs"))?;
    write_table(dir, "jobs", &mut jobs_df)?;
    let mut samples_df = frame(&SAMPLES, |c| sample_column(c, samples)).map_err(err("samples"))?;
    write_table(dir, "samples", &mut samples_df)?;
    let mut nodes_df = frame(&NODES, |c| node_column(c, nodes)).map_err(err("nodes"))?;
    write_table(dir, "nodes", &mut nodes_df)?;
    let mut machine_df =
        frame(&MACHINE, |c| machine_column(c, machine, info)).map_err(err("machine"))?;
    write_table(dir, "machine", &mut machine_df)?;
    Ok(CompactSummary {
        jobs: jobs.len(),
        samples: samples.len(),
        node_rows: nodes.len(),
        machine_rows: machine.len(),
        conditions: crate::Conditions::measure(machine, jobs, info.host.cpus),
    })
}

fn frame(names: &[&str], column: impl Fn(&str) -> Option<Series>) -> PolarsResult<DataFrame> {
    let cols = names
        .iter()
        .map(|&n| {
            column(n).map(Column::from).ok_or_else(|| {
                PolarsError::ColumnNotFound(format!("no writer for column {n}").into())
            })
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new_infer_height(cols)
}

fn job_column(name: &str, jobs: &[JobRecord]) -> Option<Series> {
    let n = name.into();
    let s = |f: fn(&JobRecord) -> String| Series::new(n, jobs.iter().map(f).collect::<Vec<_>>());
    let fl =
        |f: fn(&JobRecord) -> f64| Series::new(name.into(), jobs.iter().map(f).collect::<Vec<_>>());
    let u =
        |f: fn(&JobRecord) -> u64| Series::new(name.into(), jobs.iter().map(f).collect::<Vec<_>>());
    let ou = |f: fn(&JobRecord) -> Option<u64>| {
        Series::new(name.into(), jobs.iter().map(f).collect::<Vec<_>>())
    };
    let oi = |f: fn(&JobRecord) -> Option<i32>| {
        Series::new(name.into(), jobs.iter().map(f).collect::<Vec<_>>())
    };
    let of = |f: fn(&JobRecord) -> Option<f64>| {
        Series::new(name.into(), jobs.iter().map(f).collect::<Vec<_>>())
    };
    let os = |f: fn(&JobRecord) -> Option<String>| {
        Series::new(name.into(), jobs.iter().map(f).collect::<Vec<_>>())
    };
    let b = |f: fn(&JobRecord) -> bool| {
        Series::new(name.into(), jobs.iter().map(f).collect::<Vec<_>>())
    };
    Some(match name {
        "attempt_id" => s(|j| j.attempt_id.clone()),
        "job_id" => s(|j| j.job_id.clone()),
        "stage" => s(|j| j.stage.clone()),
        "target" => s(|j| j.target.clone()),
        "atlas" => os(|j| j.atlas.clone()),
        "node" => s(|j| j.node.clone()),
        "attempt" => Series::new(
            name.into(),
            jobs.iter().map(|j| j.attempt).collect::<Vec<u32>>(),
        ),
        "status" => s(|j| j.status.as_str().to_string()),
        "mem_request" => ou(|j| j.mem_request),
        "voxels" => ou(|j| j.voxels),
        "threads" => u(|j| j.threads as u64),
        "start_s" => fl(|j| j.start_s),
        "end_s" => fl(|j| j.end_s),
        "wall_s" => fl(|j| j.totals.wall_s),
        "exit_code" => oi(|j| j.totals.exit_code),
        "signal" => oi(|j| j.totals.signal),
        "oom_killed" => b(|j| j.status == AttemptStatus::OomKilled),
        "cpu_s" => fl(|j| j.totals.cpu_s()),
        "cpu_user_s" => fl(|j| j.totals.cpu_user_s),
        "cpu_sys_s" => fl(|j| j.totals.cpu_sys_s),
        "peak_rss" => u(|j| j.totals.peak_rss),
        "peak_rss_anon" => u(|j| j.totals.peak_rss_anon),
        "peak_hwm_sum" => u(|j| j.totals.peak_hwm_sum),
        "max_rss_largest_process" => u(|j| j.totals.max_rss_largest_process),
        "rchar" => u(|j| j.totals.rchar),
        "wchar" => u(|j| j.totals.wchar),
        "read_bytes" => u(|j| j.totals.read_bytes),
        "write_bytes" => u(|j| j.totals.write_bytes),
        "samples" => u(|j| j.totals.samples),
        "agent_cpu_s" => fl(|j| j.totals.agent_cpu_s),
        "tick_late_p50_ms" => fl(|j| j.totals.tick_late_p50_ms),
        "tick_late_p99_ms" => fl(|j| j.totals.tick_late_p99_ms),
        "executor_job_id" => os(|j| j.executor_job_id.clone()),
        "totals_from_samples" => b(|j| j.totals.from_samples),
        "involuntary_switches" => u(|j| j.totals.involuntary_switches),
        "acct_cpu_s" => of(|j| j.accounting.map(|a| a.cpu_s)),
        "acct_max_rss" => ou(|j| j.accounting.map(|a| a.max_rss)),
        "acct_elapsed_s" => of(|j| j.accounting.map(|a| a.elapsed_s)),
        _ => return None,
    })
}

fn sample_column(name: &str, rows: &[SampleRow]) -> Option<Series> {
    let fl =
        |f: fn(&SampleRow) -> f64| Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    let u =
        |f: fn(&SampleRow) -> u64| Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    Some(match name {
        "attempt_id" => Series::new(
            name.into(),
            rows.iter()
                .map(|r| r.attempt_id.clone())
                .collect::<Vec<_>>(),
        ),
        "t" => fl(|r| r.t),
        "unix" => fl(|r| r.unix),
        "cpu_core_pct" => fl(|r| r.cpu_core_pct),
        "cpu_s" => fl(|r| r.cpu_s),
        "rss" => u(|r| r.rss),
        "rss_anon" => u(|r| r.rss_anon),
        "hwm_sum" => u(|r| r.hwm_sum),
        "rchar" => u(|r| r.rchar),
        "wchar" => u(|r| r.wchar),
        "read_bytes" => u(|r| r.read_bytes),
        "write_bytes" => u(|r| r.write_bytes),
        "threads" => u(|r| r.threads),
        "processes" => u(|r| r.processes),
        "late_ms" => fl(|r| r.late_ms),
        _ => return None,
    })
}

fn node_column(name: &str, rows: &[NodeRow]) -> Option<Series> {
    let fl =
        |f: fn(&NodeRow) -> f64| Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    let u =
        |f: fn(&NodeRow) -> u64| Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    Some(match name {
        "node" => Series::new(
            name.into(),
            rows.iter().map(|r| r.node.clone()).collect::<Vec<_>>(),
        ),
        "t" => fl(|r| r.t),
        "jobs_running" => u(|r| r.jobs_running),
        "cpu_node_pct" => fl(|r| r.cpu_node_pct),
        "rss" => u(|r| r.rss),
        "rss_anon" => u(|r| r.rss_anon),
        "rchar" => u(|r| r.io[0]),
        "wchar" => u(|r| r.io[1]),
        "read_bytes" => u(|r| r.io[2]),
        "write_bytes" => u(|r| r.io[3]),
        "rchar_per_s" => fl(|r| r.rates[0]),
        "wchar_per_s" => fl(|r| r.rates[1]),
        "read_bytes_per_s" => fl(|r| r.rates[2]),
        "write_bytes_per_s" => fl(|r| r.rates[3]),
        _ => return None,
    })
}

fn machine_column(name: &str, rows: &[MachineRow], info: &RunInfo) -> Option<Series> {
    let fl = |f: &dyn Fn(&MachineRow) -> f64| {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let u = |f: &dyn Fn(&MachineRow) -> u64| {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let ofl = |f: &dyn Fn(&MachineRow) -> Option<f64>| {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let ou = |f: &dyn Fn(&MachineRow) -> Option<u64>| {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    // Disk counters since the run started, not since boot.
    let first = rows.first().copied().unwrap_or_default();
    Some(match name {
        "t" => fl(&|r| info.run_clock(r.unix)),
        "unix" => fl(&|r| r.unix),
        "cpu_machine_pct" => fl(&|r| r.cpu_machine_pct),
        "mem_used" => u(&|r| r.mem_used),
        "mem_total" => u(&|r| r.mem_total),
        "disk_read_bytes" => u(&|r| r.disk_read_bytes.saturating_sub(first.disk_read_bytes)),
        "disk_write_bytes" => u(&|r| r.disk_write_bytes.saturating_sub(first.disk_write_bytes)),
        "cpu_busy_s" => ofl(&|r| r.sensors.cpu_busy_s),
        "cpu_steal_s" => ofl(&|r| r.sensors.cpu_steal_s),
        "own_cpu_s" => ofl(&|r| r.sensors.own_cpu_s),
        "swap_in_pages" => ou(&|r| r.sensors.swap_in_pages),
        "swap_out_pages" => ou(&|r| r.sensors.swap_out_pages),
        psi => {
            let i = crate::conditions::PSI.iter().position(|p| *p == psi)?;
            ou(&|r| r.sensors.psi_us[i])
        }
    })
}

fn write_table(dir: &Path, name: &str, df: &mut DataFrame) -> Result<(), StoreError> {
    let parquet = dir.join(format!("{name}.parquet"));
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .finish(df)
        .map_err(|source| StoreError::Table {
            path: parquet.clone(),
            source,
        })?;
    fsio::write_atomic(&parquet, &buf)?;
    let csv = dir.join(format!("{name}.csv"));
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .finish(df)
        .map_err(|source| StoreError::Table {
            path: csv.clone(),
            source,
        })?;
    fsio::write_atomic(&csv, &buf)
}

fn read_machine(path: &Path) -> Result<Vec<MachineRow>, StoreError> {
    match fsio::read_regular(path) {
        Ok(bytes) => Ok(bytes
            .split(|b| *b == b'\n')
            .filter_map(MachineRow::parse)
            .collect()),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}
