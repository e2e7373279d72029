//! The "Slurm accounting" section: what `sacct` recorded of each attempt beside atlasperf's
//! own figures, and where the two disagree beyond what their definitions explain. TotalCPU
//! counts the whole batch step — the job, atlasperf's agent and the batch shell — so it should
//! be the job's CPU plus the agent's; MaxRSS is the largest sum of the step's RSS at Slurm's
//! polls, so it should lie between part of the job's peak (a poll that missed the peak) and
//! the peak plus the agent and the shell.

use std::fmt::Write as _;

use crate::run::RunData;
use crate::table::{bytes, stage_label};

/// Resident memory allowed above the job's peak in MaxRSS: the agent (about 8.5 MiB) and the
/// batch shell (about 2 MiB), measured on the local cluster (docs/slurm.md).
pub const STEP_EXTRA_RSS: f64 = 12.0 * 1024.0 * 1024.0;

/// True when TotalCPU (`acct_cpu`) is the job's CPU plus its agent's, within 2 % of the job's
/// and 0.05 s: what the batch step adds beyond them is the batch shell.
pub fn cpu_explained(acct_cpu: f64, cpu: f64, agent_cpu: f64) -> bool {
    (acct_cpu - cpu - agent_cpu).abs() <= 0.02 * cpu + 0.05
}

/// True when MaxRSS lies between half the job's peak (a poll that missed the peak) and the peak
/// plus the agent and the shell ([`STEP_EXTRA_RSS`]). A MaxRSS of 0 (a step that ended before
/// Slurm's first poll) is not measured and not judged here.
pub fn rss_explained(max_rss: f64, peak: f64) -> bool {
    max_rss <= peak + STEP_EXTRA_RSS && max_rss >= 0.5 * peak
}

/// The section, empty when no attempt has accounting.
pub fn markdown(run: &RunData) -> String {
    let with: Vec<_> = run
        .attempts
        .iter()
        .filter_map(|a| a.accounting.map(|acct| (a, acct)))
        .collect();
    if with.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n### Slurm accounting\n\n| Stage | Attempts | TotalCPU / (CPU + agent), median (range) | MaxRSS / peak RSS, median (range) |\n|---|---|---|---|\n",
    );
    let mut odd = Vec::new();
    let mut unpolled = 0usize;
    for stage in run.stages() {
        let mut cpu = Vec::new();
        let mut rss = Vec::new();
        for (a, acct) in with.iter().filter(|(a, _)| a.stage == stage) {
            let own = a.cpu_s + a.agent_cpu_s;
            if own > 0.0 {
                cpu.push(acct.cpu_s / own);
                if !cpu_explained(acct.cpu_s, a.cpu_s, a.agent_cpu_s) {
                    odd.push(format!(
                        "{}: TotalCPU {:.2} s, atlasperf {:.2} s + agent {:.2} s",
                        a.attempt_id, acct.cpu_s, a.cpu_s, a.agent_cpu_s
                    ));
                }
            }
            if acct.max_rss == 0 {
                // The step ended before Slurm's first poll: MaxRSS was not measured.
                unpolled += 1;
            } else if a.peak_rss > 0.0 {
                let m = acct.max_rss as f64;
                rss.push(m / a.peak_rss);
                if !rss_explained(m, a.peak_rss) {
                    odd.push(format!(
                        "{}: MaxRSS {}, atlasperf's peak {}",
                        a.attempt_id,
                        bytes(m),
                        bytes(a.peak_rss)
                    ));
                }
            }
        }
        if cpu.is_empty() && rss.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            stage_label(&stage),
            cpu.len().max(rss.len()),
            spread(&mut cpu),
            spread(&mut rss)
        );
    }
    s.push_str("\nTotalCPU covers the batch step (the job, its agent and the batch shell); MaxRSS is the largest RSS summed over the step's processes at Slurm's polls (`JobAcctGatherFrequency`), so it adds the agent and the shell and can miss a short peak.\n");
    if unpolled > 0 {
        let _ = writeln!(
            s,
            "{unpolled} attempt(s) ended before Slurm's first poll: their MaxRSS is 0, not measured, and left out above."
        );
    }
    if odd.is_empty() {
        s.push_str("Every attempt agrees within what those definitions explain.\n");
    } else {
        let _ = writeln!(
            s,
            "\n**Disagreeing beyond the definitions** ({} of {}):\n",
            odd.len(),
            with.len()
        );
        for o in odd.iter().take(20) {
            let _ = writeln!(s, "- {o}");
        }
    }
    s
}

fn spread(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "–".into();
    }
    v.sort_by(f64::total_cmp);
    format!("{:.3} ({:.3}–{:.3})", v[v.len() / 2], v[0], v[v.len() - 1])
}
