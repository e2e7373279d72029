//! The run folder: where each file lives, and the operations on it as a whole.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{fsio, io_err, journal, JobRecord, RunInfo, SampleRow, SamplesFile, StoreError};

/// Size of the space reserve: enough for `run.json`, the journal records of the attempts
/// still running and the lock file when the disk fills.
const RESERVE_BYTES: usize = 1 << 20;

/// `<job>.<attempt>`.
pub fn attempt_id(job_id: &str, attempt: u32) -> String {
    format!("{job_id}.{attempt}")
}

/// The job id and attempt number of an attempt id.
pub fn split_attempt_id(id: &str) -> Option<(&str, u32)> {
    let (job, n) = id.rsplit_once('.')?;
    Some((job, n.parse().ok()?))
}

/// One run folder.
#[derive(Debug, Clone)]
pub struct RunStore {
    dir: PathBuf,
}

impl RunStore {
    /// A store at `dir`, creating it and its sub-folders (refusing symlinked ones).
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        fsio::ensure_dir(dir)?;
        let store = Self {
            dir: dir.to_path_buf(),
        };
        for sub in ["logs", "samples", "outputs"] {
            fsio::ensure_dir(&dir.join(sub))?;
        }
        Ok(store)
    }

    /// An existing store.
    ///
    /// # Errors
    /// [`StoreError::NotAStore`] when `dir` has no `run.json`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join("run.json").exists() {
            return Err(StoreError::NotAStore {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// An existing store, with its sub-folders made sure of (for writing).
    ///
    /// # Errors
    /// As [`RunStore::open`] and [`RunStore::create`].
    pub fn open_for_writing(dir: &Path) -> Result<Self, StoreError> {
        Self::open(dir)?;
        Self::create(dir)
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `run.json`.
    pub fn info_path(&self) -> PathBuf {
        self.dir.join("run.json")
    }
    /// The journal of finished attempts.
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("jobs.jsonl")
    }
    /// Samples CSV of one attempt.
    pub fn samples_path(&self, attempt_id: &str) -> PathBuf {
        self.dir.join("samples").join(format!("{attempt_id}.csv"))
    }
    /// Log file of one attempt (`stdout` or `stderr`).
    pub fn log_path(&self, attempt_id: &str, stream: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{attempt_id}.{stream}"))
    }
    /// The agent's result (totals JSON) of one attempt.
    pub fn result_path(&self, attempt_id: &str) -> PathBuf {
        self.log_path(attempt_id, "totals.json")
    }
    /// What the harness knew when it launched an attempt (its job record before the end).
    pub fn launch_path(&self, attempt_id: &str) -> PathBuf {
        self.log_path(attempt_id, "launch.json")
    }
    /// Folder of job outputs.
    pub fn outputs(&self) -> PathBuf {
        self.dir.join("outputs")
    }
    /// The machine-context series while running.
    pub fn machine_csv(&self) -> PathBuf {
        self.dir.join("samples").join("machine.node.csv")
    }
    /// Folder of Slurm batch scripts.
    pub fn slurm_dir(&self) -> PathBuf {
        self.dir.join("slurm")
    }
    /// What the external scheduler's accounting recorded, per attempt id.
    pub fn accounting_path(&self) -> PathBuf {
        self.dir.join("accounting.json")
    }
    fn reserve_path(&self) -> PathBuf {
        self.dir.join(".reserve")
    }

    /// Writes `run.json` atomically.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write_info(&self, info: &RunInfo) -> Result<(), StoreError> {
        write_json(&self.info_path(), info)
    }

    /// Writes `accounting.json` atomically: the scheduler's accounting per attempt id, which
    /// compaction puts beside atlasperf's own figures in the jobs table (`acct_*`).
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write_accounting(
        &self,
        by_attempt: &std::collections::BTreeMap<String, crate::Accounting>,
    ) -> Result<(), StoreError> {
        write_json(&self.accounting_path(), by_attempt)
    }

    /// Reads `accounting.json`; empty when there is none.
    ///
    /// # Errors
    /// When it exists and is not valid.
    pub fn read_accounting(
        &self,
    ) -> Result<std::collections::BTreeMap<String, crate::Accounting>, StoreError> {
        let path = self.accounting_path();
        if !path.exists() {
            return Ok(Default::default());
        }
        let bytes = fsio::read_regular(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Format {
            path,
            message: e.to_string(),
        })
    }

    /// Reads `run.json`.
    ///
    /// # Errors
    /// When it is missing or not valid.
    pub fn read_info(&self) -> Result<RunInfo, StoreError> {
        let path = self.info_path();
        let bytes = fsio::read_regular(&path)?;
        let raw: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Format {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let version = raw
            .get("schema_version")
            .and_then(serde_json::Value::as_u64);
        let readable = u64::from(crate::OLDEST_READABLE_SCHEMA)..=u64::from(crate::SCHEMA_VERSION);
        if !version.is_some_and(|v| readable.contains(&v)) {
            return Err(StoreError::Version {
                path,
                message: format!(
                    "schema_version {}, this atlasperf reads versions {} to {}",
                    version.map_or_else(|| "missing".to_string(), |v| v.to_string()),
                    crate::OLDEST_READABLE_SCHEMA,
                    crate::SCHEMA_VERSION
                ),
            });
        }
        serde_json::from_value(raw).map_err(|e| StoreError::Format {
            path,
            message: e.to_string(),
        })
    }

    /// Appends one finished attempt to the journal (one whole line, then `fsync`).
    ///
    /// # Errors
    /// When the journal cannot be written.
    pub fn append_job(&self, record: &JobRecord) -> Result<(), StoreError> {
        journal::append(&self.journal_path(), record)
    }

    /// Every attempt in the journal (a torn last line is ignored).
    ///
    /// # Errors
    /// When the journal cannot be read or a complete line is not a job record.
    pub fn read_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        journal::read(&self.journal_path())
    }

    /// Moves a torn journal tail aside (to `jobs.jsonl.torn`); returns the bytes moved.
    ///
    /// # Errors
    /// When the journal cannot be read or rewritten.
    pub fn repair_journal(&self) -> Result<usize, StoreError> {
        journal::repair_tail(&self.journal_path())
    }

    /// Records an attempt as launched (its job record so far), so a harness that is killed
    /// before the attempt ends leaves what a resume needs to record it.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_launch(&self, record: &JobRecord) -> Result<(), StoreError> {
        let path = self.launch_path(&record.attempt_id);
        let text = serde_json::to_vec(record).map_err(|e| StoreError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
        fsio::write_atomic(&path, &text)
    }

    /// The launch record of an attempt, if one was written and is readable.
    pub fn read_launch(&self, attempt_id: &str) -> Option<JobRecord> {
        let bytes = fsio::read_regular(&self.launch_path(attempt_id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The agent's totals of an attempt, if it wrote them.
    pub fn read_result(&self, attempt_id: &str) -> Option<crate::Totals> {
        let bytes = fsio::read_regular(&self.result_path(attempt_id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes an agent's totals atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_result(path: &Path, totals: &crate::Totals) -> Result<(), StoreError> {
        let text = serde_json::to_vec_pretty(totals).map_err(|e| StoreError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        fsio::write_atomic(path, &text)
    }

    /// An attempt's complete sample rows.
    ///
    /// # Errors
    /// When its file exists but cannot be read.
    pub fn read_samples(&self, attempt_id: &str) -> Result<Vec<SampleRow>, StoreError> {
        SamplesFile::read(&self.samples_path(attempt_id))
    }

    /// Attempt ids that have a samples file (the machine series excluded), sorted.
    ///
    /// # Errors
    /// When the samples folder cannot be listed.
    pub fn sampled_attempts(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.dir.join("samples");
        let mut out: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.ends_with(".node.csv"))
                .filter_map(|n| n.strip_suffix(".csv").map(str::to_string))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        out.sort();
        Ok(out)
    }

    /// The highest attempt number ever written for each of `jobs` — in the journal, or as a
    /// samples file, log, launch record or batch script — so a new attempt never reuses an id,
    /// whatever a killed harness left behind. Files of other jobs are ignored.
    ///
    /// # Errors
    /// When the journal cannot be read.
    pub fn attempts_on_disk(
        &self,
        jobs: &HashSet<&str>,
    ) -> Result<HashMap<String, u32>, StoreError> {
        let mut out: HashMap<String, u32> = HashMap::new();
        let mut note = |id: &str| {
            if let Some((job, n)) = split_attempt_id(id) {
                if jobs.contains(job) {
                    let e = out.entry(job.to_string()).or_insert(0);
                    *e = (*e).max(n);
                }
            }
        };
        for r in self.read_jobs()? {
            note(&r.attempt_id);
        }
        for (sub, suffixes) in [
            ("samples", &[".csv"][..]),
            (
                "logs",
                &[".stdout", ".stderr", ".totals.json", ".launch.json"][..],
            ),
            ("slurm", &[".sh"][..]),
        ] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = suffixes.iter().find_map(|s| name.strip_suffix(s)) {
                    note(stem);
                }
            }
        }
        Ok(out)
    }

    /// The last time anything was written to the store (the newest modification among the
    /// journal, samples and logs), seconds since the Unix epoch: where a killed harness
    /// stopped.
    pub fn last_activity_unix(&self) -> Option<f64> {
        let mut newest: Option<std::time::SystemTime> = None;
        let mut see = |p: &Path| {
            if let Ok(m) = std::fs::symlink_metadata(p).and_then(|m| m.modified()) {
                newest = Some(newest.map_or(m, |n| n.max(m)));
            }
        };
        see(&self.journal_path());
        for sub in ["samples", "logs"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) {
                for e in entries.flatten() {
                    see(&e.path());
                }
            }
        }
        newest
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
    }

    /// Refuses a store where any file it writes at its top level is something other than a
    /// regular file (a planted symlink, a folder, a pipe), before anything is written.
    ///
    /// # Errors
    /// [`StoreError::NotRegular`] naming the first such path.
    pub fn check_files(&self) -> Result<(), StoreError> {
        let mut names: Vec<String> = ["run.json", "jobs.jsonl", "jobs.jsonl.torn", ".reserve"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for t in ["jobs", "samples", "nodes", "machine"] {
            names.push(format!("{t}.parquet"));
            names.push(format!("{t}.csv"));
        }
        for n in names {
            fsio::ensure_writable(&self.dir.join(n))?;
        }
        fsio::ensure_writable(&self.machine_csv())
    }

    /// Sets aside a little space (1 MiB) that [`RunStore::release_reserve`] gives back when
    /// the disk fills, so the store can still record how the run ended.
    ///
    /// # Errors
    /// When the space is not there.
    pub fn make_reserve(&self) -> Result<(), StoreError> {
        let path = self.reserve_path();
        if std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.is_file() && m.len() as usize >= RESERVE_BYTES)
        {
            return Ok(());
        }
        let result = (|| {
            let mut f = fsio::create(&path)?;
            f.write_all(&vec![0u8; RESERVE_BYTES])
                .map_err(io_err(&path))?;
            f.sync_all().map_err(io_err(&path))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    /// Frees the reserve (the disk is full); true when there was one.
    pub fn release_reserve(&self) -> bool {
        std::fs::remove_file(self.reserve_path()).is_ok()
    }
}

/// Writes `value` as pretty JSON to `path`, atomically.
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), StoreError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    fsio::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_numbers_come_from_every_trace_and_ignore_foreign_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = RunStore::create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        for f in [
            "samples/reg-a-b.3.csv",
            "logs/reg-a-b.5.stderr",
            "logs/fuse-a.2.totals.json",
            "samples/machine.node.csv",
            "logs/reg-reg-a-b.9.stderr",
            "logs/reg-a-b.x.stderr",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap_or_else(|e| panic!("{e}"));
        }
        let jobs: HashSet<&str> = ["reg-a-b", "fuse-a", "fuse-b"].into();
        let got = s.attempts_on_disk(&jobs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.get("reg-a-b"), Some(&5));
        assert_eq!(got.get("fuse-a"), Some(&2));
        assert_eq!(got.get("fuse-b"), None);
        assert_eq!(
            split_attempt_id("reg-s.1-s.2.12"),
            Some(("reg-s.1-s.2", 12))
        );
    }
}
