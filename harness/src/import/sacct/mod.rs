//! `sacct --parsable2` (or `--parsable`): a header line of field names, then one line per job
//! allocation and per step (`123`, `123.batch`, `123.extern`, `123.0`; array tasks
//! `123_4`, `123_4.batch`), fields separated by `|`. Steps are folded into their job: CPU and
//! I/O summed, memory the largest step's.
//!
//! Fields read (any order; the rest are ignored): `JobID` and `State` (required), `JobName`,
//! `NodeList`, `Start`, `End`, `Elapsed`, `TotalCPU`, `UserCPU`, `SystemCPU`, `AllocCPUS`,
//! `ReqMem`, `MaxRSS`, `AveDiskRead`, `AveDiskWrite`, `NTasks`, `ExitCode`. Suggested:
//! `sacct --parsable2 --format=JobID,JobName,State,ExitCode,NodeList,Start,End,Elapsed,TotalCPU,UserCPU,SystemCPU,AllocCPUS,ReqMem,MaxRSS,AveDiskRead,AveDiskWrite,NTasks`.

use std::collections::BTreeMap;

use super::text::{fields, sanitize_id, size, slurm_duration, slurm_time, BadValue, Source};
use super::{Job, Parsed};
use crate::error::UsageError;
use crate::store::AttemptStatus;

/// A job's lines so far.
struct Folded {
    job: Job,
    /// True once the allocation's own line was read.
    seen_job_line: bool,
    /// CPU seconds summed over the steps (used when the allocation line has none).
    steps_cpu: (f64, f64),
}

/// Parses every file.
///
/// # Errors
/// A file that is not sacct output, naming file, line and column.
pub fn parse(sources: &[Source]) -> Result<Parsed, UsageError> {
    let mut jobs: BTreeMap<String, Folded> = BTreeMap::new();
    let mut order = Vec::new();
    let mut unfinished = 0usize;
    for src in sources {
        parse_file(src, &mut jobs, &mut order, &mut unfinished)?;
    }
    let mut parsed = Parsed::default();
    for key in order {
        let Some(f) = jobs.remove(&key) else { continue };
        if !f.seen_job_line {
            continue;
        }
        let mut j = f.job;
        if j.cpu_user_s + j.cpu_sys_s == 0.0 {
            (j.cpu_user_s, j.cpu_sys_s) = f.steps_cpu;
        }
        parsed.jobs.push(j);
    }
    if unfinished > 0 {
        parsed.notes.push(format!(
            "{unfinished} allocation(s) still pending or running were left out"
        ));
    }
    parsed.describe(&[
        ("times", "exact: Start and End (whole seconds), Elapsed"),
        ("cpu", "exact: TotalCPU (UserCPU + SystemCPU) of the allocation, or the sum of its steps'"),
        ("peak_rss", "sampled: MaxRSS, the largest step's, polled by Slurm's jobacct_gather (JobAcctGatherFrequency, 30 s by default) and per task"),
        ("io", "sampled: AveDiskRead/AveDiskWrite × NTasks summed over steps (storage bytes); rchar/wchar missing"),
        ("threads", "exact: AllocCPUS"),
        ("mem_request", "exact: ReqMem"),
    ]);
    Ok(parsed)
}

fn parse_file(
    src: &Source,
    jobs: &mut BTreeMap<String, Folded>,
    order: &mut Vec<String>,
    unfinished: &mut usize,
) -> Result<(), UsageError> {
    let (header, lines) = src.header_and_rows("sacct --parsable2 output with its header line")?;
    // `--parsable` ends every line with a `|`; `--parsable2` does not.
    let parsable1 = header.ends_with('|');
    let split = |line| split_row(line, parsable1);
    let names = split(header);
    let col = |name: &str| names.iter().position(|(_, n)| n.eq_ignore_ascii_case(name));
    let (Some(c_id), Some(c_state)) = (col("JobID"), col("State")) else {
        return Err(src.at(
            1,
            1,
            "not sacct --parsable2 output: the header needs JobID and State (run sacct with --parsable2 and without --noheader)",
        ));
    };
    let c = Cols {
        name: col("JobName"),
        node: col("NodeList"),
        start: col("Start"),
        end: col("End"),
        elapsed: col("Elapsed"),
        total_cpu: col("TotalCPU"),
        user_cpu: col("UserCPU"),
        sys_cpu: col("SystemCPU"),
        cpus: col("AllocCPUS"),
        req_mem: col("ReqMem"),
        max_rss: col("MaxRSS"),
        disk_read: col("AveDiskRead"),
        disk_write: col("AveDiskWrite"),
        ntasks: col("NTasks"),
        exit: col("ExitCode"),
    };
    for (ln, line) in lines {
        let row = split(line);
        if row.len() != names.len() {
            return Err(src.at(
                ln,
                1,
                format!(
                    "{} fields where the header has {} (a `|` inside a job name, or lines from another command?)",
                    row.len(),
                    names.len()
                ),
            ));
        }
        let get = |k: Option<usize>| k.map_or("", |k| row[k].1.trim());
        let at = |k: Option<usize>, m: String| src.at(ln, k.map_or(1, |k| row[k].0), m);
        let raw_id = row[c_id].1.trim();
        if raw_id.is_empty() {
            return Err(at(Some(c_id), "empty JobID".into()));
        }
        let (key, step) = match raw_id.split_once('.') {
            Some((k, s)) => (k, Some(s)),
            None => (raw_id, None),
        };
        if key.contains('[') {
            // A pending array's summary line (`123_[1-9]`): nothing ran yet.
            *unfinished += 1;
            continue;
        }
        let state_word = get(Some(c_state)).split_whitespace().next().unwrap_or("");
        let dur = |k: Option<usize>| slurm_duration(get(k)).map_err(|m| at(k, m.0));
        let bytes = |k: Option<usize>, bare: f64| size(get(k), bare).map_err(|m| at(k, m.0));
        let ntasks = get(c.ntasks).parse::<f64>().unwrap_or(1.0).clamp(1.0, 1e6);
        let read = bytes(c.disk_read, 1.0)?.unwrap_or(0) as f64 * ntasks;
        let write = bytes(c.disk_write, 1.0)?.unwrap_or(0) as f64 * ntasks;
        let rss = bytes(c.max_rss, 1024.0)?.unwrap_or(0);
        let (user, sys) = match (dur(c.user_cpu)?, dur(c.sys_cpu)?) {
            (Some(u), Some(s)) => (u, s),
            _ => (dur(c.total_cpu)?.unwrap_or(0.0), 0.0),
        };
        if !jobs.contains_key(key) {
            order.push(key.to_string());
        }
        let f = jobs.entry(key.to_string()).or_insert_with(|| Folded {
            job: Job::named(key, key, ""),
            seen_job_line: false,
            steps_cpu: (0.0, 0.0),
        });
        f.job.read_bytes = f.job.read_bytes.saturating_add(read as u64);
        f.job.write_bytes = f.job.write_bytes.saturating_add(write as u64);
        f.job.peak_rss = f.job.peak_rss.max(rss);
        if step.is_some() {
            f.steps_cpu.0 += user;
            f.steps_cpu.1 += sys;
            continue;
        }
        // The allocation's own line.
        let Some(status) = status_of(state_word) else {
            if unfinished_state(state_word) {
                *unfinished += 1;
                jobs.remove(key);
                continue;
            }
            return Err(at(
                Some(c_state),
                format!("unknown job state {state_word:?}"),
            ));
        };
        let start = slurm_time(get(c.start)).map_err(|m| at(c.start, m.0))?;
        let end = slurm_time(get(c.end)).map_err(|m| at(c.end, m.0))?;
        let elapsed = dur(c.elapsed)?;
        let (start, end) = match (start, end, elapsed) {
            (Some(s), Some(e), _) if e >= s => (s, e),
            (Some(s), Some(e), _) => {
                return Err(at(c.end, format!("End is {:.0} s before Start", s - e)))
            }
            (Some(s), None, Some(d)) => (s, s + d),
            (None, Some(e), Some(d)) if e >= d => (e - d, e),
            _ => {
                if status == AttemptStatus::Terminated {
                    // Cancelled before it started.
                    *unfinished += 1;
                    jobs.remove(key);
                    continue;
                }
                return Err(at(
                    c.start,
                    "a finished job needs Start and End (or one of them and Elapsed)".into(),
                ));
            }
        };
        let name = match get(c.name) {
            "" => key.to_string(),
            n => n.to_string(),
        };
        let (id, attempt) =
            atlasperf_attempt(&name).unwrap_or_else(|| (format!("{name}-{key}"), 1));
        let (code, signal) = exit_code(get(c.exit)).map_err(|m| at(c.exit, m.0))?;
        let j = &mut f.job;
        j.id = sanitize_id(&id);
        j.attempt = attempt;
        j.name = name;
        j.node = first_node(get(c.node));
        j.status = status;
        j.exit_code = code.or(Some(i32::from(status != AttemptStatus::Ok)));
        j.signal = signal;
        j.start_unix = start;
        j.end_unix = end;
        j.cpu_user_s = user;
        j.cpu_sys_s = sys;
        j.threads = get(c.cpus).parse::<usize>().unwrap_or(1).clamp(1, 1 << 20);
        j.mem_request = bytes(c.req_mem, 1024.0 * 1024.0)?;
        j.executor_job_id = Some(key.to_string());
        f.seen_job_line = true;
    }
    Ok(())
}

/// A line's fields; `--parsable` ends every line with a `|`, `--parsable2` does not.
fn split_row(line: &str, parsable1: bool) -> Vec<(usize, &str)> {
    let line = if parsable1 {
        line.strip_suffix('|').unwrap_or(line)
    } else {
        line
    };
    fields(line, '|')
}

/// Column indices of the optional fields.
struct Cols {
    name: Option<usize>,
    node: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    elapsed: Option<usize>,
    total_cpu: Option<usize>,
    user_cpu: Option<usize>,
    sys_cpu: Option<usize>,
    cpus: Option<usize>,
    req_mem: Option<usize>,
    max_rss: Option<usize>,
    disk_read: Option<usize>,
    disk_write: Option<usize>,
    ntasks: Option<usize>,
    exit: Option<usize>,
}

/// The store's status for a finished Slurm state.
fn status_of(state: &str) -> Option<AttemptStatus> {
    Some(match state {
        "COMPLETED" => AttemptStatus::Ok,
        "FAILED" | "NODE_FAIL" | "BOOT_FAIL" => AttemptStatus::Failed,
        "OUT_OF_MEMORY" => AttemptStatus::OomKilled,
        "TIMEOUT" | "CANCELLED" | "PREEMPTED" | "DEADLINE" | "REVOKED" => AttemptStatus::Terminated,
        _ => return None,
    })
}

fn unfinished_state(state: &str) -> bool {
    matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "REQUEUED"
            | "RESIZING"
            | "SUSPENDED"
            | "REQUEUE_HOLD"
            | "REQUEUE_FED"
            | "SPECIAL_EXIT"
            | "STOPPED"
            | "SIGNALING"
            | "STAGE_OUT"
            | "COMPLETING"
            | "CONFIGURING"
    )
}

/// atlasperf's own Slurm job names, `atlasperf-<job>.<attempt>`: the job id and attempt.
fn atlasperf_attempt(name: &str) -> Option<(String, u32)> {
    let rest = name.strip_prefix("atlasperf-")?;
    let (job, n) = rest.rsplit_once('.')?;
    Some((job.to_string(), n.parse().ok().filter(|n| *n >= 1)?))
}

/// `ExitCode` is `code:signal`.
fn exit_code(s: &str) -> Result<(Option<i32>, Option<i32>), BadValue> {
    if s.is_empty() {
        return Ok((None, None));
    }
    let (c, sig) = s.split_once(':').unwrap_or((s, "0"));
    let parse = |v: &str| {
        v.parse::<i32>()
            .ok()
            .filter(|v| (0..=255).contains(v))
            .ok_or_else(|| BadValue(format!("{s:?} is not an exit code (CODE:SIGNAL)")))
    };
    let (c, sig) = (parse(c)?, parse(sig)?);
    Ok((Some(c), (sig != 0).then_some(sig)))
}

/// The first node of a Slurm node list (`node[1-3,5]` → `node1`; `None assigned` → empty).
fn first_node(list: &str) -> String {
    let list = list.trim();
    if list.is_empty() || list.starts_with("None") {
        return "unassigned".into();
    }
    let first = match list.find('[') {
        Some(i) => {
            let range = &list[i + 1..];
            let first = range.split([',', '-', ']']).next().unwrap_or_default();
            format!("{}{first}", &list[..i])
        }
        None => list.split(',').next().unwrap_or(list).to_string(),
    };
    sanitize_id(&first)
}

#[cfg(test)]
mod tests;
