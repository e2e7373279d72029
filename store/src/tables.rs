//! Readers of the compacted tables, back into the typed rows.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::columns::{JOBS, NODES, SAMPLES};
use crate::{Accounting, AttemptStatus, JobRecord, SampleRow, StoreError, Totals};

/// One row of the `nodes` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeRow {
    /// Node name.
    pub node: String,
    /// Seconds on the run clock.
    pub t: f64,
    /// Attempts running at `t`.
    pub jobs_running: u64,
    /// CPU, % of the node's cores.
    pub cpu_node_pct: f64,
    /// Σ RSS of its running attempts, bytes.
    pub rss: u64,
    /// Σ RssAnon, bytes.
    pub rss_anon: u64,
    /// Cumulative rchar, wchar, read_bytes, write_bytes.
    pub io: [u64; 4],
    /// The same four as rates, bytes/s.
    pub rates: [f64; 4],
}

/// Columns a table may lack without being malformed (added after schema 1 was set).
const OPTIONAL: [&str; 6] = [
    "executor_job_id",
    "totals_from_samples",
    "involuntary_switches",
    "acct_cpu_s",
    "acct_max_rss",
    "acct_elapsed_s",
];

struct Table {
    path: PathBuf,
    df: DataFrame,
}

impl Table {
    fn read(path: &Path) -> Result<Self, StoreError> {
        let f = File::open(path).map_err(crate::io_err(path))?;
        let df = ParquetReader::new(f)
            .finish()
            .map_err(|source| StoreError::Table {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            df,
        })
    }

    fn err(&self, source: PolarsError) -> StoreError {
        StoreError::Table {
            path: self.path.clone(),
            source,
        }
    }

    fn column(&self, name: &str, dtype: &DataType) -> Result<Option<Series>, StoreError> {
        // Schema 1 named the CPU columns of every table `cpu_pct`.
        let name = match name {
            "cpu_core_pct" | "cpu_node_pct" | "cpu_machine_pct"
                if self.df.column(name).is_err() && self.df.column("cpu_pct").is_ok() =>
            {
                "cpu_pct"
            }
            _ => name,
        };
        match self.df.column(name) {
            Ok(c) => Ok(Some(
                c.as_materialized_series()
                    .cast(dtype)
                    .map_err(|e| self.err(e))?,
            )),
            Err(_) if OPTIONAL.contains(&name) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>, StoreError> {
        Ok(match self.column(name, &DataType::Float64)? {
            Some(s) => s.f64().map_err(|e| self.err(e))?.iter().collect(),
            None => vec![None; self.df.height()],
        })
    }

    fn u64s(&self, name: &str) -> Result<Vec<Option<u64>>, StoreError> {
        Ok(match self.column(name, &DataType::UInt64)? {
            Some(s) => s.u64().map_err(|e| self.err(e))?.iter().collect(),
            None => vec![None; self.df.height()],
        })
    }

    fn i32s(&self, name: &str) -> Result<Vec<Option<i32>>, StoreError> {
        Ok(match self.column(name, &DataType::Int32)? {
            Some(s) => s.i32().map_err(|e| self.err(e))?.iter().collect(),
            None => vec![None; self.df.height()],
        })
    }

    fn bools(&self, name: &str) -> Result<Vec<Option<bool>>, StoreError> {
        Ok(match self.column(name, &DataType::Boolean)? {
            Some(s) => s.bool().map_err(|e| self.err(e))?.iter().collect(),
            None => vec![None; self.df.height()],
        })
    }

    /// Calls `f` with each row's index and value of a column, skipping nulls (the caller's
    /// default stands); nothing when the column is absent.
    fn each_f64(&self, name: &str, mut f: impl FnMut(usize, f64)) -> Result<(), StoreError> {
        if let Some(s) = self.column(name, &DataType::Float64)? {
            let a = s.f64().map_err(|e| self.err(e))?;
            a.iter()
                .enumerate()
                .for_each(|(i, v)| v.into_iter().for_each(|v| f(i, v)));
        }
        Ok(())
    }

    /// [`Self::each_f64`] for a count column.
    fn each_u64(&self, name: &str, mut f: impl FnMut(usize, u64)) -> Result<(), StoreError> {
        if let Some(s) = self.column(name, &DataType::UInt64)? {
            let a = s.u64().map_err(|e| self.err(e))?;
            a.iter()
                .enumerate()
                .for_each(|(i, v)| v.into_iter().for_each(|v| f(i, v)));
        }
        Ok(())
    }

    /// [`Self::each_f64`] for a text column.
    fn each_str(&self, name: &str, mut f: impl FnMut(usize, &str)) -> Result<(), StoreError> {
        if let Some(s) = self.column(name, &DataType::String)? {
            let a = s.str().map_err(|e| self.err(e))?;
            a.iter()
                .enumerate()
                .for_each(|(i, v)| v.into_iter().for_each(|v| f(i, v)));
        }
        Ok(())
    }

    fn strs(&self, name: &str) -> Result<Vec<Option<String>>, StoreError> {
        Ok(match self.column(name, &DataType::String)? {
            Some(s) => s
                .str()
                .map_err(|e| self.err(e))?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect(),
            None => vec![None; self.df.height()],
        })
    }
}

/// Reads `jobs.parquet` into job records.
///
/// # Errors
/// A missing file, a missing column or an unknown status, named.
pub fn read_jobs_table(path: &Path) -> Result<Vec<JobRecord>, StoreError> {
    let t = Table::read(path)?;
    let [attempt_id, job_id, stage, target, atlas, node, _, status, ..] = JOBS;
    let s = |n: &str| t.strs(n);
    let (ids, jobs, stages, targets, atlases, nodes, statuses) = (
        s(attempt_id)?,
        s(job_id)?,
        s(stage)?,
        s(target)?,
        s(atlas)?,
        s(node)?,
        s(status)?,
    );
    let f = |n: &str| t.f64s(n);
    let u = |n: &str| t.u64s(n);
    let (attempt, mem_request, voxels, threads) = (
        u("attempt")?,
        u("mem_request")?,
        u("voxels")?,
        u("threads")?,
    );
    let (start, end, wall, user, sys) = (
        f("start_s")?,
        f("end_s")?,
        f("wall_s")?,
        f("cpu_user_s")?,
        f("cpu_sys_s")?,
    );
    let (exit_code, signal) = (t.i32s("exit_code")?, t.i32s("signal")?);
    let (peak, anon, hwm, largest) = (
        u("peak_rss")?,
        u("peak_rss_anon")?,
        u("peak_hwm_sum")?,
        u("max_rss_largest_process")?,
    );
    let (rchar, wchar, rb, wb, samples) = (
        u("rchar")?,
        u("wchar")?,
        u("read_bytes")?,
        u("write_bytes")?,
        u("samples")?,
    );
    let (agent, p50, p99) = (
        f("agent_cpu_s")?,
        f("tick_late_p50_ms")?,
        f("tick_late_p99_ms")?,
    );
    let executor = s("executor_job_id")?;
    let from_samples = t.bools("totals_from_samples")?;
    let switches = u("involuntary_switches")?;
    let (acct_cpu, acct_rss, acct_elapsed) =
        (f("acct_cpu_s")?, u("acct_max_rss")?, f("acct_elapsed_s")?);
    let z = |v: Option<f64>| v.unwrap_or(0.0);
    let zu = |v: Option<u64>| v.unwrap_or(0);
    (0..t.df.height())
        .map(|i| {
            let status_text = statuses[i].clone().unwrap_or_default();
            let status = AttemptStatus::parse(&status_text).ok_or_else(|| StoreError::Format {
                path: path.to_path_buf(),
                message: format!("row {}: unknown status {status_text:?}", i + 1),
            })?;
            Ok(JobRecord {
                attempt_id: ids[i].clone().unwrap_or_default(),
                job_id: jobs[i].clone().unwrap_or_default(),
                stage: stages[i].clone().unwrap_or_default(),
                target: targets[i].clone().unwrap_or_default(),
                atlas: atlases[i].clone().filter(|a| !a.is_empty()),
                node: nodes[i].clone().unwrap_or_default(),
                attempt: u32::try_from(zu(attempt[i])).unwrap_or(u32::MAX),
                mem_request: mem_request[i],
                voxels: voxels[i],
                threads: usize::try_from(zu(threads[i])).unwrap_or(usize::MAX),
                status,
                start_s: z(start[i]),
                end_s: z(end[i]),
                totals: Totals {
                    exit_code: exit_code[i],
                    signal: signal[i],
                    terminated: status == AttemptStatus::Terminated,
                    start_unix: 0.0,
                    end_unix: 0.0,
                    wall_s: z(wall[i]),
                    cpu_user_s: z(user[i]),
                    cpu_sys_s: z(sys[i]),
                    peak_rss: zu(peak[i]),
                    peak_rss_anon: zu(anon[i]),
                    peak_hwm_sum: zu(hwm[i]),
                    max_rss_largest_process: zu(largest[i]),
                    rchar: zu(rchar[i]),
                    wchar: zu(wchar[i]),
                    read_bytes: zu(rb[i]),
                    write_bytes: zu(wb[i]),
                    samples: zu(samples[i]),
                    agent_cpu_s: z(agent[i]),
                    tick_late_p50_ms: z(p50[i]),
                    tick_late_p99_ms: z(p99[i]),
                    from_samples: from_samples[i].unwrap_or(false),
                    involuntary_switches: zu(switches[i]),
                },
                executor_job_id: executor[i].clone(),
                accounting: match (acct_cpu[i], acct_rss[i]) {
                    (Some(cpu_s), Some(max_rss)) => Some(Accounting {
                        cpu_s,
                        max_rss,
                        elapsed_s: z(acct_elapsed[i]),
                    }),
                    _ => None,
                },
            })
        })
        .collect()
}

/// Sets one field of a sample row.
type Set<T> = fn(&mut SampleRow, T);

/// Reads `samples.parquet` into sample rows.
///
/// # Errors
/// A missing file or column, named.
pub fn read_samples_table(path: &Path) -> Result<Vec<SampleRow>, StoreError> {
    // Column by column into the rows: a million samples are the table plus the rows, never a
    // third copy of every column on the way.
    let t = Table::read(path)?;
    let mut rows = vec![SampleRow::default(); t.df.height()];
    t.each_str(SAMPLES[0], |i, v| rows[i].attempt_id = v.to_string())?;
    let floats: [(&str, Set<f64>); 5] = [
        ("t", |r, v| r.t = v),
        ("unix", |r, v| r.unix = v),
        ("cpu_core_pct", |r, v| r.cpu_core_pct = v),
        ("cpu_s", |r, v| r.cpu_s = v),
        ("late_ms", |r, v| r.late_ms = v),
    ];
    for (name, set) in floats {
        t.each_f64(name, |i, v| set(&mut rows[i], v))?;
    }
    let counts: [(&str, Set<u64>); 9] = [
        ("rss", |r, v| r.rss = v),
        ("rss_anon", |r, v| r.rss_anon = v),
        ("hwm_sum", |r, v| r.hwm_sum = v),
        ("rchar", |r, v| r.rchar = v),
        ("wchar", |r, v| r.wchar = v),
        ("read_bytes", |r, v| r.read_bytes = v),
        ("write_bytes", |r, v| r.write_bytes = v),
        ("threads", |r, v| r.threads = v),
        ("processes", |r, v| r.processes = v),
    ];
    for (name, set) in counts {
        t.each_u64(name, |i, v| set(&mut rows[i], v))?;
    }
    Ok(rows)
}

/// Reads `nodes.parquet` into node rows.
///
/// # Errors
/// A missing file or column, named.
pub fn read_nodes_table(path: &Path) -> Result<Vec<NodeRow>, StoreError> {
    let t = Table::read(path)?;
    let names = t.strs(NODES[0])?;
    let f = |n: &str| t.f64s(n);
    let u = |n: &str| t.u64s(n);
    let (tt, cpu) = (f("t")?, f("cpu_node_pct")?);
    let (running, rss, anon) = (u("jobs_running")?, u("rss")?, u("rss_anon")?);
    let io = [
        u("rchar")?,
        u("wchar")?,
        u("read_bytes")?,
        u("write_bytes")?,
    ];
    let rates = [
        f("rchar_per_s")?,
        f("wchar_per_s")?,
        f("read_bytes_per_s")?,
        f("write_bytes_per_s")?,
    ];
    Ok((0..t.df.height())
        .map(|i| NodeRow {
            node: names[i].clone().unwrap_or_default(),
            t: tt[i].unwrap_or(0.0),
            jobs_running: running[i].unwrap_or(0),
            cpu_node_pct: cpu[i].unwrap_or(0.0),
            rss: rss[i].unwrap_or(0),
            rss_anon: anon[i].unwrap_or(0),
            io: std::array::from_fn(|c| io[c][i].unwrap_or(0)),
            rates: std::array::from_fn(|c| rates[c][i].unwrap_or(0.0)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SampleRow;

    #[test]
    fn a_schema_1_table_reads_its_cpu_column_under_the_new_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("samples.parquet");
        let mut df = df!(
            "attempt_id" => ["a.1"],
            "t" => [0.5],
            "unix" => [1.5],
            "cpu_pct" => [87.5],
            "cpu_s" => [0.4],
            "rss" => [1024u64],
            "rss_anon" => [512u64],
            "hwm_sum" => [1024u64],
            "rchar" => [1u64],
            "wchar" => [2u64],
            "read_bytes" => [3u64],
            "write_bytes" => [4u64],
            "threads" => [1u64],
            "processes" => [1u64],
            "late_ms" => [0.0]
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let file = File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        ParquetWriter::new(file)
            .finish(&mut df)
            .unwrap_or_else(|e| panic!("{e}"));
        let rows: Vec<SampleRow> = read_samples_table(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].cpu_core_pct, 87.5);
    }
}
