//! `atlasperf calibrated-load` (hidden): a process whose resource use is known in advance, so
//! the sampler's numbers can be checked against it. It burns CPU by hashing (measured with the
//! process CPU clock), touches every page of an allocation, writes a scratch file with
//! `write(2)` and reads it back with `read(2)`.

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::cli::LoadArgs;

fn process_cpu_seconds() -> f64 {
    // SAFETY: clock_gettime fills the struct it is given.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }
}

/// Burns `seconds` of this process's CPU; returns a value that depends on every step so the
/// work cannot be optimised away.
fn burn(seconds: f64) -> u64 {
    let until = process_cpu_seconds() + seconds;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while process_cpu_seconds() < until {
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
    }
    x
}

pub(crate) fn run(a: &LoadArgs) -> anyhow::Result<()> {
    let mut children = Vec::new();
    if a.children > 0 {
        let exe = std::env::current_exe().context("locating the atlasperf binary")?;
        for k in 0..a.children {
            let child = Command::new(&exe)
                .arg("calibrated-load")
                .args(["--cpu-seconds", &a.cpu_seconds.to_string()])
                .args(["--rss-mib", &a.rss_mib.to_string()])
                .args(["--io-bytes", &a.io_bytes.to_string()])
                .arg("--dir")
                .arg(a.dir.join(format!("child{k}")))
                .args(["--hold-ms", &a.hold_ms.to_string()])
                .args(["--tail-ms", &a.tail_ms.to_string()])
                .spawn()
                .context("starting a child load")?;
            children.push(child);
        }
    }
    let mut held = vec![0u8; a.rss_mib << 20];
    for page in held.chunks_mut(4096) {
        page[0] = 1;
    }
    let x = burn(a.cpu_seconds);
    if a.io_bytes > 0 {
        std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
        let path = a.dir.join(format!("load-{}.bin", std::process::id()));
        let chunk = vec![(x & 0xff) as u8; 64 << 10];
        let mut f =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut left = a.io_bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            f.write_all(&chunk[..n])?;
            left -= n;
        }
        drop(f);
        let mut f = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n;
        }
        anyhow::ensure!(
            total == a.io_bytes,
            "read back {total} of {} bytes",
            a.io_bytes
        );
        std::fs::remove_file(&path)?;
    }
    std::thread::sleep(Duration::from_millis(a.hold_ms));
    // Free the allocation now, so the cost of unmapping it is observable during the tail.
    std::hint::black_box(&held);
    drop(held);
    for mut c in children {
        let status = c.wait()?;
        anyhow::ensure!(status.success(), "a child load failed: {status}");
    }
    // What this process tree used, by the kernel's own account, for a test to hold the
    // agent's figure against (only the instructions after this write are missing: the tail is a sleep).
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let path = a.dir.join("tree-cpu.txt");
    std::fs::write(&path, format!("{:.6}\n", tree_cpu_seconds()))
        .with_context(|| format!("writing {}", path.display()))?;
    std::thread::sleep(Duration::from_millis(a.tail_ms));
    Ok(())
}

/// User + system CPU of this process and its reaped children (getrusage).
fn tree_cpu_seconds() -> f64 {
    use crate::sampler::sensors::{cpu_s, rusage};
    cpu_s(&rusage(libc::RUSAGE_SELF)) + cpu_s(&rusage(libc::RUSAGE_CHILDREN))
}
