//! Errors of report rendering.

use std::path::PathBuf;

/// Result alias for the reports crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// What can go wrong while rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// A figure could not be drawn or encoded.
    #[error("{}: cannot draw figure: {source}", path.display())]
    Draw {
        /// The figure file.
        path: PathBuf,
        /// Error from the drawing backend.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The run store could not be read, or a report file would be written through a
    /// symlink.
    #[error(transparent)]
    Store(#[from] atlasperf_store::StoreError),
    /// Inputs that cannot be drawn (empty, inconsistent sizes).
    #[error("invalid input: {0}")]
    Input(String),
}

impl ReportError {
    /// Wraps a drawing-backend error with the figure path.
    pub fn draw<E: std::error::Error + Send + Sync + 'static>(
        path: &std::path::Path,
        e: E,
    ) -> Self {
        ReportError::Draw {
            path: path.to_owned(),
            source: Box::new(e),
        }
    }
}
