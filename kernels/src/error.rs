//! Errors of the imaging kernels. Every variant carries what a user needs to find the problem:
//! the file, the header field, the shapes involved.

use std::path::PathBuf;

/// Result alias for the kernels crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the kernels crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input could not be read (missing, a folder, no permission, truncated).
    #[error("{}: cannot read: {error}", path.display())]
    Io {
        /// File being read.
        path: PathBuf,
        /// Underlying OS error (in the message, not repeated as a source).
        error: std::io::Error,
    },
    /// An output could not be written (a full disk, no permission).
    #[error("{}: cannot write: {error}", path.display())]
    Write {
        /// File being written.
        path: PathBuf,
        /// Underlying OS error.
        error: std::io::Error,
    },
    /// The NIfTI library could not parse or write the file.
    #[error("{}: not a readable NIfTI-1 file: {error}", path.display())]
    Nifti {
        /// File being read or written.
        path: PathBuf,
        /// Error reported by the `nifti` crate (in the message, not repeated as a source).
        error: nifti::NiftiError,
    },
    /// A header field holds a value this program cannot use.
    #[error("{}: NIfTI header field `{field}`: {problem}", path.display())]
    Header {
        /// File whose header is wrong.
        path: PathBuf,
        /// Name of the header field, as in nifti1.h.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The file holds fewer voxel bytes than its header announces.
    #[error("{}: truncated: header announces {expected} bytes of voxel data, file holds {found}", path.display())]
    Truncated {
        /// The short file.
        path: PathBuf,
        /// Bytes of voxel data the header asks for.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// A label image holds a value that is not a label (negative, fractional or too large).
    #[error("{}: voxel value {value} is not a label (labels are integers in 0..=65535)", path.display())]
    NotALabel {
        /// The label file.
        path: PathBuf,
        /// Offending value.
        value: f64,
    },
    /// An image holds NaN or infinite voxels, which no metric can use.
    #[error("{}: {count} voxels are not finite (NaN or infinite), the first at voxel {first:?}; replace them (for example with 0) first", path.display())]
    NotFinite {
        /// The image file.
        path: PathBuf,
        /// How many voxels are not finite.
        count: usize,
        /// Index `[i, j, k]` of the first one.
        first: [usize; 3],
    },
    /// Two volumes that must share a grid do not.
    #[error("{what}: shapes differ: {a:?} vs {b:?}")]
    ShapeMismatch {
        /// What was being combined.
        what: String,
        /// Shape of the first volume.
        a: [usize; 3],
        /// Shape of the second volume.
        b: [usize; 3],
    },
    /// A dataset manifest could not be parsed.
    #[error("{}: {error}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Parse error with line and column (in the message, not repeated as a source).
        error: Box<toml::de::Error>,
    },
    /// A parameter is outside its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

impl Error {
    /// Wraps an I/O error met while reading the input at `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }

    /// Wraps an I/O error met while writing the output at `path`.
    pub fn write(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            error,
        }
    }
}
