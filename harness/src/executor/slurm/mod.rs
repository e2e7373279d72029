//! The Slurm executor: every attempt the scheduler launches is submitted with `sbatch` as a
//! batch script that execs `atlasperf agent -- ARGV` on the node the scheduler chose
//! (`--nodelist`), with `--cpus-per-task` = the job's threads, `--mem` = its memory request
//! (memory policy) or the node's share per slot, `--dependency=afterok:` on the Slurm jobs of
//! its dependencies, and stdout/stderr into the run directory — the shared storage the agents
//! write their samples and totals to. States are polled with `squeue`/`scontrol`; a job Slurm
//! killed for memory (`OUT_OF_MEMORY` with cgroups, or `FAILED` with "exceeded memory limit"
//! from `OverMemoryKill`) is recorded as OOM-killed, its totals rebuilt from the samples the
//! agent wrote before it died.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::executor::{AgentSettings, Executor, Finished, LaunchError, Usage};
use crate::plan::{Plan, PlannedJob};
use crate::store::{fsio, RunStore, SamplesFile};

pub mod accounting;
mod command;
pub use command::{cancel_attempts, shell_quote, SlurmError};
use command::{comment_safe, fields, job_name, slurm, Submitted, FINAL, POLL};

/// Runs attempts as Slurm batch jobs.
pub struct SlurmExecutor {
    exe: PathBuf,
    store: RunStore,
    agent: AgentSettings,
    start: Instant,
    offset: f64,
    nodes: Vec<(String, u64, usize)>,
    job_ids: Vec<String>,
    running: HashMap<String, Submitted>,
    /// Slurm id of each plan job's successful attempt (for `afterok` dependencies).
    succeeded: HashMap<String, String>,
    last_poll: Option<Instant>,
}

impl SlurmExecutor {
    /// Checks that Slurm answers and knows every node of the plan.
    ///
    /// # Errors
    /// Which command failed and its stderr, or which nodes Slurm does not have.
    pub fn connect(
        exe: PathBuf,
        store: RunStore,
        interval_ms: u64,
        plan: &Plan,
    ) -> Result<Self, SlurmError> {
        let listed = slurm(
            "sinfo",
            &["-h".into(), "-N".into(), "-o".into(), "%N".into()],
        )?;
        let known: Vec<&str> = listed.lines().map(str::trim).collect();
        let missing: Vec<&str> = plan
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .filter(|n| !known.contains(n))
            .collect();
        if !missing.is_empty() {
            return Err(SlurmError {
                command: "sinfo -h -N -o %N".into(),
                status: String::new(),
                stderr: format!(
                    "the scenario's node(s) {} are not in this Slurm cluster (it has: {}); name the scenario's nodes after Slurm's",
                    missing.join(", "),
                    known.join(", ")
                ),
            });
        }
        fsio::ensure_dir(&store.slurm_dir()).map_err(|e| SlurmError {
            command: "mkdir".into(),
            status: String::new(),
            stderr: crate::store::describe(&e),
        })?;
        Ok(Self {
            exe,
            store,
            agent: AgentSettings {
                interval_ms,
                grace_s: 5.0,
            },
            start: Instant::now(),
            offset: 0.0,
            nodes: plan
                .nodes
                .iter()
                .map(|n| (n.name.clone(), n.memory.0, n.slots.max(1)))
                .collect(),
            job_ids: plan.jobs.iter().map(|j| j.id.clone()).collect(),
            running: HashMap::new(),
            succeeded: HashMap::new(),
            last_poll: None,
        })
    }

    /// Reports times as `offset` seconds plus the time since creation.
    pub fn with_offset(mut self, offset: f64) -> Self {
        self.offset = offset;
        self
    }

    /// The batch script of one attempt (every word single-quoted).
    fn script(&self, job: &PlannedJob, attempt_id: &str) -> String {
        let words: Vec<String> = std::iter::once(self.exe.as_os_str().to_owned())
            .chain(self.agent.argv(&self.store, attempt_id, job))
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        format!(
            "#!/bin/sh\n# atlasperf attempt {}: the agent supervises and measures the job.\nexec {}\n",
            comment_safe(attempt_id),
            words
                .iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }

    /// Final states of the submitted jobs that have ended, by Slurm id.
    fn poll(&mut self) -> Result<HashMap<String, HashMap<String, String>>, SlurmError> {
        let mut ended = HashMap::new();
        if self.running.is_empty() {
            return Ok(ended);
        }
        let ids: Vec<&str> = self.running.values().map(|s| s.slurm_id.as_str()).collect();
        let out = slurm(
            "squeue",
            &[
                "-h".into(),
                "-t".into(),
                "all".into(),
                "-j".into(),
                ids.join(","),
                "-o".into(),
                "%i %T".into(),
            ],
        )?;
        let states: HashMap<&str, &str> = out
            .lines()
            .filter_map(|l| l.trim().split_once(' '))
            .collect();
        for id in ids {
            let done = match states.get(id) {
                Some(state) => FINAL.contains(state),
                // Gone from the controller's memory: ended long enough ago.
                None => true,
            };
            if done {
                let line = slurm(
                    "scontrol",
                    &["show".into(), "job".into(), "-o".into(), id.to_string()],
                )
                .unwrap_or_default();
                let f: HashMap<String, String> = fields(&line)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                ended.insert(id.to_string(), f);
            }
        }
        Ok(ended)
    }

    fn finished(&self, attempt_id: &str, s: &Submitted, f: &HashMap<String, String>) -> Finished {
        let state = f.get("JobState").map_or("UNKNOWN", String::as_str);
        let stderr_path = self.store.log_path(attempt_id, "stderr");
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let oom = state == "OUT_OF_MEMORY"
            || stderr.contains("exceeded memory limit")
            || stderr.contains("oom-kill event");
        let parsed = self.store.read_result(attempt_id);
        let executor_job_id = Some(s.slurm_id.clone());
        if let Some(totals) = parsed {
            return Finished {
                attempt_id: attempt_id.to_string(),
                totals,
                oom_killed: oom,
                launch_error: None,
                executor_job_id,
            };
        }
        // The agent did not finish: Slurm killed the whole step (memory, time, scancel).
        let mut totals =
            SamplesFile::totals(&self.store.read_samples(attempt_id).unwrap_or_default());
        let signal = f
            .get("ExitCode")
            .and_then(|c| c.split_once(':'))
            .and_then(|(_, sig)| sig.parse::<i32>().ok())
            .filter(|s| *s > 0);
        if oom || s.cancelled || matches!(state, "CANCELLED" | "TIMEOUT" | "FAILED") {
            totals.signal = signal.or(Some(9));
            totals.terminated = s.cancelled;
            let never_ran = totals.samples == 0 && !oom && !s.cancelled;
            return Finished {
                attempt_id: attempt_id.to_string(),
                totals,
                oom_killed: oom,
                launch_error: never_ran.then(|| {
                    format!(
                        "Slurm job {} ended {state} ({}) before the agent ran; see {}",
                        s.slurm_id,
                        f.get("Reason").map_or("no reason given", String::as_str),
                        stderr_path.display()
                    )
                }),
                executor_job_id,
            };
        }
        Finished {
            attempt_id: attempt_id.to_string(),
            totals,
            oom_killed: false,
            launch_error: Some(format!(
                "Slurm job {} ended {state} without the agent's result; see {}",
                s.slurm_id,
                stderr_path.display()
            )),
            executor_job_id,
        }
    }
}

impl Executor for SlurmExecutor {
    fn launch(
        &mut self,
        job: &PlannedJob,
        node: usize,
        attempt_id: &str,
        request: Option<u64>,
    ) -> Result<(), LaunchError> {
        let (name, memory, slots) = self
            .nodes
            .get(node)
            .cloned()
            .ok_or_else(|| LaunchError::Unrunnable(format!("no node {node} in the plan")))?;
        let script_path = self.store.slurm_dir().join(format!("{attempt_id}.sh"));
        let mib = request
            .unwrap_or(memory / slots as u64)
            .div_ceil(1 << 20)
            .max(1);
        let mut args: Vec<String> = vec![
            "--parsable".into(),
            format!("--job-name={}", job_name(attempt_id)),
            format!("--nodelist={name}"),
            "--nodes=1".into(),
            "--ntasks=1".into(),
            format!("--cpus-per-task={}", job.threads.max(1)),
            format!("--mem={mib}M"),
            format!(
                "--output={}",
                self.store.log_path(attempt_id, "stdout").display()
            ),
            format!(
                "--error={}",
                self.store.log_path(attempt_id, "stderr").display()
            ),
            format!("--chdir={}", self.store.dir().display()),
        ];
        let deps: Vec<&str> = job
            .deps
            .iter()
            .filter_map(|&d| self.succeeded.get(self.job_ids.get(d)?).map(String::as_str))
            .collect();
        if !deps.is_empty() {
            args.push(format!("--dependency=afterok:{}", deps.join(":")));
        }
        let script = self.script(job, attempt_id).replacen(
            '\n',
            &format!(
                "\n# submitted with: sbatch {}\n",
                comment_safe(
                    &args
                        .iter()
                        .map(|a| shell_quote(a))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            ),
            1,
        );
        fsio::write_atomic(&script_path, script.as_bytes())?;
        args.push(script_path.display().to_string());
        let out = slurm("sbatch", &args)?;
        let slurm_id = out.trim().split(';').next().unwrap_or_default().to_string();
        if slurm_id.is_empty() {
            return Err(LaunchError::Unrunnable(format!(
                "sbatch printed no job id for {attempt_id}"
            )));
        }
        self.running.insert(
            attempt_id.to_string(),
            Submitted {
                slurm_id,
                job: job.id.clone(),
                cancelled: false,
            },
        );
        Ok(())
    }

    fn wait(&mut self, max: Duration) -> Vec<Finished> {
        let until = Instant::now() + max;
        loop {
            if let Some(last) = self.last_poll {
                let next = last + POLL;
                let now = Instant::now();
                if next > now {
                    if next > until {
                        std::thread::sleep(until.saturating_duration_since(now));
                        return Vec::new();
                    }
                    std::thread::sleep(next - now);
                }
            }
            self.last_poll = Some(Instant::now());
            let ended = match self.poll() {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("warning: polling Slurm: {e}");
                    HashMap::new()
                }
            };
            if !ended.is_empty() {
                let done: Vec<String> = self
                    .running
                    .iter()
                    .filter(|(_, s)| ended.contains_key(&s.slurm_id))
                    .map(|(a, _)| a.clone())
                    .collect();
                let mut out = Vec::new();
                for a in done {
                    if let Some(s) = self.running.remove(&a) {
                        let f = self.finished(&a, &s, &ended[&s.slurm_id]);
                        if f.launch_error.is_none() && f.totals.succeeded() && !f.oom_killed {
                            self.succeeded.insert(s.job.clone(), s.slurm_id.clone());
                        }
                        out.push(f);
                    }
                }
                return out;
            }
            if Instant::now() >= until || self.running.is_empty() {
                return Vec::new();
            }
        }
    }

    fn usage(&mut self) -> Vec<Usage> {
        // Slurm enforces each job's --mem itself.
        Vec::new()
    }

    fn kill_oom(&mut self, _attempt_id: &str) {}

    fn terminate_all(&mut self) {
        let ids: Vec<String> = self
            .running
            .values_mut()
            .map(|s| {
                s.cancelled = true;
                s.slurm_id.clone()
            })
            .collect();
        if ids.is_empty() {
            return;
        }
        if let Err(e) = slurm("scancel", &ids) {
            eprintln!("warning: {e}");
        } else {
            eprintln!("cancelled Slurm job(s) {}", ids.join(", "));
        }
    }

    fn now(&self) -> f64 {
        self.offset + self.start.elapsed().as_secs_f64()
    }

    fn running(&self) -> usize {
        self.running.len()
    }
}
