//! The journal `jobs.jsonl`: one JSON job record per line, appended whole (one `write`,
//! then `fsync`) as each attempt ends. A harness killed mid-write can leave a torn last line;
//! readers ignore it and [`repair_tail`] moves it aside to `jobs.jsonl.torn` before anything
//! is appended again, so a torn line never swallows the next record.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::{fsio, io_err, JobRecord, StoreError};

fn format_err(path: &Path, message: String) -> StoreError {
    StoreError::Format {
        path: path.to_path_buf(),
        message,
    }
}

/// Where a torn tail is moved.
pub(crate) fn torn_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".torn");
    PathBuf::from(name)
}

/// Appends one record as one whole line and syncs it.
pub(crate) fn append(path: &Path, record: &JobRecord) -> Result<(), StoreError> {
    let mut line = serde_json::to_string(record).map_err(|e| format_err(path, e.to_string()))?;
    line.push('\n');
    let mut f = fsio::open_append(path)?;
    if !matches!(fsio::last_byte(&f, path)?, None | Some(b'\n')) {
        drop(f);
        repair_tail(path)?;
        f = fsio::open_append(path)?;
    }
    f.write_all(line.as_bytes()).map_err(io_err(path))?;
    f.sync_data().map_err(io_err(path))
}

/// Ends the journal on a line boundary: a last line without its newline that is a whole
/// record gets its newline; anything else is moved to `jobs.jsonl.torn`. Returns the number
/// of bytes moved aside.
pub(crate) fn repair_tail(path: &Path) -> Result<usize, StoreError> {
    let bytes = match fsio::read_regular(path) {
        Ok(b) => b,
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(0)
        }
        Err(e) => return Err(e),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(0);
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let tail = &bytes[keep..];
    if serde_json::from_slice::<JobRecord>(tail).is_ok() {
        let mut f = fsio::open_append(path)?;
        f.write_all(b"\n").map_err(io_err(path))?;
        f.sync_data().map_err(io_err(path))?;
        return Ok(0);
    }
    let torn = torn_path(path);
    let mut t = fsio::open_append(&torn)?;
    t.write_all(tail).map_err(io_err(&torn))?;
    t.write_all(b"\n").map_err(io_err(&torn))?;
    t.sync_data().map_err(io_err(&torn))?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_err(path))?;
    f.set_len(keep as u64).map_err(io_err(path))?;
    f.sync_data().map_err(io_err(path))?;
    Ok(tail.len())
}

/// Every record of the journal, in order. A last line without its newline that does not
/// parse (torn by a kill) is ignored; any other line that does not parse is an error naming
/// its line.
pub(crate) fn read(path: &Path) -> Result<Vec<JobRecord>, StoreError> {
    let bytes = match fsio::read_regular(path) {
        Ok(b) => b,
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let complete = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let n = lines.len();
    let mut out = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == n && !complete => {}
            Err(e) => return Err(format_err(path, format!("line {}: {e}", i + 1))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AttemptStatus, Totals};

    fn rec(id: &str) -> JobRecord {
        JobRecord {
            attempt_id: format!("{id}.1"),
            job_id: id.into(),
            stage: "registration".into(),
            target: "s1".into(),
            atlas: Some("s2".into()),
            node: "n1".into(),
            attempt: 1,
            mem_request: None,
            voxels: Some(8),
            threads: 1,
            status: AttemptStatus::Ok,
            start_s: 0.0,
            end_s: 1.0,
            totals: Totals::default(),
            executor_job_id: None,
            accounting: None,
        }
    }

    #[test]
    fn a_torn_tail_is_moved_aside_and_the_next_record_lands_on_its_own_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("jobs.jsonl");
        append(&p, &rec("a")).unwrap_or_else(|e| panic!("{e}"));
        let mut f = fsio::open_append(&p).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(br#"{"attempt_id":"b.1","job_"#)
            .unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        assert_eq!(
            read(&p).map(|v| v.len()).unwrap_or(0),
            1,
            "readers ignore the tail"
        );
        append(&p, &rec("c")).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<String> = read(&p)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| r.job_id)
            .collect();
        assert_eq!(ids, ["a", "c"]);
        let torn = std::fs::read_to_string(torn_path(&p)).unwrap_or_default();
        assert!(torn.starts_with(r#"{"attempt_id":"b.1""#), "{torn}");
    }

    #[test]
    fn a_whole_last_record_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("jobs.jsonl");
        let line = serde_json::to_string(&rec("a")).unwrap_or_default();
        std::fs::write(&p, line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(repair_tail(&p).unwrap_or(99), 0);
        append(&p, &rec("b")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&p).map(|v| v.len()).unwrap_or(0), 2);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("jobs.jsonl");
        let line = serde_json::to_string(&rec("a")).unwrap_or_default();
        std::fs::write(&p, format!("{line}\nnot json\n{line}\n")).unwrap_or_else(|e| panic!("{e}"));
        let e = read(&p).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("line 2"), "{e}");
    }
}
