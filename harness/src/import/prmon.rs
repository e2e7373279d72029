//! prmon's output: `prmon.txt`, a header of column names (`Time wtime nprocs nthreads utime
//! stime pss rss swap vmem rchar wchar read_bytes write_bytes …`, in any order) and one
//! whitespace-separated row per sample, with `Time` in Unix seconds, memory in kB (2^10
//! bytes), CPU times in seconds and I/O in bytes, all cumulative where they count; and
//! `prmon.json`, whose `Max` object gives the peaks over the whole job. A `.json` file is
//! paired with the `.txt` file in the same folder.
//!
//! The job is named after the folder of a `prmon.txt` (or the stem of any other name).

use std::collections::HashMap;
use std::path::PathBuf;

use super::text::{number, words, Source};
use super::{Job, Parsed};
use crate::error::UsageError;
use crate::store::SampleRow;

/// Parses every file.
///
/// # Errors
/// A file that is not prmon output, naming file, line and column.
pub fn parse(sources: &[Source]) -> Result<Parsed, UsageError> {
    let mut maxima: HashMap<PathBuf, serde_json::Value> = HashMap::new();
    for src in sources.iter().filter(|s| is_json(s)) {
        let v: serde_json::Value =
            serde_json::from_str(&src.text).map_err(|e| src.at(e.line(), e.column(), e))?;
        let max = v
            .get("Max")
            .filter(|m| m.is_object())
            .ok_or_else(|| src.at(1, 1, "no \"Max\" object: not a prmon.json"))?;
        maxima.insert(folder(src), max.clone());
    }
    let mut parsed = Parsed::default();
    for src in sources.iter().filter(|s| !is_json(s)) {
        let mut j = parse_series(src)?;
        if let Some(max) = maxima.get(&folder(src)) {
            let kb = |k: &str| max.get(k).and_then(serde_json::Value::as_f64);
            if let Some(rss) = kb("rss").filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e15) {
                j.peak_rss = j.peak_rss.max((rss * 1024.0) as u64);
            }
        }
        parsed.jobs.push(j);
    }
    if parsed.jobs.is_empty() && !maxima.is_empty() {
        return Err(UsageError(format!(
            "{}: a prmon.json needs its prmon.txt (the series) beside it in the import",
            sources[0].path.display()
        )));
    }
    parsed.describe(&[
        (
            "times",
            "exact: Time (Unix seconds) of the first and last samples",
        ),
        (
            "cpu",
            "sampled: utime + stime at the last sample (prmon's poll, 30 s by default)",
        ),
        (
            "peak_rss",
            "sampled: the largest rss sample, or prmon.json's Max.rss when given",
        ),
        (
            "io",
            "sampled: rchar, wchar, read_bytes, write_bytes at the last sample",
        ),
        ("series", "sampled: prmon's own samples"),
    ]);
    Ok(parsed)
}

fn is_json(src: &Source) -> bool {
    src.path.extension().is_some_and(|e| e == "json")
}

fn folder(src: &Source) -> PathBuf {
    src.path.parent().map(PathBuf::from).unwrap_or_default()
}

fn parse_series(src: &Source) -> Result<Job, UsageError> {
    let (header, rows) = src.header_and_rows("prmon.txt with its header")?;
    let names: Vec<&str> = words(header).into_iter().map(|w| w.1).collect();
    let col = |n: &str| names.iter().position(|h| *h == n);
    let (Some(c_time), Some(c_rss)) = (col("Time"), col("rss")) else {
        return Err(src.at(
            1,
            1,
            "not prmon.txt: the header needs the columns Time and rss",
        ));
    };
    let opt = |n: &str| col(n);
    let (c_ut, c_st, c_rc, c_wc, c_rb, c_wb, c_np, c_nt) = (
        opt("utime"),
        opt("stime"),
        opt("rchar"),
        opt("wchar"),
        opt("read_bytes"),
        opt("write_bytes"),
        opt("nprocs"),
        opt("nthreads"),
    );
    let mut series = Vec::new();
    let mut t0 = None;
    for (ln, line) in rows {
        let row = words(line);
        if row.len() != names.len() {
            return Err(src.at(
                ln,
                1,
                format!("{} values where the header has {}", row.len(), names.len()),
            ));
        }
        let val = |c: Option<usize>, max: f64| -> Result<f64, UsageError> {
            c.map_or(Ok(0.0), |c| {
                number(row[c].1, max).map_err(|m| src.at(ln, row[c].0, m))
            })
        };
        let time = val(Some(c_time), 1e11)?;
        let start = *t0.get_or_insert(time);
        let t = time - start;
        if series.last().is_some_and(|p: &SampleRow| t < p.t) {
            return Err(src.at(ln, row[c_time].0, "Time goes backwards"));
        }
        series.push(SampleRow {
            t,
            cpu_s: val(c_ut, 1e10)? + val(c_st, 1e10)?,
            rss: (val(Some(c_rss), 1e15)? * 1024.0) as u64,
            rchar: val(c_rc, 1e18)? as u64,
            wchar: val(c_wc, 1e18)? as u64,
            read_bytes: val(c_rb, 1e18)? as u64,
            write_bytes: val(c_wb, 1e18)? as u64,
            processes: val(c_np, 1e7)? as u64,
            threads: val(c_nt, 1e7)? as u64,
            ..SampleRow::default()
        });
    }
    let (Some(first), Some(last)) = (t0, series.last().cloned()) else {
        return Err(src.at(2, 1, "no samples after the header"));
    };
    let name = if src.path.file_name().is_some_and(|n| n == "prmon.txt") {
        src.path
            .parent()
            .and_then(|p| p.file_name())
            .map_or_else(|| src.stem(), |p| p.to_string_lossy().into_owned())
    } else {
        src.stem()
    };
    let mut j = Job::named(&name, &name, "local");
    j.start_unix = first;
    j.end_unix = first + last.t;
    j.cpu_user_s = last.cpu_s;
    j.peak_rss = series.iter().map(|p| p.rss).max().unwrap_or(0);
    j.rchar = last.rchar;
    j.wchar = last.wchar;
    j.read_bytes = last.read_bytes;
    j.write_bytes = last.write_bytes;
    j.threads = series.iter().map(|p| p.threads).max().unwrap_or(1).max(1) as usize;
    j.series = series;
    Ok(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, text: &str) -> Source {
        Source::new(path, text, 0.0)
    }

    const TXT: &str = "Time\tnprocs\tnthreads\twtime\tstime\tutime\tpss\trss\tswap\tvmem\trchar\tread_bytes\twchar\twrite_bytes\n\
        1800000000\t1\t1\t0\t0\t0\t100\t1000\t0\t2000\t10\t0\t5\t0\n\
        1800000002\t2\t3\t2\t0.5\t1.5\t200\t3000\t0\t4000\t2048\t4096\t1024\t8192\n";

    #[test]
    fn the_series_and_the_maxima_pair_by_folder() {
        let json = r#"{"Max": {"rss": 5000, "pss": 300}, "Avg": {}}"#;
        let p = parse(&[src("job7/prmon.txt", TXT), src("job7/prmon.json", json)]).unwrap();
        let j = &p.jobs[0];
        assert_eq!(j.id, "job7");
        assert_eq!((j.start_unix, j.end_unix), (1.8e9, 1.8e9 + 2.0));
        assert_eq!(j.cpu_user_s, 2.0);
        assert_eq!(
            j.peak_rss,
            5000 * 1024,
            "prmon.json's Max.rss is above every sample"
        );
        assert_eq!((j.rchar, j.read_bytes, j.write_bytes), (2048, 4096, 8192));
        assert_eq!(j.threads, 3);
        let alone = parse(&[src("job7/prmon.txt", TXT)]).unwrap();
        assert_eq!(alone.jobs[0].peak_rss, 3000 * 1024);
    }

    #[test]
    fn bad_input_names_line_and_column() {
        let e = parse(&[src("p/prmon.json", "{\"Max\": 3")]).unwrap_err().0;
        assert!(e.starts_with("p/prmon.json:1:"), "{e}");
        let e = parse(&[src("p/prmon.json", "{}")]).unwrap_err().0;
        assert!(e.contains("no \"Max\" object"), "{e}");
        let bad = TXT.replace("\t3000\t", "\t-3\t");
        let e = parse(&[src("p/prmon.txt", &bad)]).unwrap_err().0;
        assert!(e.starts_with("p/prmon.txt:3:"), "{e}");
        let e = parse(&[src("p/prmon.txt", "a b\n1 2\n")]).unwrap_err().0;
        assert!(e.starts_with("p/prmon.txt:1:1: not prmon.txt"), "{e}");
    }
}
