//! Snakemake `benchmark:` files: one TSV per rule and wildcard set, a header line
//! (`s  h:m:s  max_rss  max_vms  max_uss  max_pss  io_in  io_out  mean_load  cpu_time`, newer
//! versions add `jobid rule wildcards params threads cpu_usage resources input_size_mb`), then
//! one row per `repeat()`. Memory and I/O are in MB (2^20 bytes), `mean_load` in % of a core,
//! `cpu_time` in seconds; `NA` or `-` where Snakemake measured nothing (jobs under its first
//! 0.5 s poll).
//!
//! The files hold durations, not times: a job ends when its file was last written (repeats
//! back to back before that).

use super::text::{fields, number, seconds, Source};
use super::{Job, Parsed};
use crate::error::UsageError;

const MIB: f64 = 1024.0 * 1024.0;

/// Parses every file.
///
/// # Errors
/// A file that is not a benchmark TSV, naming file, line and column.
pub fn parse(sources: &[Source]) -> Result<Parsed, UsageError> {
    let mut parsed = Parsed::default();
    let mut empty = 0usize;
    for src in sources {
        empty += parse_file(src, &mut parsed.jobs)?;
    }
    if empty > 0 {
        parsed.notes.push(format!(
            "{empty} repeat(s) had no measurement (NA: shorter than Snakemake's first poll); their CPU, memory and I/O are 0"
        ));
    }
    parsed.describe(&[
        ("times", "sampled: the duration `s` is exact, the end is the benchmark file's modification time"),
        ("cpu", "sampled: cpu_time, psutil's user + system time of the job's processes, polled (Snakemake counts processes alive at a poll)"),
        ("peak_rss", "sampled: max_rss, the largest polled RSS sum"),
        ("io", "sampled: io_in/io_out (storage bytes, psutil read_bytes/write_bytes); rchar/wchar missing"),
        ("threads", "exact: the threads column where the file has one, else 1"),
    ]);
    Ok(parsed)
}

/// Returns how many repeats had no measurement.
fn parse_file(src: &Source, jobs: &mut Vec<Job>) -> Result<usize, UsageError> {
    let (header, rows) = src.header_and_rows("a Snakemake benchmark TSV")?;
    let names = fields(header, '\t');
    let col = |n: &str| names.iter().position(|(_, h)| h.trim() == n);
    let (Some(c_s), Some(c_rss)) = (col("s"), col("max_rss")) else {
        return Err(src.at(
            1,
            1,
            "not a Snakemake benchmark file: the header needs the columns s and max_rss, separated by tabs",
        ));
    };
    let (c_in, c_out, c_cpu, c_rule, c_threads) = (
        col("io_in"),
        col("io_out"),
        col("cpu_time"),
        col("rule"),
        col("threads"),
    );
    // Repeats ran back to back and the file was written after the last.
    let mut end = src.mtime_unix;
    let mut out = Vec::new();
    let mut empty = 0;
    for (k, &(ln, line)) in rows.iter().enumerate().rev() {
        let row = fields(line, '\t');
        if row.len() != names.len() {
            return Err(src.at(
                ln,
                1,
                format!("{} fields where the header has {}", row.len(), names.len()),
            ));
        }
        let cell = |c: usize| row[c].1.trim();
        let missing = |c: usize| matches!(cell(c), "NA" | "-" | "");
        let value = |c: Option<usize>, max: f64| -> Result<f64, UsageError> {
            match c {
                Some(c) if !missing(c) => number(cell(c), max).map_err(|m| src.at(ln, row[c].0, m)),
                _ => Ok(0.0),
            }
        };
        let wall = seconds(cell(c_s)).map_err(|m| src.at(ln, row[c_s].0, m))?;
        if missing(c_rss) {
            empty += 1;
        }
        let stem = src.stem();
        let rule = c_rule
            .map(|c| cell(c).to_string())
            .filter(|r| !r.is_empty());
        let parent = src
            .path
            .parent()
            .and_then(|p| p.file_name())
            .map(|p| p.to_string_lossy().into_owned());
        let id = if rows.len() > 1 {
            format!("rep{}-{stem}", k + 1)
        } else {
            stem.clone()
        };
        let mut j = Job::named(&id, &stem, "local");
        j.stage = rule.or(parent);
        j.end_unix = end;
        j.start_unix = end - wall;
        end = j.start_unix;
        j.cpu_user_s = value(c_cpu, 1e9)?;
        j.peak_rss = (value(Some(c_rss), 1e9)? * MIB) as u64;
        j.read_bytes = (value(c_in, 1e9)? * MIB) as u64;
        j.write_bytes = (value(c_out, 1e9)? * MIB) as u64;
        j.threads = value(c_threads, 1e6)?.max(1.0) as usize;
        out.push(j);
    }
    out.reverse();
    jobs.extend(out);
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, text: &str) -> Source {
        Source::new(path, text, 1000.0)
    }

    const HEADER: &str =
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time";

    #[test]
    fn repeats_run_back_to_back_before_the_file_was_written() {
        let text = format!(
            "{HEADER}\n2.0\t0:00:02\t100.5\t200\t90\t95\t1.0\t2.0\t95.0\t1.9\n3.0\t0:00:03\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n"
        );
        let p = parse(&[src("benchmarks/register/sub01.tsv", &text)]).unwrap();
        assert_eq!(p.jobs.len(), 2);
        let (a, b) = (&p.jobs[0], &p.jobs[1]);
        assert_eq!((a.id.as_str(), b.id.as_str()), ("rep1-sub01", "rep2-sub01"));
        assert_eq!(a.stage.as_deref(), Some("register"));
        assert_eq!(
            (a.start_unix, a.end_unix, b.start_unix, b.end_unix),
            (995.0, 997.0, 997.0, 1000.0)
        );
        assert_eq!(a.peak_rss, (100.5 * MIB) as u64);
        assert_eq!(a.cpu_user_s, 1.9);
        assert_eq!(b.peak_rss, 0);
        assert_eq!(p.notes.len(), 1);
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let e = parse(&[src(
            "b.tsv",
            &format!("{HEADER}\n-2\t0\t1\t1\t1\t1\t1\t1\t1\t1\n"),
        )])
        .unwrap_err()
        .0;
        assert!(e.starts_with("b.tsv:2:1: \"-2\" is not a finite"), "{e}");
        let e = parse(&[src(
            "b.tsv",
            &format!("{HEADER}\n2\t0\tlots\t1\t1\t1\t1\t1\t1\t1\n"),
        )])
        .unwrap_err()
        .0;
        assert!(e.starts_with("b.tsv:2:5: \"lots\" is not a number"), "{e}");
        let e = parse(&[src("b.tsv", "time,rss\n1,2\n")]).unwrap_err().0;
        assert!(
            e.starts_with("b.tsv:1:1: not a Snakemake benchmark file"),
            "{e}"
        );
    }
}
