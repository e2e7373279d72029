//! `atlasperf`: characterize multi-atlas medical image analysis at scale.
//!
//! Parses the command line, runs the command, prints the whole error chain and maps it to an
//! exit code: 0 success, 1 failure, 2 usage error (bad arguments or input files).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`atlasperf … | head`) instead of failing on the next print.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = atlasperf_harness::cli::Cli::parse();
    match atlasperf_harness::commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(atlasperf_harness::commands::exit_code(&err))
        }
    }
}
