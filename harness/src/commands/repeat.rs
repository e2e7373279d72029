//! `atlasperf run SCENARIO --repeat K [--interleave OTHER]`: K repetitions of a scenario, each
//! its own run store in its own process, grouped by a `group.json` that `report`, `compare`
//! and `simulate --validate` read as one. With `--interleave`, K runs of a second scenario
//! alternate with the first in ABBA order (A B B A A B …), so that the machine's drift — whole
//! runs vary by ±10 % within minutes here — falls on both alike (Kalibera & Jones; Google
//! Benchmark's random interleaving). With `--side-by-side` the k-th runs of both start
//! together instead: the machine's speed of that moment, which ABBA cannot cancel because it
//! changes from one 4-second run to the next, is then in both, and `compare` pairs them.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use atlasperf_reports::compare::{compare, markdown, Options};
use atlasperf_reports::render::Formats;

use super::agent::stop_flag;
use super::child::{finish, run_into, start, Ended, Started, INTERRUPTED};
use crate::cli::RunArgs;
use crate::error::UsageError;
use crate::scenario;
use crate::store::{member_name, Group};

/// One group of the session: its folder, scenario and overrides.
struct Side {
    name: String,
    dir: PathBuf,
    file: PathBuf,
    overrides: Vec<String>,
}

pub(crate) fn run(a: &RunArgs, k: usize) -> anyhow::Result<u8> {
    let file = a
        .scenario
        .as_deref()
        .ok_or_else(|| UsageError("give a scenario file".into()))?;
    let name = checked_name(file, &a.overrides)?;
    let mut sides = Vec::new();
    let root = match &a.interleave {
        None => {
            let dir = super::out_or_default(a.out.as_deref(), &format!("{name}-x{k}"));
            sides.push(Side {
                name: name.clone(),
                dir: dir.clone(),
                file: file.to_path_buf(),
                overrides: a.overrides.clone(),
            });
            dir
        }
        Some(other) => {
            let other_name = checked_name(other, &a.interleave_overrides)?;
            let dir =
                super::out_or_default(a.out.as_deref(), &format!("{name}-vs-{other_name}-x{k}"));
            sides.push(Side {
                name: name.clone(),
                dir: dir.join("a"),
                file: file.to_path_buf(),
                overrides: a.overrides.clone(),
            });
            sides.push(Side {
                name: other_name,
                dir: dir.join("b"),
                file: other.clone(),
                overrides: a.interleave_overrides.clone(),
            });
            dir
        }
    };
    for (i, s) in sides.iter().enumerate() {
        let other = (sides.len() > 1).then_some(if i == 0 { "../b" } else { "../a" });
        prepare(s, k, other, a.side_by_side)?;
    }
    let stop = stop_flag()?;
    let ran = if a.side_by_side {
        side_by_side(&sides, k, &stop)?
    } else {
        in_turn(&sides, k, &stop)?
    };
    let Some(failed) = ran else {
        eprintln!(
            "repetitions interrupted; run the same command with --out {} to resume",
            root.display()
        );
        return Ok(INTERRUPTED);
    };
    for s in &sides {
        let out = s.dir.join("report");
        let r = super::report::report(&s.dir, &out, Formats::ALL)?;
        eprintln!(
            "report of {} runs: {} ({} files)",
            k,
            out.join("summary.md").display(),
            r.files.len()
        );
    }
    if let [a_side, b_side] = &sides[..] {
        let load = |d: &Path| {
            atlasperf_reports::group::load(d).with_context(|| format!("reading {}", d.display()))
        };
        let opts = Options {
            matched: a.side_by_side,
            ..Options::default()
        };
        let c = compare(&load(&a_side.dir)?, &load(&b_side.dir)?, &opts);
        let text = markdown(&c, "a", "b");
        let path = root.join("compare.md");
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        print!("{text}");
        eprintln!(
            "compare: {}; gate it with: atlasperf compare {} {} --max-ratio 1.10",
            path.display(),
            a_side.dir.display(),
            b_side.dir.display()
        );
    }
    println!("{}", root.display());
    Ok(u8::from(failed > 0))
}

/// The scenario's name, after checking that it loads with its overrides (a usage error names
/// the file, line and column).
fn checked_name(file: &Path, overrides: &[String]) -> anyhow::Result<String> {
    let loaded = scenario::load(file, overrides).map_err(|e| UsageError(e.to_string()))?;
    Ok(loaded.scenario.name)
}

/// Writes the group file, or checks that the one there describes the same repetitions (so a
/// resume never mixes two scenarios in one group).
fn prepare(
    s: &Side,
    k: usize,
    interleaved_with: Option<&str>,
    side_by_side: bool,
) -> anyhow::Result<()> {
    let mut g = Group::new(&s.name, &s.file, &s.overrides, k);
    g.interleaved_with = interleaved_with.map(str::to_string);
    g.side_by_side = side_by_side;
    if Group::is_group(&s.dir) {
        let old = Group::read(&s.dir).map_err(|e| UsageError(crate::store::describe(&e)))?;
        if old.side_by_side != g.side_by_side {
            return Err(UsageError(format!(
                "{} holds repetitions run {}; run them the same way or choose another --out",
                s.dir.display(),
                if old.side_by_side {
                    "side by side (--side-by-side)"
                } else {
                    "one after the other (without --side-by-side)"
                }
            ))
            .into());
        }
        if old.scenario_name != g.scenario_name || old.overrides != g.overrides {
            return Err(UsageError(format!(
                "{} holds repetitions of another scenario ({} with {:?}); choose another --out",
                s.dir.display(),
                old.scenario_name,
                old.overrides
            ))
            .into());
        }
        // More repetitions than before extend the group; fewer keep what exists.
        if old.runs.len() >= k {
            return Ok(());
        }
    } else if s.dir.join("run.json").exists() {
        return Err(UsageError(format!("{} holds a run, not a group", s.dir.display())).into());
    }
    std::fs::create_dir_all(&s.dir).with_context(|| format!("creating {}", s.dir.display()))?;
    g.write(&s.dir)
        .with_context(|| format!("writing the group file in {}", s.dir.display()))
}

/// Runs the repetitions one after the other, the two sides in ABBA order. `None` when
/// interrupted (the member is named), else the number of runs that failed.
fn in_turn(sides: &[Side], k: usize, stop: &AtomicBool) -> anyhow::Result<Option<usize>> {
    let order = abba(sides.len(), k);
    let mut failed = 0;
    for (step, &(side, rep)) in order.iter().enumerate() {
        let s = &sides[side];
        let member = member_name(rep + 1);
        let label = if sides.len() > 1 {
            format!("{}/{member}", if side == 0 { "a" } else { "b" })
        } else {
            member.clone()
        };
        let step = (step + 1, order.len());
        match run_into(
            &s.dir.join(&member),
            &s.file,
            &s.overrides,
            &label,
            step,
            stop,
        )? {
            Ended::Interrupted => {
                eprintln!("[{}/{}] {label}: interrupted", step.0, step.1);
                return Ok(None);
            }
            Ended::Failed => failed += 1,
            Ended::Kept | Ended::Complete => {}
        }
    }
    Ok(Some(failed))
}

/// Runs repetition k of both sides at the same time, for every k (A starts first in even
/// repetitions, B in odd ones); each child's output goes to `rK.log` beside its run store.
/// `None` when interrupted, else the number of runs that failed.
fn side_by_side(sides: &[Side], k: usize, stop: &AtomicBool) -> anyhow::Result<Option<usize>> {
    let mut failed = 0;
    for rep in 0..k {
        let member = member_name(rep + 1);
        let mut order = [0, 1];
        if rep % 2 == 1 {
            order.reverse();
        }
        let mut running = Vec::new();
        for side in order {
            let s = &sides[side];
            let label = format!("{}/{member}", if side == 0 { "a" } else { "b" });
            let log = s.dir.join(format!("{member}.log"));
            let started = start(
                &s.dir.join(&member),
                &s.file,
                &s.overrides,
                &label,
                (rep + 1, k),
                Some(&log),
            )?;
            running.push((label, started));
        }
        let mut interrupted = false;
        for (label, started) in running {
            let ended = match started {
                Started::Kept => Ended::Kept,
                Started::Child(child) => finish(child, &label, (rep + 1, k), stop)?,
            };
            match ended {
                Ended::Interrupted => interrupted = true,
                Ended::Failed => failed += 1,
                Ended::Kept | Ended::Complete => {}
            }
        }
        if interrupted {
            return Ok(None);
        }
    }
    Ok(Some(failed))
}

/// The order of (side, repetition): one side runs in turn; two alternate A B B A A B B A …
fn abba(sides: usize, k: usize) -> Vec<(usize, usize)> {
    if sides < 2 {
        return (0..k).map(|r| (0, r)).collect();
    }
    (0..k)
        .flat_map(|r| {
            if r % 2 == 0 {
                [(0, r), (1, r)]
            } else {
                [(1, r), (0, r)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_scenarios_alternate_abba() {
        assert_eq!(
            super::abba(2, 3),
            [(0, 0), (1, 0), (1, 1), (0, 1), (0, 2), (1, 2)]
        );
        assert_eq!(super::abba(1, 2), [(0, 0), (0, 1)]);
    }
}
