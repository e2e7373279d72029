//! The per-job supervisor (`atlasperf agent`): spawns one argv without a shell in its own
//! process group, samples its process tree on absolute deadlines, and records exact totals
//! after `wait`.
//!
//! Exact totals come from the kernel's own accounting once the child is reaped:
//! `getrusage(RUSAGE_CHILDREN)` for CPU, and for I/O the part of this process's `/proc/self/io`
//! that is not its live threads' own (on reap, a child's I/O counters are folded into its
//! parent's signal-level counters, recursively; the agent's own reads of `/proc` and writes of
//! samples stay in its threads' counters and are subtracted). The agent is a child subreaper,
//! so descendants orphaned by the job are reparented to it and reaped too. Peak memory
//! is the largest *sampled* Σ VmRSS over the tree; `ru_maxrss` of the children is kept as well
//! but labelled for what it is: the peak of the largest single process.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::sampler::sensors::{cpu_s, rusage, seconds};
use crate::sampler::{unix_now, Sample, TreeSampler};
use crate::store::{percentile, SampleRow, SampleWriter, StoreError, Totals};

/// What the agent runs and where it writes.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The attempt's identifier, written into every sample row.
    pub attempt_id: String,
    /// Program and arguments; the first element is looked up on `PATH`.
    pub argv: Vec<OsString>,
    /// Sampling period.
    pub interval: Duration,
    /// CSV file the samples are appended to as they are taken (header written if new).
    pub samples: Option<PathBuf>,
    /// How long a terminated job gets between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Errors of the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The argv was empty.
    #[error("no command given to supervise")]
    NoCommand,
    /// The program could not be started.
    #[error("cannot start `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The samples file could not be opened.
    #[error("opening the samples file")]
    Samples(#[source] StoreError),
    /// Waiting for the child failed.
    #[error("waiting for the job")]
    Wait(#[source] std::io::Error),
}

/// Supervises one job to completion. When `stop` becomes true the job's process group gets
/// SIGTERM, then SIGKILL after the grace period; the totals are still recorded. When a sample
/// cannot be written (a full disk) the agent says so once, stops writing samples and keeps
/// supervising: the job's exact totals are still recorded at its end.
///
/// # Errors
/// When the command cannot be started or the samples file cannot be opened.
pub fn supervise(opts: &AgentOptions, stop: &AtomicBool) -> Result<Totals, AgentError> {
    let (program, args) = opts.argv.split_first().ok_or(AgentError::NoCommand)?;
    let mut out = match &opts.samples {
        Some(p) => Some(SampleWriter::open(p).map_err(AgentError::Samples)?),
        None => None,
    };
    set_child_subreaper();
    let io_before = reaped_io();
    let start = Instant::now();
    let start_unix = unix_now();
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal, so a
    // job never outlives a killed agent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| AgentError::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let exit_watch = PidFd::open(pid);
    let mut sampler = TreeSampler::with_start(pid, start);
    let mut totals = Totals {
        start_unix,
        ..Totals::default()
    };
    let mut lateness = Vec::new();
    let mut tick: u32 = 0;
    let mut term_sent: Option<Instant> = None;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().map_err(AgentError::Wait)? {
            break status;
        }
        let deadline = opts.interval * tick;
        lateness.push(start.elapsed().saturating_sub(deadline).as_secs_f64() * 1e3);
        if let Some(s) = sampler.sample() {
            record(&mut totals, &s);
            let late_ms = *lateness.last().unwrap_or(&0.0);
            if let Some(w) = out.as_mut() {
                if let Err(e) = w.write(&row(&opts.attempt_id, &s, late_ms)) {
                    eprintln!(
                        "agent: {}; no further samples are written for this attempt",
                        crate::store::describe(&e)
                    );
                    out = None;
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            match term_sent {
                None => {
                    signal_group(pid, libc::SIGTERM);
                    term_sent = Some(Instant::now());
                    totals.terminated = true;
                }
                Some(at) if at.elapsed() > opts.grace => signal_group(pid, libc::SIGKILL),
                Some(_) => {}
            }
        }
        tick += 1;
        let next = opts.interval * tick;
        let wait = next.saturating_sub(start.elapsed());
        match &exit_watch {
            Some(fd) => fd.wait(wait),
            None => std::thread::sleep(wait),
        }
    };
    // Anything left in the group (orphaned grandchildren) goes with the job, and whatever
    // was reparented to the agent is reaped so its CPU and I/O are counted.
    signal_group(pid, libc::SIGKILL);
    reap_orphans();
    totals.wall_s = start.elapsed().as_secs_f64();
    totals.end_unix = unix_now();
    totals.exit_code = status.code();
    totals.signal = status.signal();
    finish(&mut totals, io_before, &mut lateness);
    if let Some(w) = &out {
        if let Err(e) = w.sync() {
            eprintln!("agent: {}", crate::store::describe(&e));
        }
    }
    Ok(totals)
}

fn row(attempt_id: &str, s: &Sample, late_ms: f64) -> SampleRow {
    let c = &s.counters;
    SampleRow {
        attempt_id: attempt_id.to_string(),
        t: s.t,
        unix: s.unix,
        cpu_core_pct: s.cpu_core_pct,
        cpu_s: s.cpu_s,
        rss: c.rss,
        rss_anon: c.rss_anon,
        hwm_sum: c.hwm_sum,
        rchar: c.rchar,
        wchar: c.wchar,
        read_bytes: c.read_bytes,
        write_bytes: c.write_bytes,
        threads: c.threads,
        processes: c.processes,
        late_ms,
    }
}

fn record(t: &mut Totals, s: &Sample) {
    t.samples += 1;
    t.peak_rss = t.peak_rss.max(s.counters.rss);
    t.peak_rss_anon = t.peak_rss_anon.max(s.counters.rss_anon);
    t.peak_hwm_sum = t.peak_hwm_sum.max(s.counters.hwm_sum);
}

fn finish(t: &mut Totals, io_before: IoCounters, lateness: &mut [f64]) {
    let children = rusage(libc::RUSAGE_CHILDREN);
    let me = rusage(libc::RUSAGE_SELF);
    t.cpu_user_s = seconds(children.ru_utime);
    t.cpu_sys_s = seconds(children.ru_stime);
    t.involuntary_switches = u64::try_from(children.ru_nivcsw).unwrap_or(0);
    t.max_rss_largest_process = u64::try_from(children.ru_maxrss).unwrap_or(0) * 1024;
    // A job shorter than one interval may end before a sample sees it grown; the largest
    // single process's peak is a lower bound of the tree's.
    t.peak_rss = t.peak_rss.max(t.max_rss_largest_process);
    t.agent_cpu_s = cpu_s(&me);
    let after = reaped_io();
    t.rchar = after[0].saturating_sub(io_before[0]);
    t.wchar = after[1].saturating_sub(io_before[1]);
    t.read_bytes = after[2].saturating_sub(io_before[2]);
    t.write_bytes = after[3].saturating_sub(io_before[3]);
    lateness.sort_by(f64::total_cmp);
    t.tick_late_p50_ms = percentile(lateness, 0.50);
    t.tick_late_p99_ms = percentile(lateness, 0.99);
}

/// rchar, wchar, read_bytes, write_bytes.
type IoCounters = [u64; 4];

fn read_io(path: &str) -> Option<(IoCounters, u64)> {
    use procfs::FromRead;
    let raw = std::fs::read(path).ok()?;
    let io = procfs::process::Io::from_read(raw.as_slice()).ok()?;
    Some((
        [io.rchar, io.wchar, io.read_bytes, io.write_bytes],
        raw.len() as u64,
    ))
}

/// The I/O of this process that is not any live thread's own: reaped descendants (and exited
/// threads). Process-level counters are the signal-level sum plus every live thread's; the
/// calling thread's counter is read right after the process file, so it already includes the
/// bytes of that read, which are taken back out.
fn reaped_io() -> IoCounters {
    let Some((whole, whole_len)) = read_io("/proc/self/io") else {
        return [0; 4];
    };
    let Some((mut mine, _)) = read_io("/proc/thread-self/io") else {
        return [0; 4];
    };
    mine[0] = mine[0].saturating_sub(whole_len);
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    let others = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&tid| tid != me)
        .filter_map(|tid| read_io(&format!("/proc/self/task/{tid}/io")).map(|(c, _)| c));
    let mut own = mine;
    for c in others {
        for k in 0..4 {
            own[k] += c[k];
        }
    }
    std::array::from_fn(|k| whole[k].saturating_sub(own[k]))
}

fn set_child_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only changes how orphans are reparented.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    }
}

/// Reaps every exited child left (descendants the job orphaned, reparented here). Orphans that
/// are still running were sent SIGKILL with the job's group; give them a moment to die.
fn reap_orphans() {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        // SAFETY: waitpid with a null status pointer only reaps.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r > 0 {
            continue;
        }
        // r == 0: children remain but none has exited yet; r < 0: no children left.
        if r < 0 || Instant::now() > until {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `sig` to the process group led by `pgid` (ignores a group that is already gone).
pub fn signal_group(pgid: i32, sig: libc::c_int) {
    // SAFETY: killpg only sends a signal.
    unsafe {
        libc::killpg(pgid, sig);
    }
}

/// A pidfd, to sleep until a deadline *or* the child's exit, whichever comes first.
struct PidFd(std::os::fd::OwnedFd);

impl PidFd {
    fn open(pid: i32) -> Option<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open returns a new descriptor or -1; we own it from here on.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Some(Self(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    fn wait(&self, timeout: Duration) {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd; poll only reads and writes it.
        unsafe {
            libc::poll(&mut pfd, 1, ms);
        }
    }
}
