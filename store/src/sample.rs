//! The sample row: one tick of one attempt. Written by the agent as a CSV line per tick
//! (`samples/<attempt>.csv`), read back here for compaction and for totals of an agent that
//! died.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::columns::SAMPLES;
use crate::stats::percentile;
use crate::{fsio, io_err, StoreError, Totals};

/// One sample of an attempt's process tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleRow {
    /// Attempt identifier.
    pub attempt_id: String,
    /// Seconds since the attempt started.
    pub t: f64,
    /// Seconds since the Unix epoch.
    pub unix: f64,
    /// CPU since the previous tick, % of one core.
    pub cpu_core_pct: f64,
    /// Cumulative CPU seconds.
    pub cpu_s: f64,
    /// Σ VmRSS over the tree, bytes.
    pub rss: u64,
    /// Σ RssAnon, bytes.
    pub rss_anon: u64,
    /// Σ VmHWM (refreshed every 10th tick), bytes.
    pub hwm_sum: u64,
    /// Cumulative syscall bytes read.
    pub rchar: u64,
    /// Cumulative syscall bytes written.
    pub wchar: u64,
    /// Cumulative storage bytes read.
    pub read_bytes: u64,
    /// Cumulative storage bytes written.
    pub write_bytes: u64,
    /// Threads in the tree.
    pub threads: u64,
    /// Processes in the tree.
    pub processes: u64,
    /// How late the tick was behind its deadline, ms.
    pub late_ms: f64,
}

impl SampleRow {
    /// The CSV header line (with its newline).
    pub fn csv_header() -> String {
        let mut h = SAMPLES.join(",");
        h.push('\n');
        h
    }

    /// The CSV line (with its newline).
    pub fn to_csv_line(&self) -> String {
        format!(
            "{},{:.4},{:.4},{:.2},{:.3},{},{},{},{},{},{},{},{},{},{:.3}\n",
            self.attempt_id,
            self.t,
            self.unix,
            self.cpu_core_pct,
            self.cpu_s,
            self.rss,
            self.rss_anon,
            self.hwm_sum,
            self.rchar,
            self.wchar,
            self.read_bytes,
            self.write_bytes,
            self.threads,
            self.processes,
            self.late_ms
        )
    }

    /// Parses one CSV line; `None` for a header, a torn or a foreign line.
    pub fn parse(line: &[u8]) -> Option<Self> {
        let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != SAMPLES.len() {
            return None;
        }
        let fl = |i: usize| f[i].parse::<f64>().ok().filter(|v| v.is_finite());
        let u = |i: usize| f[i].parse::<u64>().ok();
        Some(Self {
            attempt_id: f[0].to_string(),
            t: fl(1)?,
            unix: fl(2)?,
            cpu_core_pct: fl(3)?,
            cpu_s: fl(4)?,
            rss: u(5)?,
            rss_anon: u(6)?,
            hwm_sum: u(7)?,
            rchar: u(8)?,
            wchar: u(9)?,
            read_bytes: u(10)?,
            write_bytes: u(11)?,
            threads: u(12)?,
            processes: u(13)?,
            late_ms: fl(14)?,
        })
    }
}

/// An attempt's samples file, written by its agent: one `write` per row, so a killed agent
/// leaves every complete row; held under an exclusive `flock` while the agent lives, so a
/// resuming harness can wait for an orphaned agent to finish.
#[derive(Debug)]
pub struct SampleWriter {
    path: PathBuf,
    file: File,
}

impl SampleWriter {
    /// Opens (creating) `path` for appending, never through a symlink; writes the header to
    /// a new file and a newline after a torn last row.
    ///
    /// # Errors
    /// When the file cannot be opened or is not a regular file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut file = fsio::open_append(path)?;
        fsio::lock_exclusive(&file, path)?;
        let len = file.metadata().map_err(io_err(path))?.len();
        let prefix = if len == 0 {
            Self::header_bytes()
        } else if fsio::last_byte(&file, path)? != Some(b'\n') {
            b"\n".to_vec()
        } else {
            Vec::new()
        };
        if !prefix.is_empty() {
            file.write_all(&prefix).map_err(io_err(path))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    fn header_bytes() -> Vec<u8> {
        SampleRow::csv_header().into_bytes()
    }

    /// Appends one row (one `write`).
    ///
    /// # Errors
    /// When it cannot be written (a full disk included).
    pub fn write(&mut self, row: &SampleRow) -> Result<(), StoreError> {
        self.file
            .write_all(row.to_csv_line().as_bytes())
            .map_err(io_err(&self.path))
    }

    /// Flushes the rows to storage (at the attempt's end).
    ///
    /// # Errors
    /// When the data cannot be synced.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(io_err(&self.path))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reading an attempt's samples file.
pub struct SamplesFile;

impl SamplesFile {
    /// Every complete row of `path` in file order (a missing file has none). Lines that do
    /// not parse — the header, a row torn by a killed agent or a full disk — are skipped.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn read(path: &Path) -> Result<Vec<SampleRow>, StoreError> {
        let bytes = match fsio::read_regular(path) {
            Ok(b) => b,
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e),
        };
        Ok(bytes
            .split(|b| *b == b'\n')
            .filter_map(SampleRow::parse)
            .collect())
    }

    /// Waits until no agent holds `path` (an agent orphaned by a killed harness finishes
    /// within its grace period), at most `limit`. Returns false if one still holds it.
    pub fn wait_unheld(path: &Path, limit: std::time::Duration) -> bool {
        let Ok(file) = File::open(path) else {
            return true;
        };
        let until = std::time::Instant::now() + limit;
        loop {
            if fsio::try_lock_exclusive(&file) {
                return true;
            }
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Totals rebuilt from samples, for an attempt whose agent died before recording exact
    /// ones: times, peaks, and CPU and I/O as of the last sample.
    pub fn totals(rows: &[SampleRow]) -> Totals {
        let mut t = Totals {
            from_samples: true,
            ..Totals::default()
        };
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return t;
        };
        t.start_unix = first.unix - first.t;
        t.end_unix = last.unix;
        t.wall_s = (t.end_unix - t.start_unix).max(0.0);
        t.samples = rows.len() as u64;
        for r in rows {
            t.peak_rss = t.peak_rss.max(r.rss);
            t.peak_rss_anon = t.peak_rss_anon.max(r.rss_anon);
            t.peak_hwm_sum = t.peak_hwm_sum.max(r.hwm_sum);
        }
        t.cpu_user_s = last.cpu_s;
        (t.rchar, t.wchar, t.read_bytes, t.write_bytes) =
            (last.rchar, last.wchar, last.read_bytes, last.write_bytes);
        let mut late: Vec<f64> = rows.iter().map(|r| r.late_ms).collect();
        late.sort_by(f64::total_cmp);
        t.tick_late_p50_ms = percentile(&late, 0.50);
        t.tick_late_p99_ms = percentile(&late, 0.99);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, rss: u64) -> SampleRow {
        SampleRow {
            attempt_id: "a.1".into(),
            t,
            unix: 100.0 + t,
            cpu_s: t * 0.9,
            rss,
            rchar: (t * 10.0) as u64,
            ..SampleRow::default()
        }
    }

    #[test]
    fn a_row_survives_its_csv_line() {
        let r = SampleRow {
            hwm_sum: 7,
            write_bytes: 4096,
            threads: 3,
            processes: 2,
            late_ms: 0.25,
            ..row(1.5, 9000)
        };
        let line = r.to_csv_line();
        assert_eq!(SampleRow::parse(line.trim_end().as_bytes()), Some(r));
        assert_eq!(
            SampleRow::parse(SampleRow::csv_header().trim_end().as_bytes()),
            None
        );
    }

    #[test]
    fn totals_from_a_torn_samples_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("a.1.csv");
        let mut w = SampleWriter::open(&p).unwrap_or_else(|e| panic!("{e}"));
        for (t, rss) in [(0.0, 1000), (0.5, 9000), (1.0, 7000)] {
            w.write(&row(t, rss)).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(w);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"a.1,1.5,10").unwrap_or_else(|e| panic!("{e}"));
        let rows = SamplesFile::read(&p).unwrap_or_else(|e| panic!("{e}"));
        let t = SamplesFile::totals(&rows);
        assert_eq!((t.samples, t.peak_rss, t.rchar), (3, 9000, 10));
        assert!((t.wall_s - 1.0).abs() < 1e-9 && (t.cpu_s() - 0.9).abs() < 1e-9);
        // Reopened (another writer of the same file), the torn row is closed off first.
        let mut w = SampleWriter::open(&p).unwrap_or_else(|e| panic!("{e}"));
        w.write(&row(2.0, 5)).unwrap_or_else(|e| panic!("{e}"));
        let rows = SamplesFile::read(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[3].t, 2.0);
    }
}
