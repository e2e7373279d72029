//! One function per subcommand; [`dispatch`] routes the parsed command line to it.

mod eval;
mod fuse;
mod phantom;
mod register;

use crate::cli::{Cli, Command, EvalCommand, KernelCommand, UsageError};

/// Runs the command the user asked for.
///
/// # Errors
/// Whatever the command reports; usage problems are [`UsageError`]s.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Phantom(args) => phantom::run(&args),
        Command::Eval(EvalCommand::Dice(args)) => eval::dice(&args),
        Command::Run(_) => not_yet("run"),
        Command::Sweep(_) => not_yet("sweep"),
        Command::Report(_) => not_yet("report"),
        Command::Compare(_) => not_yet("compare"),
        Command::Profile(_) => not_yet("profile"),
        Command::Agent(_) => not_yet("agent"),
        Command::Kernel(KernelCommand::Register(args)) => register::run(&args),
        Command::Kernel(KernelCommand::Fuse(args)) => fuse::run(&args),
    }
}

fn not_yet(name: &str) -> anyhow::Result<()> {
    Err(UsageError(format!(
        "`atlasperf {name}` is not implemented yet in this version"
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
