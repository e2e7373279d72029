//! `atlasperf profile -- CMD …`: profile one command and write a one-job run store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::agent::{supervise, AgentOptions};
use crate::cli::ProfileArgs;
use crate::sampler::{node::record_machine, unix_now};
use crate::store::{
    compact, AttemptStatus, HostFacts, JobRecord, RunInfo, RunStatus, RunStore, MACHINE_HEADER,
    SCHEMA_VERSION,
};

use super::agent::{interval, job_exit_code, stop_flag};
use super::run_folder;

pub(crate) fn run(a: &ProfileArgs) -> anyhow::Result<u8> {
    let period = interval(a.interval)?;
    let dir = run_folder(a.out.as_deref(), "profile")?;
    let store = RunStore::create(&dir)?;
    let argv: Vec<String> = a
        .command
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let host = HostFacts::current();
    let start_unix = unix_now();
    let mut info = RunInfo {
        schema_version: SCHEMA_VERSION,
        id: super::folder_name(&dir),
        scenario_name: "profile".into(),
        scenario: json!({ "profile": { "argv": argv, "interval_ms": a.interval } }),
        git_commit: super::git_commit(),
        atlasperf_version: env!("CARGO_PKG_VERSION").into(),
        tool_versions: serde_json::Map::new(),
        nodes: json!([{ "name": "local", "cores": host.cpus, "memory": host.memory_bytes }]),
        host,
        start_unix,
        end_unix: None,
        status: RunStatus::Running,
        interval_ms: a.interval,
        notes: serde_json::Map::new(),
    };
    store.write_info(&info)?;
    let stop = stop_flag()?;
    let machine_stop = Arc::new(AtomicBool::new(false));
    let machine = record_machine(
        store.machine_csv(),
        MACHINE_HEADER,
        period,
        Arc::clone(&machine_stop),
    );
    let attempt_id = "profile.1".to_string();
    let opts = AgentOptions {
        job: attempt_id.clone(),
        argv: a.command.clone(),
        interval: period,
        samples: Some(store.samples_path(&attempt_id)),
        grace: std::time::Duration::from_secs(5),
    };
    let result = supervise(&opts, &stop);
    machine_stop.store(true, Ordering::Relaxed);
    let _ = machine.join();
    let totals = match result {
        Ok(t) => t,
        Err(e) => {
            info.status = RunStatus::Failed;
            info.end_unix = Some(unix_now());
            store.write_info(&info)?;
            return Err(e.into());
        }
    };
    let status = if totals.terminated {
        AttemptStatus::Terminated
    } else if totals.succeeded() {
        AttemptStatus::Ok
    } else {
        AttemptStatus::Failed
    };
    store.append_job(&JobRecord {
        attempt_id: attempt_id.clone(),
        job_id: "profile".into(),
        stage: "profile".into(),
        target: String::new(),
        atlas: None,
        node: "local".into(),
        attempt: 1,
        mem_request: None,
        voxels: None,
        threads: 0,
        status,
        start_s: totals.start_unix - start_unix,
        end_s: totals.end_unix - start_unix,
        totals: totals.clone(),
        executor_job_id: None,
    })?;
    info.status = if stop.load(Ordering::Relaxed) {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    info.end_unix = Some(unix_now());
    store.write_info(&info)?;
    compact(&store)?;
    eprintln!(
        "{}: {} in {:.2} s; CPU {:.2} s (user {:.2}, sys {:.2}); peak Σ RSS {:.1} MiB (largest process {:.1} MiB); \
syscall I/O read {} / written {}; storage read {} / written {}; {} samples, agent CPU {:.3} s, tick lateness p50 {:.2} ms p99 {:.2} ms",
        argv.join(" "),
        status.as_str(),
        totals.wall_s,
        totals.cpu_s(),
        totals.cpu_user_s,
        totals.cpu_sys_s,
        totals.peak_rss as f64 / 1048576.0,
        totals.max_rss_largest_process as f64 / 1048576.0,
        bytesize::ByteSize(totals.rchar),
        bytesize::ByteSize(totals.wchar),
        bytesize::ByteSize(totals.read_bytes),
        bytesize::ByteSize(totals.write_bytes),
        totals.samples,
        totals.agent_cpu_s,
        totals.tick_late_p50_ms,
        totals.tick_late_p99_ms,
    );
    eprintln!("run store: {}", dir.display());
    Ok(job_exit_code(&totals))
}
