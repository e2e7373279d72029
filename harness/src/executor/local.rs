//! The local executor: emulated nodes on this machine. Every attempt runs as
//! `atlasperf agent -- <argv>` in its own process group, pinned to its node's CPUs when the
//! machine has enough of them; the agent writes samples and totals into the run store.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{AgentSettings, Executor, Finished, LaunchError, Usage};
use crate::agent::signal_group;
use crate::plan::PlannedJob;
use crate::sampler::{descendants_rss, tree_pids};
use crate::store::{RunStore, SamplesFile};

struct Proc {
    child: Child,
    node: usize,
    oom: bool,
}

/// The local executor.
pub struct LocalExecutor {
    exe: PathBuf,
    store: RunStore,
    agent: AgentSettings,
    start: Instant,
    offset: f64,
    cpusets: Vec<Option<Vec<usize>>>,
    running: HashMap<String, Proc>,
}

/// CPU sets per node: consecutive CPUs, `cores` each, when the machine has Σ cores of them;
/// otherwise no pinning (every job may use every CPU).
pub fn cpusets(cores: &[usize], machine_cpus: usize) -> Vec<Option<Vec<usize>>> {
    let total: usize = cores.iter().sum();
    if total > machine_cpus {
        return vec![None; cores.len()];
    }
    let mut next = 0;
    cores
        .iter()
        .map(|&c| {
            let set: Vec<usize> = (next..next + c).collect();
            next += c;
            Some(set)
        })
        .collect()
}

impl LocalExecutor {
    /// An executor writing into `store`, running agents from `exe`.
    pub fn new(
        exe: PathBuf,
        store: RunStore,
        interval_ms: u64,
        cpusets: Vec<Option<Vec<usize>>>,
    ) -> Self {
        Self {
            exe,
            store,
            agent: AgentSettings {
                interval_ms,
                grace_s: 5.0,
            },
            start: Instant::now(),
            offset: 0.0,
            cpusets,
            running: HashMap::new(),
        }
    }

    /// Reports times as `offset` seconds plus the time since creation (a resumed run keeps
    /// its original clock).
    pub fn with_offset(mut self, offset: f64) -> Self {
        self.offset = offset;
        self
    }

    /// What became of an attempt whose agent exited: its totals; or, when the agent died
    /// before writing them (killed, or its disk full), totals rebuilt from its samples — a
    /// failed attempt, retried like any failure. Only an agent that ended on its own with
    /// neither totals nor samples is a launch error (the job never ran).
    fn finished(&self, id: &str, p: &Proc, status: std::process::ExitStatus) -> Finished {
        use std::os::unix::process::ExitStatusExt;
        let finished = |totals, launch_error| Finished {
            attempt_id: id.to_string(),
            totals,
            oom_killed: p.oom,
            launch_error,
            executor_job_id: None,
        };
        if let Some(totals) = self.store.read_result(id) {
            return finished(totals, None);
        }
        let rows = self.store.read_samples(id).unwrap_or_default();
        if !rows.is_empty() || status.signal().is_some() {
            let mut totals = SamplesFile::totals(&rows);
            totals.signal = status.signal();
            totals.exit_code = status.code().filter(|&c| c != 0).or(totals.exit_code);
            eprintln!(
                "{id}: its agent ended ({status}) without recording totals; {} samples kept, totals rebuilt from them (see {})",
                rows.len(),
                self.store.log_path(id, "stderr").display()
            );
            return finished(totals, None);
        }
        finished(
            crate::store::Totals::default(),
            Some(format!(
                "the agent ended ({status}) without writing {}; see {}",
                self.store.result_path(id).display(),
                self.store.log_path(id, "stderr").display()
            )),
        )
    }
}

impl Executor for LocalExecutor {
    fn launch(
        &mut self,
        job: &PlannedJob,
        node: usize,
        attempt_id: &str,
        _request: Option<u64>,
    ) -> Result<(), LaunchError> {
        let log =
            |stream: &str| crate::store::fsio::create(&self.store.log_path(attempt_id, stream));
        let (stdout, stderr) = (log("stdout")?, log("stderr")?);
        let mut cmd = Command::new(&self.exe);
        cmd.args(self.agent.argv(&self.store, attempt_id, job))
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0);
        let cpus = self.cpusets.get(node).cloned().flatten();
        // SAFETY: only async-signal-safe calls (prctl, sched_setaffinity) on memory prepared
        // before the fork.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if let Some(cpus) = &cpus {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    for &c in cpus {
                        libc::CPU_SET(c, &mut set);
                    }
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| LaunchError::Spawn {
            exe: self.exe.clone(),
            source,
        })?;
        self.running.insert(
            attempt_id.to_string(),
            Proc {
                child,
                node,
                oom: false,
            },
        );
        Ok(())
    }

    fn wait(&mut self, max: Duration) -> Vec<Finished> {
        let until = Instant::now() + max;
        loop {
            let mut done = Vec::new();
            for (id, p) in &mut self.running {
                if let Ok(Some(status)) = p.child.try_wait() {
                    done.push((id.clone(), status));
                }
            }
            if !done.is_empty() || Instant::now() >= until || self.running.is_empty() {
                return done
                    .into_iter()
                    .filter_map(|(id, status)| {
                        let p = self.running.remove(&id)?;
                        Some(self.finished(&id, &p, status))
                    })
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
        }
    }

    fn usage(&mut self) -> Vec<Usage> {
        self.running
            .iter()
            .map(|(id, p)| Usage {
                attempt_id: id.clone(),
                node: p.node,
                rss: i32::try_from(p.child.id()).map_or(0, descendants_rss),
            })
            .collect()
    }

    fn kill_oom(&mut self, attempt_id: &str) {
        let Some(p) = self.running.get_mut(attempt_id) else {
            return;
        };
        p.oom = true;
        let Ok(agent) = i32::try_from(p.child.id()) else {
            return;
        };
        // The job leads its own process group, directly under the agent.
        if let Some(&job) = tree_pids(agent).get(1) {
            signal_group(job, libc::SIGKILL);
        }
    }

    fn terminate_all(&mut self) {
        for p in self.running.values() {
            if let Ok(pid) = i32::try_from(p.child.id()) {
                // SAFETY: kill only sends a signal to our own child.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
    }

    fn now(&self) -> f64 {
        self.offset + self.start.elapsed().as_secs_f64()
    }

    fn running(&self) -> usize {
        self.running.len()
    }
}
