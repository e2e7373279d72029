//! `atlasperf agent`: supervise one job and record its samples and totals.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::agent::{supervise, AgentOptions};
use crate::cli::AgentArgs;
use crate::error::UsageError;
use crate::store::{RunStore, Totals};

/// A stop flag raised by SIGTERM, SIGINT or SIGHUP.
pub(crate) fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .with_context(|| format!("installing the handler for signal {sig}"))?;
    }
    Ok(stop)
}

pub(crate) fn interval(ms: u64) -> anyhow::Result<Duration> {
    if ms == 0 {
        return Err(UsageError("--interval must be at least 1 ms".into()).into());
    }
    Ok(Duration::from_millis(ms))
}

/// The exit code a shell would report for the job (128 + signal when killed).
pub(crate) fn job_exit_code(t: &Totals) -> u8 {
    match (t.exit_code, t.signal) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
        (None, Some(s)) => u8::try_from((128 + s).min(255)).unwrap_or(255),
        (None, None) => 1,
    }
}

pub(crate) fn run(a: &AgentArgs) -> anyhow::Result<u8> {
    if !(a.grace.is_finite() && a.grace >= 0.0) {
        return Err(UsageError("--grace must be a number of seconds >= 0".into()).into());
    }
    let stop = stop_flag()?;
    let opts = AgentOptions {
        attempt_id: a.attempt.clone(),
        argv: a.command.clone(),
        interval: interval(a.interval)?,
        samples: a.samples.clone(),
        grace: Duration::from_secs_f64(a.grace),
    };
    let totals = supervise(&opts, &stop)?;
    if let Some(path) = &a.result {
        RunStore::write_result(path, &totals)?;
    }
    Ok(job_exit_code(&totals))
}
