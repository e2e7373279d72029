//! After a Slurm run: what Slurm's accounting recorded of each attempt (`sacct`, when
//! slurmdbd keeps it), kept beside atlasperf's own figures — the raw answer in
//! `slurm/sacct.txt`, the figures in `accounting.json`, which compaction puts into the jobs
//! table's `acct_*` columns. Best effort: a cluster without accounting leaves the run as it is.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use crate::import::{parse_sources, Format, Source};
use crate::store::{attempt_id, Accounting, JobRecord, RunStore};

/// The fields asked of `sacct` (what `atlasperf import --format sacct` reads).
pub const SACCT_FORMAT: &str = "JobID,JobName,State,ExitCode,NodeList,Start,End,Elapsed,TotalCPU,UserCPU,SystemCPU,AllocCPUS,ReqMem,MaxRSS,AveDiskRead,AveDiskWrite,NTasks";

/// What asking the accounting gave.
#[derive(Debug, PartialEq)]
pub enum Accounted {
    /// This many attempts were found and recorded.
    Recorded(usize),
    /// None: why (no sacct, accounting disabled, nothing recorded in time).
    Unavailable(String),
}

/// Asks `sacct` for the Slurm jobs of `records`, waiting up to `patience` for slurmdbd to
/// have every finished one, and records what it found.
///
/// # Errors
/// The store's files cannot be written.
pub fn record(
    store: &RunStore,
    records: &[JobRecord],
    patience: Duration,
) -> crate::Result<Accounted> {
    let ids: Vec<&str> = records
        .iter()
        .filter_map(|r| r.executor_job_id.as_deref())
        .collect();
    if ids.is_empty() {
        return Ok(Accounted::Unavailable("no Slurm job ran".into()));
    }
    let wanted: HashSet<&str> = records
        .iter()
        .filter(|r| r.executor_job_id.is_some())
        .map(|r| r.attempt_id.as_str())
        .collect();
    let args: Vec<String> = [
        "--parsable2".to_string(),
        "-j".to_string(),
        ids.join(","),
        format!("--format={SACCT_FORMAT}"),
    ]
    .into();
    let deadline = Instant::now() + patience;
    let path = store.slurm_dir().join("sacct.txt");
    loop {
        let text = match super::command::slurm("sacct", &args) {
            Ok(t) => t,
            Err(e) => return Ok(Accounted::Unavailable(e.to_string())),
        };
        let found = figures(&path, &text, &wanted);
        if found.len() == wanted.len() || Instant::now() >= deadline {
            if found.is_empty() {
                return Ok(Accounted::Unavailable(
                    "sacct answered with none of the run's jobs (is slurmdbd keeping accounting?)"
                        .into(),
                ));
            }
            crate::store::fsio::ensure_dir(&store.slurm_dir())?;
            crate::store::fsio::write_atomic(&path, text.as_bytes())?;
            store.write_accounting(&found)?;
            return Ok(Accounted::Recorded(found.len()));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The finished attempts of `wanted` in sacct's answer, by attempt id.
fn figures(
    path: &std::path::Path,
    text: &str,
    wanted: &HashSet<&str>,
) -> BTreeMap<String, Accounting> {
    let Ok(parsed) = parse_sources(Format::Sacct, &[Source::new(path, text, 0.0)]) else {
        return BTreeMap::new();
    };
    parsed
        .jobs
        .iter()
        .map(|j| {
            (
                attempt_id(&j.id, j.attempt),
                Accounting {
                    cpu_s: j.cpu_user_s + j.cpu_sys_s,
                    max_rss: j.peak_rss,
                    elapsed_s: j.end_unix - j.start_unix,
                },
            )
        })
        .filter(|(id, _)| wanted.contains(id.as_str()))
        .collect()
}
