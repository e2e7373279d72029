//! psrecord `--log` files, one process tree each: the plain format (a `# Elapsed time  CPU (%)
//! Real (MB)  Virtual (MB)` header, then whitespace-separated rows, four more columns of
//! counts and bytes with `--include-io`) or `--log-format csv` (`elapsed_time,nproc,cpu,
//! mem_real,mem_virtual[,read_count,write_count,read_bytes,write_bytes]`). CPU is in % of a
//! core at each sample, memory in MB (2^20 bytes), I/O in bytes (cumulative).
//!
//! The log has elapsed times only: the job ends when the file was last written (psrecord
//! writes a row per sample).

use super::text::{fields, number, seconds, words, Source};
use super::{Job, Parsed};
use crate::error::UsageError;
use crate::store::SampleRow;

const MIB: f64 = 1024.0 * 1024.0;

/// Parses every file.
///
/// # Errors
/// A file that is not a psrecord log, naming file, line and column.
pub fn parse(sources: &[Source]) -> Result<Parsed, UsageError> {
    let mut parsed = Parsed::default();
    for src in sources {
        parsed.jobs.push(parse_file(src)?);
    }
    parsed.describe(&[
        ("times", "sampled: elapsed times from the log; the end is the log's modification time"),
        ("cpu", "sampled: CPU % per sample (psutil cpu_percent), integrated over time"),
        ("peak_rss", "sampled: the largest Real (MB) sample"),
        ("io", "sampled: Read/Write bytes (psutil read_bytes/write_bytes, storage) with --include-io, else missing; rchar/wchar missing"),
        ("series", "sampled: psrecord's own samples"),
    ]);
    Ok(parsed)
}

fn parse_file(src: &Source) -> Result<Job, UsageError> {
    let (header, rows) = src.header_and_rows("a psrecord --log file")?;
    let csv = header.starts_with("elapsed_time,");
    let plain = header.starts_with('#') && header.contains("Elapsed time");
    if !csv && !plain {
        return Err(src.at(
            1,
            1,
            "not a psrecord log: expected its header (`# Elapsed time …` or `elapsed_time,…`)",
        ));
    }
    // Columns of time, CPU %, real memory and the I/O bytes, by format.
    let (t_c, cpu_c, mem_c, io_c, width_plain, width_io) = if csv {
        (0, 2, 3, (7, 8), 5, 9)
    } else {
        (0, 1, 2, (6, 7), 4, 8)
    };
    let mut series: Vec<SampleRow> = Vec::new();
    let mut cpu_s = 0.0;
    let mut last: Option<f64> = None;
    for (ln, line) in rows {
        let row = if csv { fields(line, ',') } else { words(line) };
        if row.len() != width_plain && row.len() != width_io {
            return Err(src.at(
                ln,
                1,
                format!("{} values where psrecord writes {width_plain} (or {width_io} with --include-io)", row.len()),
            ));
        }
        let val = |c: usize, max: f64| number(row[c].1, max).map_err(|m| src.at(ln, row[c].0, m));
        let t = seconds(row[t_c].1).map_err(|m| src.at(ln, row[t_c].0, m))?;
        let cpu = val(cpu_c, 1e6)?;
        if let Some(t0) = last {
            if t < t0 {
                return Err(src.at(
                    ln,
                    row[t_c].0,
                    format!("elapsed time {t} is before the previous row's {t0}"),
                ));
            }
            // psutil's CPU % covers the interval up to this sample.
            cpu_s += cpu / 100.0 * (t - t0);
        }
        last = Some(t);
        let (read, write) = if row.len() == width_io {
            (val(io_c.0, 1e18)? as u64, val(io_c.1, 1e18)? as u64)
        } else {
            (0, 0)
        };
        series.push(SampleRow {
            t,
            cpu_s,
            rss: (val(mem_c, 1e9)? * MIB) as u64,
            read_bytes: read,
            write_bytes: write,
            processes: 1,
            threads: 1,
            ..SampleRow::default()
        });
    }
    let Some(end) = series.last().cloned() else {
        return Err(src.at(2, 1, "no samples after the header"));
    };
    let stem = src.stem();
    let mut j = Job::named(&stem, &stem, "local");
    j.stage = None;
    j.end_unix = src.mtime_unix;
    j.start_unix = src.mtime_unix - end.t;
    j.cpu_user_s = cpu_s;
    j.peak_rss = series.iter().map(|p| p.rss).max().unwrap_or(0);
    j.read_bytes = end.read_bytes;
    j.write_bytes = end.write_bytes;
    j.series = series;
    Ok(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source::new("logs/reg.txt", text, 100.0)
    }

    #[test]
    fn the_plain_log_integrates_cpu() {
        let text = "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n       0.000        0.000        5.000      100.000\n       1.000      100.000       10.000      100.000\n       2.000       50.000        8.000      100.000\n";
        let j = parse(&[src(text)]).unwrap().jobs.remove(0);
        assert_eq!(j.id, "reg");
        assert_eq!((j.start_unix, j.end_unix), (98.0, 100.0));
        assert!((j.cpu_user_s - 1.5).abs() < 1e-12, "{}", j.cpu_user_s);
        assert_eq!(j.peak_rss, 10 << 20);
        assert_eq!(j.series.len(), 3);
    }

    #[test]
    fn the_csv_log_with_io_reads_the_same() {
        let text = "elapsed_time,nproc,cpu,mem_real,mem_virtual,read_count,write_count,read_bytes,write_bytes\n0,1,0,5,100,0,0,0,0\n1,1,100,10,100,5,5,4096,8192\n";
        let j = parse(&[src(text)]).unwrap().jobs.remove(0);
        assert_eq!((j.read_bytes, j.write_bytes), (4096, 8192));
        assert!((j.cpu_user_s - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let h = "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n";
        let e = parse(&[src(&format!("{h}  1.0  2.0  x  4.0\n"))])
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("logs/reg.txt:2:13: \"x\" is not a number"),
            "{e}"
        );
        let e = parse(&[src(&format!("{h}  2.0  2.0  1  4.0\n  1.0  2.0  1  4.0\n"))])
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("logs/reg.txt:3:3: elapsed time 1 is before"),
            "{e}"
        );
        let e = parse(&[src(h)]).unwrap_err().0;
        assert!(e.contains("no samples"), "{e}");
        let e = parse(&[src("hello\n")]).unwrap_err().0;
        assert!(e.starts_with("logs/reg.txt:1:1: not a psrecord log"), "{e}");
    }
}
