//! One function per subcommand; [`dispatch`] routes the parsed command line to it.

mod agent;
mod calibrated_load;
mod child;
mod compare;
mod eval;
mod fuse;
mod import;
mod phantom;
mod profile;
mod register;
mod repeat;
mod report;
mod run;
mod simulate;
mod sweep;

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, EvalCommand, KernelCommand};
use crate::error::UsageError;

/// Runs the command the user asked for and returns the process exit code (`agent` and
/// `profile` pass on the supervised command's).
///
/// # Errors
/// Whatever the command reports; usage problems are [`UsageError`]s.
pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let done = |r: anyhow::Result<()>| r.map(|()| 0);
    match cli.command {
        Command::Phantom(args) => done(phantom::run(&args)),
        Command::Eval(EvalCommand::Dice(args)) => done(eval::dice(&args)),
        Command::Run(args) => run::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Report(args) => done(report::run(&args)),
        Command::Compare(args) => compare::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Export(args) => done(simulate::export(&args)),
        Command::Profile(args) => profile::run(&args),
        Command::Import(args) => done(import::run(&args)),
        Command::Agent(args) => agent::run(&args),
        Command::CalibratedLoad(args) => done(calibrated_load::run(&args)),
        Command::Kernel(KernelCommand::Register(args)) => {
            return_freed_memory();
            done(register::run(&args))
        }
        Command::Kernel(KernelCommand::Fuse(args)) => {
            return_freed_memory();
            done(fuse::run(&args))
        }
    }
}

/// A kernel's buffers go back to the system when freed: with glibc, every allocation of
/// 128 KiB or more is mapped on its own and unmapped when dropped, so a job's peak is what
/// it holds, not what the allocator kept of earlier levels' buffers (about 18 MB at 1 mm; the
/// measurement is in docs/benchmarks.md). The kernels allocate per level, never per
/// iteration, so the extra page faults cost little. A user's own `MALLOC_MMAP_THRESHOLD_`
/// wins.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt sets one allocator parameter; it is called before the kernel
        // starts any thread, and glibc serialises it with allocation anyway.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}

/// `out` if given, else `runs/<UTC timestamp>-<name>` (runs and sweeps alike).
pub(crate) fn out_or_default(out: Option<&Path>, name: &str) -> PathBuf {
    out.map_or_else(
        || {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(['-', ':'], "");
            PathBuf::from("runs").join(format!("{stamp}-{name}"))
        },
        Path::to_path_buf,
    )
}

/// A kernel parameter out of bounds as a usage error naming its flag (`patch_radius` is
/// `--patch-radius`).
pub(crate) fn flag_error(e: &atlasperf_kernels::params::ParamError) -> UsageError {
    UsageError(format!("--{}: {}", e.key.replace('_', "-"), e.message))
}

/// A usage error unless `v` (read from `path`) lies on the grid of `reference` (read from
/// `reference_path`): checked before any work.
pub(crate) fn on_grid<T, U>(
    path: &Path,
    v: &atlasperf_kernels::Volume<T>,
    reference_path: &Path,
    reference: &atlasperf_kernels::Volume<U>,
) -> anyhow::Result<()> {
    if v.on_grid_of(reference) {
        return Ok(());
    }
    Err(UsageError(format!(
        "{}: not on the grid of {}: {} vs {}",
        path.display(),
        reference_path.display(),
        v.grid_text(),
        reference.grid_text()
    ))
    .into())
}

/// A rayon pool of `threads` workers (all cores when `None`).
pub(crate) fn pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(UsageError("--threads must be at least 1".into()).into());
    }
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()?)
}

/// Exit code for an error: 2 when the user's arguments or input files are at fault, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    use atlasperf_kernels::Error as K;
    for cause in err.chain() {
        if cause.is::<crate::error::UsageError>() {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<crate::Error>() {
            return e.exit_code();
        }
        let store = match cause.downcast_ref::<atlasperf_reports::ReportError>() {
            Some(atlasperf_reports::ReportError::Store(s)) => Some(s),
            _ => cause.downcast_ref::<crate::store::StoreError>(),
        };
        if store.is_some_and(crate::store::StoreError::is_usage) {
            return 2;
        }
        if let Some(k) = cause.downcast_ref::<K>() {
            return match k {
                K::Write { .. } => 1,
                _ => 2,
            };
        }
    }
    1
}
