//! Slurm's command line as the executor uses it: running sbatch, squeue, scontrol and scancel,
//! naming jobs, and quoting what goes into a batch script.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// States after which a Slurm job will not run again.
pub(super) const FINAL: [&str; 10] = [
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "SPECIAL_EXIT",
];

/// How often Slurm is asked for states (slurmctld is shared; do not hammer it).
pub(super) const POLL: Duration = Duration::from_millis(500);

/// A failed Slurm command, with what it printed.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` failed{status}: {stderr}")]
pub struct SlurmError {
    /// The command line.
    pub command: String,
    /// ", exit code N" or empty.
    pub status: String,
    /// Its stderr (or why it could not start).
    pub stderr: String,
}

/// Runs a Slurm command and returns its stdout.
pub(super) fn slurm(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let command = std::iter::once(program.to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| SlurmError {
            command: command.clone(),
            status: String::new(),
            stderr: format!("cannot start {program}: {e} (is Slurm installed and on PATH?)"),
        })?;
    if !out.status.success() {
        return Err(SlurmError {
            command,
            status: out
                .status
                .code()
                .map_or_else(String::new, |c| format!(", exit code {c}")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Cancels the Slurm jobs of attempts a killed harness submitted (by their job names) and
/// waits up to a minute for Slurm to end them, so a resume never has them run beside it.
/// Best effort: a cluster that cannot be reached has nothing of ours running.
pub fn cancel_attempts(attempt_ids: &[String]) {
    let names: Vec<String> = attempt_ids.iter().map(|a| job_name(a)).collect();
    let arg = format!("--name={}", names.join(","));
    if slurm("scancel", std::slice::from_ref(&arg)).is_err() {
        return;
    }
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        match slurm(
            "squeue",
            &[
                "-h".to_string(),
                "-o".to_string(),
                "%i".to_string(),
                arg.clone(),
            ],
        ) {
            Ok(out) if !out.trim().is_empty() => std::thread::sleep(POLL),
            _ => return,
        }
    }
}

/// The Slurm job name of an attempt.
pub(super) fn job_name(attempt_id: &str) -> String {
    format!("atlasperf-{attempt_id}")
}

/// Text for a comment line of a batch script: control characters (a newline would end the
/// comment and start a command) are escaped, so nothing a caller wrote can run.
pub(super) fn comment_safe(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `'…'` with embedded quotes escaped: safe for any path or argument in a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Key=value fields of `scontrol show job -o` output.
pub(super) fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

pub(super) struct Submitted {
    pub(super) slurm_id: String,
    pub(super) job: String,
    pub(super) cancelled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_carry_no_line_breaks() {
        let text = comment_safe("a\nrm -rf /\r\u{0}b");
        assert!(!text.contains(['\n', '\r', '\0']), "{text}");
        assert!(text.contains("a\\nrm -rf /"), "{text}");
    }

    #[test]
    fn quoting_survives_spaces_quotes_and_dollars() {
        for s in ["plain", "with space", "it's", "$HOME `x` \"q\"", ""] {
            let quoted = shell_quote(s);
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {quoted}"))
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }
}
