//! The run folder's lock: whoever writes to a store (`run`, `--resume`, compaction by
//! `report`) holds an exclusive `flock` on `run.lock`, with its pid written inside so a
//! refused second writer can name the holder. The kernel drops the lock when its holder
//! dies, however it dies, so a stale lock from a killed process is simply taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::{fsio, io_err, StoreError};

/// Name of the lock file in a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// An exclusive hold on a run folder; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of the run folder `dir` without waiting.
    ///
    /// # Errors
    /// [`StoreError::Locked`] naming the holder's pid when another process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        fsio::ensure_writable(&path)?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io_err(&path))?;
        if !fsio::try_lock_exclusive(&file) {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid.to_string()
                },
            });
        }
        file.set_len(0).map_err(io_err(&path))?;
        file.seek(SeekFrom::Start(0)).map_err(io_err(&path))?;
        // A full disk must not stop a writer from locking: the pid is a courtesy.
        let _ = writeln!(file, "{}", std::process::id());
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_a_released_lock_is_taken() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = RunLock::acquire(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let e = RunLock::acquire(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        assert!(RunLock::acquire(dir.path()).is_ok());
    }
}
