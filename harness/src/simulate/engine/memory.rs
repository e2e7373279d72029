//! The memory rules of the simulated nodes: what a node's running jobs hold, and whom the
//! emulated nodes' OOM rule or a job's own limit (Slurm's cgroups) kills.

use super::SimExecutor;
use crate::driver::oom_victims;

/// Which memory rule kills jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryRule {
    /// Emulated nodes: past the node's capacity, the largest jobs are killed.
    Node,
    /// Slurm: a job above its own memory request is killed (no request: the node's rule).
    PerJob,
}

/// A node's running jobs together.
#[derive(Default)]
pub(super) struct Load {
    /// Σ RSS, bytes.
    pub(super) rss: u64,
    /// Cores asked for.
    pub(super) cores: f64,
    /// Some job is above its own memory limit (per-job rule).
    pub(super) over_limit: bool,
}

impl SimExecutor<'_> {
    /// What node `n`'s running jobs hold and ask for now, in one pass.
    pub(super) fn load(&self, n: usize) -> Load {
        let mut load = Load::default();
        for (_, l) in self.on_node(n) {
            load.rss += l.shape.rss(l.bin);
            load.cores += l.shape.cores(l.bin);
            load.over_limit |= self.rule == MemoryRule::PerJob
                && l.limit.is_some_and(|m| l.shape.rss_full(l.bin) > m);
        }
        load
    }

    /// Kills what the memory rule kills on node `n` (called only when its [`Load`] breaks it):
    /// the jobs above their own limits, and with `node_rule` what the node's rule kills.
    pub(super) fn apply_memory_rule(&mut self, n: usize, node_rule: bool) {
        // (slab index, id, RSS as sampled, its own limit under the per-job rule); a limit
        // judges every page (the RSS with the peaks the samples miss), the node's watchdog
        // the samples.
        let usage: Vec<(usize, &str, u64, Option<u64>)> = self
            .on_node(n)
            .map(|(i, l)| {
                let limit = l.limit.filter(|_| self.rule == MemoryRule::PerJob);
                (i, l.id.as_str(), l.shape.rss(l.bin), limit)
            })
            .collect();
        let mut victims: Vec<usize> = self
            .on_node(n)
            .filter(|(_, l)| {
                self.rule == MemoryRule::PerJob
                    && l.limit.is_some_and(|m| l.shape.rss_full(l.bin) > m)
            })
            .map(|(i, _)| i)
            .collect();
        // The node's rule covers the jobs no limit of their own covers.
        let rest: Vec<&(usize, &str, u64, Option<u64>)> =
            usage.iter().filter(|u| u.3.is_none()).collect();
        let sizes: Vec<(&str, u64)> = rest.iter().map(|u| (u.1, u.2)).collect();
        let others: u64 = usage
            .iter()
            .filter(|u| u.3.is_some() && !victims.contains(&u.0))
            .map(|u| u.2)
            .sum();
        let room = self.nodes[n].capacity.saturating_sub(others);
        if node_rule {
            victims.extend(oom_victims(&sizes, room).into_iter().map(|k| rest[k].0));
        }
        for i in victims {
            self.end(i, true);
        }
    }
}
