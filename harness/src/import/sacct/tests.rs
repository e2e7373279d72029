use super::*;

fn src(text: &str) -> Source {
    Source::new("acct.txt", text, 0.0)
}

const HEADER: &str = "JobID|JobName|State|ExitCode|NodeList|Start|End|Elapsed|TotalCPU|UserCPU|SystemCPU|AllocCPUS|ReqMem|MaxRSS|AveDiskRead|AveDiskWrite|NTasks";
const T0: &str = "2026-12-03T08:00:00";

/// A row of the 17 header fields.
fn row(f: [&str; 17]) -> String {
    f.join("|")
}

#[test]
fn steps_fold_into_their_job() {
    let t10 = "2026-12-03T08:00:10";
    let lines = [
        HEADER.to_string(),
        row([
            "17",
            "atlasperf-reg-sub01-sub02.1",
            "COMPLETED",
            "0:0",
            "nodea",
            T0,
            t10,
            "00:00:10",
            "00:09.500",
            "00:09.000",
            "00:00.500",
            "1",
            "2000M",
            "",
            "",
            "",
            "",
        ]),
        row([
            "17.batch",
            "batch",
            "COMPLETED",
            "0:0",
            "nodea",
            T0,
            t10,
            "00:00:10",
            "00:09.500",
            "00:09.000",
            "00:00.500",
            "1",
            "",
            "102400K",
            "1M",
            "2M",
            "1",
        ]),
        row([
            "17.extern",
            "extern",
            "COMPLETED",
            "0:0",
            "nodea",
            T0,
            t10,
            "00:00:10",
            "00:00:00",
            "00:00:00",
            "00:00:00",
            "1",
            "",
            "1000K",
            "0",
            "0",
            "1",
        ]),
        row([
            "18",
            "other job",
            "OUT_OF_MEMORY",
            "0:125",
            "node[3-4]",
            "2026-12-03T08:00:05",
            "2026-12-03T08:00:07",
            "00:00:02",
            "00:01.000",
            "",
            "",
            "2",
            "1G",
            "",
            "",
            "",
            "",
        ]),
        row([
            "19",
            "pending",
            "PENDING",
            "0:0",
            "None assigned",
            "Unknown",
            "Unknown",
            "00:00:00",
            "00:00:00",
            "",
            "",
            "1",
            "1G",
            "",
            "",
            "",
            "",
        ]),
    ];
    let p = parse(&[src(&lines.join("\n"))]).unwrap();
    assert_eq!(p.jobs.len(), 2);
    let reg = &p.jobs[0];
    assert_eq!((reg.id.as_str(), reg.attempt), ("reg-sub01-sub02", 1));
    assert_eq!(reg.node, "nodea");
    assert_eq!(reg.end_unix - reg.start_unix, 10.0);
    assert_eq!((reg.cpu_user_s, reg.cpu_sys_s), (9.0, 0.5));
    assert_eq!(reg.peak_rss, 100 << 20);
    assert_eq!((reg.read_bytes, reg.write_bytes), (1 << 20, 2 << 20));
    assert_eq!(reg.mem_request, Some(2000 << 20));
    let oom = &p.jobs[1];
    assert_eq!(oom.status, AttemptStatus::OomKilled);
    assert_eq!(oom.node, "node3");
    assert_eq!(oom.id, "other_job-18");
    assert_eq!(oom.threads, 2);
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    // `--parsable` (a `|` after every line) reads the same.
    let p1: Vec<String> = lines.iter().map(|l| format!("{l}|")).collect();
    assert_eq!(parse(&[src(&p1.join("\n"))]).unwrap().jobs, p.jobs);
}

#[test]
fn bad_rows_name_line_and_column() {
    let bad = |fields: [&str; 17]| {
        parse(&[src(&format!("{HEADER}\n{}\n", row(fields)))])
            .unwrap_err()
            .0
    };
    let e = parse(&[src(&format!("{HEADER}\n1|a|COMPLETED\n"))])
        .unwrap_err()
        .0;
    assert!(e.starts_with("acct.txt:2:1: 3 fields"), "{e}");
    let t1 = "2026-12-03T08:00:01";
    let e = bad([
        "1", "a", "WEIRD", "0:0", "n", T0, t1, "00:00:01", "00:00:01", "", "", "1", "1G", "", "",
        "", "",
    ]);
    assert!(
        e.starts_with("acct.txt:2:5: unknown job state \"WEIRD\""),
        "{e}"
    );
    let e = bad([
        "1",
        "a",
        "COMPLETED",
        "0:0",
        "n",
        T0,
        t1,
        "00:00:01",
        "00:00:01",
        "",
        "",
        "1",
        "1G",
        "5X",
        "",
        "",
        "",
    ]);
    assert!(e.contains(":2:") && e.contains("unknown unit"), "{e}");
    let e = bad([
        "1",
        "a",
        "COMPLETED",
        "0:0",
        "n",
        t1,
        T0,
        "00:00:01",
        "00:00:01",
        "",
        "",
        "1",
        "1G",
        "",
        "",
        "",
        "",
    ]);
    assert!(e.contains("End is 1 s before Start"), "{e}");
    let e = parse(&[src("JobName|Elapsed\nx|00:00:01\n")])
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("acct.txt:1:1: not sacct --parsable2 output"),
        "{e}"
    );
}
