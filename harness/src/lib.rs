//! The atlasperf harness: scenarios, plans, scheduling, executors, the sampling agent and the
//! run store, plus the command-line interface of the `atlasperf` binary.

pub mod agent;
pub mod cli;
pub mod commands;
pub mod driver;
pub mod error;
pub mod executor;
pub mod forecast;
pub mod import;
pub mod plan;
pub mod runner;
pub mod sampler;
pub mod scenario;
pub mod scheduler;
pub mod session;
pub mod simulate;
pub mod sweep;

pub use atlasperf_store as store;
pub use error::{Error, Result, UsageError};
