//! File operations of the store that never follow a symlink: every file the store writes
//! is opened with `O_NOFOLLOW` and checked to be a regular file, every folder it writes into
//! is checked not to be a symlink. A planted `jobs.jsonl → /elsewhere` is refused, not
//! written through.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::{io_err, StoreError};

fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

fn not_regular(path: &Path, what: &str) -> StoreError {
    StoreError::NotRegular {
        path: path.to_path_buf(),
        what: format!("is {what}"),
    }
}

/// Maps `ELOOP` (the `O_NOFOLLOW` refusal) to [`StoreError::NotRegular`].
fn open_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            not_regular(path, "a symbolic link")
        } else {
            io_err(path)(e)
        }
    }
}

fn check_regular(file: &File, path: &Path) -> Result<(), StoreError> {
    let meta = file.metadata().map_err(io_err(path))?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(not_regular(path, kind(&meta)))
    }
}

/// Refuses `path` unless it is absent or a regular file (not a symlink).
///
/// # Errors
/// [`StoreError::NotRegular`] naming what is there.
pub fn ensure_writable(path: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(not_regular(path, kind(&m))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Creates `dir` (and its parents) unless it exists; refuses a `dir` that is a symlink or
/// not a folder.
///
/// # Errors
/// When it cannot be created or is not a real folder.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) => Err(StoreError::NotRegular {
            path: dir.to_path_buf(),
            what: format!("is {} where a folder belongs", kind(&m)),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io_err(dir))
        }
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// Opens `path` for appending, creating it; never through a symlink.
///
/// # Errors
/// When it cannot be opened or is not a regular file.
pub fn open_append(path: &Path) -> Result<File, StoreError> {
    let f = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(open_err(path))?;
    check_regular(&f, path)?;
    Ok(f)
}

/// Creates or truncates `path` for writing; never through a symlink.
///
/// # Errors
/// When it cannot be opened or is not a regular file.
pub fn create(path: &Path) -> Result<File, StoreError> {
    ensure_writable(path)?;
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(open_err(path))?;
    check_regular(&f, path)?;
    Ok(f)
}

/// Reads a regular file whole; never through a symlink.
///
/// # Errors
/// When it cannot be read or is not a regular file.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(open_err(path))?;
    check_regular(&f, path)?;
    let mut out = Vec::new();
    f.read_to_end(&mut out).map_err(io_err(path))?;
    Ok(out)
}

/// Writes `bytes` to `path` through a fresh temporary file (`O_EXCL`, fsynced) and a rename,
/// so readers see the old or the new content, never a mix. The rename replaces a symlink
/// at `path` itself rather than writing through it, but a symlink there is refused first.
///
/// # Errors
/// When it cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    ensure_writable(path)?;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(open_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_data().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The last byte of an open file (none when empty).
///
/// # Errors
/// When it cannot be read.
pub fn last_byte(file: &File, path: &Path) -> Result<Option<u8>, StoreError> {
    let len = file.metadata().map_err(io_err(path))?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut b = [0u8; 1];
    match std::os::unix::fs::FileExt::read_at(file, &mut b, len - 1) {
        Ok(1) => Ok(Some(b[0])),
        Ok(_) => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Takes an exclusive `flock` on an open file, waiting for it.
///
/// # Errors
/// When the lock cannot be taken.
pub fn lock_exclusive(file: &File, path: &Path) -> Result<(), StoreError> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; it only changes advisory lock state.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    if r == 0 {
        Ok(())
    } else {
        Err(io_err(path)(std::io::Error::last_os_error()))
    }
}

/// Tries an exclusive `flock` without waiting; true when taken.
pub fn try_lock_exclusive(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; it only changes advisory lock state.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_and_fifos_are_refused_and_their_targets_untouched() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"precious").unwrap_or_else(|e| panic!("{e}"));
        let link = dir.path().join("jobs.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
        for r in [
            open_append(&link).map(drop),
            create(&link).map(drop),
            write_atomic(&link, b"x"),
            read_regular(&link).map(drop),
        ] {
            let e = r.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("symbolic link"), "{e}");
        }
        assert_eq!(std::fs::read(&target).unwrap_or_default(), b"precious");
        let linked_dir = dir.path().join("report");
        std::os::unix::fs::symlink(dir.path(), &linked_dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(ensure_dir(&linked_dir).is_err());
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(ensure_writable(&fifo).is_err());
    }

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("run.json");
        write_atomic(&p, b"one").unwrap_or_else(|e| panic!("{e}"));
        write_atomic(&p, b"two").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&p).unwrap_or_default(), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path())
                .map(Iterator::count)
                .unwrap_or(0),
            1
        );
    }
}
