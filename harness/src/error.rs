//! The harness library's errors. The library returns these typed errors; only the commands
//! (`commands/`) wrap them in `anyhow` to add context, and the exit code is read from them
//! (`cli::exit_code`).

use std::path::PathBuf;

use crate::executor::SlurmError;
use crate::store::StoreError;

/// An error caused by how the program was called or by its input files (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Errors of the harness library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments, the scenario or an input file are at fault (exit code 2).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The run store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A kernel (phantom generation, NIfTI I/O) failed.
    #[error(transparent)]
    Kernel(#[from] atlasperf_kernels::Error),
    /// Slurm did not answer as expected.
    #[error(transparent)]
    Slurm(#[from] SlurmError),
    /// The scenario asks for Slurm and Slurm does not answer (or lacks a node).
    #[error("the Slurm cluster is not reachable for run {}", run.display())]
    SlurmUnreachable {
        /// The run folder.
        run: PathBuf,
        /// What Slurm said.
        source: SlurmError,
    },
    /// A value could not be encoded as JSON.
    #[error("encoding JSON")]
    Json(#[from] serde_json::Error),
    /// A system call outside the run store failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl Error {
    /// The exit code this error ends the program with: 2 when the user's arguments or input
    /// files are at fault, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Store(s) if s.is_usage() => 2,
            Self::Kernel(atlasperf_kernels::Error::Write { .. }) => 1,
            Self::Kernel(_) => 2,
            _ => 1,
        }
    }

    /// An [`Error::Io`] with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// A usage error with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(UsageError(message.into()))
    }
}

/// The harness library's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an executor could not start an attempt; the driver records it as the attempt's launch
/// error and the scheduler retries it like any failure.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Its log, script or samples file could not be created.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The agent process could not be spawned.
    #[error("cannot start {}", exe.display())]
    Spawn {
        /// The binary.
        exe: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// sbatch refused the job or did not answer.
    #[error(transparent)]
    Slurm(#[from] SlurmError),
    /// The executor has nothing to run it with (no such node, no usable profile).
    #[error("{0}")]
    Unrunnable(String),
}
