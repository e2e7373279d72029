//! One writer's hold on a run store, from its first write to its last: the lock, the active
//! segment on the run clock, the journal with its disk-full fallback, recovery of what a
//! killed harness left, and the final status. `run`, `run --resume` and `profile` all write
//! through a [`Session`]; nothing else writes `run.json` or the journal.
//!
//! A session that is dropped without [`Session::finish`] (an error on the way, a panic)
//! still marks the run `failed`, so no store is left claiming to be `running` by a harness
//! that is gone.

use std::path::Path;
use std::time::Duration;

use crate::sampler::unix_now;
use crate::store::{
    compact_with, AttemptStatus, CompactSummary, JobRecord, RunInfo, RunLock, RunStatus, RunStore,
    SamplesFile, StoreError,
};

/// How long a resume waits for an agent orphaned by a killed harness to finish writing
/// (agents get SIGTERM when their harness dies and give their job a 5 s grace).
const ORPHAN_WAIT: Duration = Duration::from_secs(15);

/// What a resume found and repaired.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovery {
    /// Bytes of a torn journal tail moved to `jobs.jsonl.torn`.
    pub torn_bytes: usize,
    /// Attempts a killed harness launched but never recorded, now in the journal.
    pub adopted: Vec<String>,
    /// Seconds between the previous segment's end and this resume.
    pub idle_s: f64,
}

/// An open, locked run store.
#[derive(Debug)]
pub struct Session {
    store: RunStore,
    lock: Option<RunLock>,
    info: RunInfo,
    pending: Vec<JobRecord>,
    fault: Option<String>,
    finished: bool,
}

impl Session {
    /// Creates the store at `dir` for a new run described by `info` and takes its lock.
    ///
    /// # Errors
    /// When `dir` already holds a run, is locked, or cannot be written.
    pub fn create(dir: &Path, mut info: RunInfo) -> Result<Self, StoreError> {
        let store = RunStore::create(dir)?;
        let lock = RunLock::acquire(dir)?;
        store.check_files()?;
        if store.info_path().exists() {
            return Err(StoreError::NotRegular {
                path: store.info_path(),
                what:
                    "already exists: this folder holds a run (choose another --out or use --resume)"
                        .into(),
            });
        }
        store.make_reserve()?;
        info.status = RunStatus::Running;
        info.end_unix = None;
        info.segments.clear();
        info.begin_segment(info.start_unix);
        store.write_info(&info)?;
        Ok(Self::holding(store, lock, info))
    }

    fn holding(store: RunStore, lock: RunLock, info: RunInfo) -> Self {
        Self {
            store,
            lock: Some(lock),
            info,
            pending: Vec::new(),
            fault: None,
            finished: false,
        }
    }

    /// Opens the store at `dir` to continue its run: takes the lock, moves a torn journal tail
    /// aside, closes the segment of a harness that was killed, records the attempts it left
    /// unrecorded, and opens a new segment. `stop_orphans` is given the ids of those attempts
    /// first, to stop whatever still runs them outside this machine's process tree (Slurm).
    ///
    /// # Errors
    /// When `dir` is not a store, is locked, or cannot be repaired.
    pub fn resume(
        dir: &Path,
        stop_orphans: impl FnOnce(&[String]),
    ) -> Result<(Self, Recovery), StoreError> {
        let store = RunStore::open(dir)?;
        let lock = RunLock::acquire(dir)?;
        let store = RunStore::open_for_writing(store.dir())?;
        store.check_files()?;
        let mut info = store.read_info()?;
        if info.schema_version != crate::store::SCHEMA_VERSION {
            return Err(StoreError::Version {
                path: store.info_path(),
                message: format!(
                    "written by an older atlasperf (store schema {}): it can be reported and compared, not resumed",
                    info.schema_version
                ),
            });
        }
        let mut recovery = Recovery {
            torn_bytes: store.repair_journal()?,
            ..Recovery::default()
        };
        // Agents orphaned by a killed harness finish within their grace period; wait, so
        // their last writes count as the killed segment's activity and their totals are read
        // whole.
        let orphans = orphans(&store)?;
        if !orphans.is_empty() {
            stop_orphans(&orphans);
        }
        for id in &orphans {
            SamplesFile::wait_unheld(&store.samples_path(id), ORPHAN_WAIT);
        }
        let last = store.last_activity_unix();
        if info.segments.is_empty() {
            // A store written before segments existed: one segment from its start.
            info.begin_segment(info.start_unix);
        }
        if info.segments.last().is_some_and(|s| s.end_unix.is_none()) {
            let start = info
                .segments
                .last()
                .map_or(info.start_unix, |s| s.start_unix);
            info.end_segment(info.end_unix.or(last).unwrap_or(start));
        }
        store.make_reserve()?;
        recovery.adopted = adopt(&store, &info, orphans)?;
        let now = unix_now();
        recovery.idle_s = info
            .segments
            .last()
            .and_then(|s| s.end_unix)
            .map_or(0.0, |e| (now - e).max(0.0));
        info.begin_segment(now);
        info.status = RunStatus::Running;
        info.end_unix = None;
        info.notes.failure = None;
        store.write_info(&info)?;
        Ok((Self::holding(store, lock, info), recovery))
    }

    /// The store.
    pub fn store(&self) -> &RunStore {
        &self.store
    }

    /// `run.json` as this session will write it.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// Changes `run.json` and writes it.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn update_info(&mut self, f: impl FnOnce(&mut RunInfo)) -> Result<(), StoreError> {
        f(&mut self.info);
        self.write_info()
    }

    fn write_info(&mut self) -> Result<(), StoreError> {
        match self.store.write_info(&self.info) {
            Err(e) if e.is_disk_full() && self.store.release_reserve() => {
                self.note_fault(&e);
                self.store.write_info(&self.info)
            }
            r => r,
        }
    }

    fn note_fault(&mut self, e: &StoreError) {
        if self.fault.is_none() {
            self.fault = Some(format!(
                "the disk holding the run store filled up ({}); free space, then `atlasperf run --resume {}`",
                crate::store::describe(e),
                self.store.dir().display()
            ));
        }
    }

    /// The seconds on the run clock now.
    pub fn clock(&self) -> f64 {
        self.info.run_clock(unix_now())
    }

    /// Records that an attempt is starting (its record so far), so that a resume after a
    /// killed harness can record it.
    ///
    /// # Errors
    /// When the store cannot be written for another reason than a full disk.
    pub fn launching(&mut self, record: &JobRecord) -> Result<(), StoreError> {
        match self.store.write_launch(record) {
            Err(e) if e.is_disk_full() => {
                self.note_fault(&e);
                Ok(())
            }
            r => r,
        }
    }

    /// Appends a finished attempt to the journal. On a full disk the space reserve is given
    /// back and the record written with it; a record that still cannot be written is kept
    /// and retried by [`Session::finish`] (and its files let a resume record it).
    ///
    /// # Errors
    /// When the journal cannot be written for another reason than a full disk.
    pub fn record(&mut self, record: &JobRecord) -> Result<(), StoreError> {
        match self.store.append_job(record) {
            Ok(()) => Ok(()),
            Err(e) if e.is_disk_full() => {
                self.note_fault(&e);
                if !(self.store.release_reserve() && self.store.append_job(record).is_ok()) {
                    self.pending.push(record.clone());
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Why the store stopped taking writes (the disk filled), if it did: the run must stop
    /// launching.
    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }

    /// Ends the session: writes what is pending, compacts the tables, closes the segment and
    /// writes the final status (`failure` says why a run failed or stopped). A full disk turns
    /// the status into `failed` with the reason.
    ///
    /// Returns the compaction summary (none when the tables could not be written) and
    /// `run.json` as written.
    ///
    /// # Errors
    /// When `run.json` cannot be written.
    pub fn finish(
        mut self,
        mut status: RunStatus,
        mut failure: Option<String>,
    ) -> Result<(Option<CompactSummary>, RunInfo), StoreError> {
        self.finished = true;
        for r in std::mem::take(&mut self.pending) {
            if let Err(e) = self.store.append_job(&r) {
                self.note_fault(&e);
            }
        }
        let now = unix_now();
        self.info.end_segment(now);
        self.info.end_unix = Some(now);
        // On a full disk the tables would eat the space left for run.json; `report` or the
        // resume compacts them once there is room.
        let compacted = if self.fault.is_some() {
            Err(None)
        } else {
            compact_with(&self.store, &self.info).map_err(Some)
        };
        let summary = match compacted {
            Ok(s) => Some(s),
            Err(None) => None,
            Err(Some(e)) => {
                if e.is_disk_full() {
                    self.note_fault(&e);
                } else {
                    failure.get_or_insert_with(|| {
                        format!("compacting the tables: {}", crate::store::describe(&e))
                    });
                    status = RunStatus::Failed;
                }
                None
            }
        };
        if let Some(f) = self.fault.clone() {
            status = RunStatus::Failed;
            failure = Some(f);
        }
        self.info.status = status;
        self.info.notes.failure = failure;
        // Measured by the compaction from the rows it read anyway.
        self.info.conditions = summary.as_ref().and_then(|s| s.conditions.clone());
        self.write_info()?;
        Ok((summary, self.info.clone()))
    }

    /// Ends the session as `failed` because of `reason`, keeping what was measured.
    ///
    /// # Errors
    /// When `run.json` cannot be written.
    pub fn fail(self, reason: String) -> Result<(), StoreError> {
        self.finish(RunStatus::Failed, Some(reason)).map(drop)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // An early return or a panic between create/resume and finish: never leave the run
        // looking alive.
        self.info.end_segment(unix_now());
        self.info.end_unix = Some(unix_now());
        self.info.status = RunStatus::Failed;
        self.info
            .notes
            .failure
            .get_or_insert_with(|| "the harness stopped before the run ended".into());
        let _ = self.write_info();
        let _ = compact_with(&self.store, &self.info);
        drop(self.lock.take());
    }
}

/// Attempts that were launched (they have a launch record) but have no journal record: the
/// harness that ran them was killed.
fn orphans(store: &RunStore) -> Result<Vec<String>, StoreError> {
    let recorded: std::collections::HashSet<String> = store
        .read_jobs()?
        .into_iter()
        .map(|r| r.attempt_id)
        .collect();
    let mut launched: Vec<String> = std::fs::read_dir(store.dir().join("logs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".launch.json")
                .map(str::to_string)
        })
        .filter(|id| !recorded.contains(id))
        .collect();
    launched.sort();
    Ok(launched)
}

/// Records orphaned attempts: with their agent's totals when it wrote them, else totals
/// rebuilt from their samples; `terminated` unless the job finished on its own. Returns
/// their ids.
fn adopt(
    store: &RunStore,
    info: &RunInfo,
    orphans: Vec<String>,
) -> Result<Vec<String>, StoreError> {
    let mut adopted = Vec::new();
    for id in orphans {
        let Some(mut record) = store.read_launch(&id) else {
            continue;
        };
        let (totals, status) = match store.read_result(&id) {
            Some(t) if t.terminated => (t, AttemptStatus::Terminated),
            Some(t) if t.succeeded() => (t, AttemptStatus::Ok),
            Some(t) => (t, AttemptStatus::Failed),
            None => (
                SamplesFile::totals(&store.read_samples(&id)?),
                AttemptStatus::Terminated,
            ),
        };
        record.end_s = if totals.end_unix > 0.0 {
            info.run_clock(totals.end_unix).max(record.start_s)
        } else {
            record.start_s
        };
        record.totals = totals;
        record.status = status;
        store.append_job(&record)?;
        adopted.push(id);
    }
    Ok(adopted)
}
