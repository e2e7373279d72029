//! The atlasperf run store: the contract between the harness that measures and the reports
//! that read (documented for users in `docs/run-store.md`, which a test checks against the
//! column lists here).
//!
//! This crate is the only code that knows the store's formats. It holds the typed records
//! ([`RunInfo`], [`NodeInfo`], [`JobRecord`], [`SampleRow`], [`Totals`], [`NodeRow`]), one
//! writer and one reader for each file, the column names ([`columns`]), and what keeps a store
//! whole under faults:
//!
//! - an exclusive lock on the run folder for whoever writes to it ([`RunLock`]);
//! - whole-line appends to the journal, fsynced per record; a torn tail moved aside on open;
//! - attempt ids numbered after the highest one ever written ([`RunStore::attempts_on_disk`]);
//! - every write refuses symlinks and other non-regular files ([`fsio`]);
//! - a space reserve that is given back when the disk fills, so the store can still record
//!   why it stopped ([`RunStore::release_reserve`]);
//! - the run clock counts active time only: a resumed run's idle gap is kept apart
//!   ([`RunInfo::run_clock`]).

pub mod columns;
mod compact;
mod conditions;
pub mod fsio;
mod group;
mod journal;
mod layout;
mod lock;
mod nodes;
mod record;
mod sample;
mod schema;
pub mod stats;
pub mod synthetic;
mod tables;

pub use compact::{compact, compact_with, write_tables, CompactSummary};
pub use conditions::{Conditions, Sensors};
pub use group::{member_name, Group, GROUP_FILE};
pub use layout::{attempt_id, split_attempt_id, RunStore};
pub use lock::{RunLock, LOCK_FILE};
pub use nodes::{node_series, nodes_of};
pub use record::{Accounting, AttemptStatus, JobRecord, Totals};
pub use sample::{SampleRow, SampleWriter, SamplesFile};
pub use schema::{
    Band, ForecastNote, HostFacts, Import, MachineRow, NodeInfo, Notes, RunInfo, RunStatus,
    ScalingModel, Segment, Simulation,
};
pub use stats::percentile;
pub use tables::{read_jobs_table, read_nodes_table, read_samples_table, NodeRow};

use std::path::{Path, PathBuf};

/// Version of the on-disk layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 3;
/// The oldest layout still read (reported, compared): version 1 named all three CPU columns
/// `cpu_pct`; its tables are read with that name. Only the current version is resumed.
pub const OLDEST_READABLE_SCHEMA: u32 = 1;

/// Errors of the run store. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file of the store could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the store is not what the contract says.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong (line numbers where they help).
        message: String,
    },
    /// Polars could not build, write or read a table.
    #[error("{}", path.display())]
    Table {
        /// The table file.
        path: PathBuf,
        /// Why.
        source: polars::error::PolarsError,
    },
    /// Something that is not a regular file (a symlink, a device, a folder) sits where the
    /// store writes a file, or a symlink where it writes into a folder.
    #[error("{}: {what}; the run store never writes through it (remove it and retry)", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What is there.
        what: String,
    },
    /// Another process holds the run folder.
    #[error("{} is in use by another atlasperf process (pid {pid}); wait for it to end or stop it first", dir.display())]
    Locked {
        /// The run folder.
        dir: PathBuf,
        /// The holder's pid, as it wrote it in the lock file.
        pid: String,
    },
    /// The folder holds no run store.
    #[error("{}: not a run store (no run.json)", dir.display())]
    NotAStore {
        /// The folder.
        dir: PathBuf,
    },
    /// A store of another layout version than the operation supports.
    #[error("{}: {message}", path.display())]
    Version {
        /// Its `run.json`.
        path: PathBuf,
        /// Which version, and what can be done with it.
        message: String,
    },
}

impl StoreError {
    /// True when the error is the disk (or quota) being full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Io { source, .. } => is_disk_full(source),
            Self::Table { source, .. } => source.to_string().contains("No space left"),
            _ => false,
        }
    }

    /// True when the error is the caller's to fix (a symlink planted, a locked or missing
    /// store), not a failure of the store itself.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::NotRegular { .. }
                | Self::Locked { .. }
                | Self::NotAStore { .. }
                | Self::Version { .. }
        )
    }
}

/// An error and its sources, joined by `: ` — for a message that must stand alone (a note
/// in `run.json`, a line an agent prints), where no caller prints the chain.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

/// True for ENOSPC and EDQUOT.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
