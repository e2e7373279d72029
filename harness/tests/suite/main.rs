//! The harness's integration tests, one test binary: one link instead of sixteen, and the
//! tests of every file share the test threads, so a long single test of one file runs beside
//! the others. A file per subject; `slurm` and `real_anatomy` are ignored unless asked for
//! (`cargo test --release -p atlasperf-harness --test suite -- --ignored slurm::`).

mod cli;
mod common;
mod compare;
mod docs;
mod door;
mod faults;
mod fusion_cohort;
mod hostile_scenarios;
mod import;
mod measurement;
mod real_anatomy;
mod repeat;
mod run;
mod scheduling;
mod simulate;
mod slurm;
mod sweep;
