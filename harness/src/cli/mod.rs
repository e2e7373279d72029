//! Command-line interface (clap derive) and the mapping of errors to exit codes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod kernel;
pub use kernel::{FuseArgs, RegisterArgs};

/// Characterize how multi-atlas medical image analysis behaves at scale: run registration and
/// label-fusion jobs under configurable concurrency, sample every job from /proc, and render
/// the resource figures and tables of Zhang et al.'s performance study.
#[derive(Debug, Parser)]
#[command(
    name = "atlasperf",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: n×m registration jobs then m fusion jobs under the scenario's
    /// concurrency, measuring every job, and write a run store plus its report.
    Run(RunArgs),
    /// Run a base scenario once per point of a parameter grid (atlases, targets, slots,
    /// threads, image size, policy) and fit scaling curves.
    Sweep(SweepArgs),
    /// Render figures (Fig 2, Fig 3), Table I, a diagnosis and an HTML/Markdown report from a
    /// run store.
    Report(ReportArgs),
    /// Compare two run stores side by side (Table I and per-stage ratios).
    Compare(CompareArgs),
    /// Predict a scenario at any scale from measured profiles: the same plan and scheduler
    /// on a virtual clock, each job replaying its stage's measured memory and CPU, scaled to
    /// its size; writes a run store that `report` and `compare` read.
    Simulate(SimulateArgs),
    /// Write a run store (measured or simulated) as SWF or WfCommons WfFormat JSON.
    Export(ExportArgs),
    /// Profile any single command: sample its process tree from /proc and write a run store.
    Profile(ProfileArgs),
    /// Read what another tool recorded (Slurm's sacct, Snakemake benchmark files, psrecord
    /// or prmon logs) into a run store that report, compare and simulate read.
    Import(ImportArgs),
    /// Supervise one job: spawn its argv, sample its process tree, record exact totals
    /// (used by executors; rarely called by hand).
    Agent(AgentArgs),
    /// A calibrated load for measurement tests: burns a known CPU time, holds a known RSS,
    /// writes and reads a known number of bytes, optionally in child processes.
    #[command(hide = true)]
    CalibratedLoad(LoadArgs),
    /// Run an imaging kernel directly (registration or label fusion).
    #[command(subcommand)]
    Kernel(KernelCommand),
    /// Generate a phantom cohort: brain-like T1 images and label maps, each subject warped by
    /// its own smooth diffeomorphism.
    Phantom(PhantomArgs),
    /// Evaluate segmentations.
    #[command(subcommand)]
    Eval(EvalCommand),
}

/// Imaging kernels.
#[derive(Debug, Subcommand)]
pub enum KernelCommand {
    /// Register a moving image to a fixed image: affine (Mattes MI) then SyN, as ANTs ran in
    /// the paper; writes the warped image, warped labels, transforms and a JSON summary.
    Register(Box<RegisterArgs>),
    /// Fuse warped atlas label maps into one segmentation (joint label fusion or majority vote).
    Fuse(Box<FuseArgs>),
}

/// `atlasperf run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML), e.g. scenarios/quick.toml.
    #[arg(required_unless_present = "resume")]
    pub scenario: Option<PathBuf>,
    /// Run folder (default: runs/<UTC timestamp>-<scenario name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario value, e.g. `--set workload.targets=2` (TOML value syntax; bare
    /// words are strings). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Resume an interrupted run folder: runs only the jobs that did not complete.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["out", "overrides"])]
    pub resume: Option<PathBuf>,
    /// Validate the scenario and print the plan without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Run the scenario K times, each its own run store `OUT/r01 … OUT/rK` beside a
    /// `group.json` that `report`, `compare` and `simulate --validate` accept as one. Running
    /// it again with the same --out resumes: complete runs are kept.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..=99), conflicts_with = "resume")]
    pub repeat: Option<u64>,
    /// With --repeat: interleave K runs of this second scenario in ABBA order (A B B A A B …)
    /// so that the machine's drift hits both alike; they go to OUT/b, the first scenario's to
    /// OUT/a.
    #[arg(long, value_name = "SCENARIO", requires = "repeat")]
    pub interleave: Option<PathBuf>,
    /// With --interleave: override a value of the second scenario only (as --set does for
    /// the first), e.g. to compare two settings of one scenario. Repeatable.
    #[arg(
        long = "interleave-set",
        value_name = "KEY=VALUE",
        requires = "interleave"
    )]
    pub interleave_overrides: Vec<String>,
    /// With --interleave: run A's k-th and B's k-th repetition at the same time instead of one
    /// after the other, so the machine's speed of the moment hits both alike and `compare`
    /// pairs them (their output goes to OUT/a/rK.log and OUT/b/rK.log). Each run then shares
    /// the machine with the other: read the ratios, not the absolute times.
    #[arg(long, requires = "interleave")]
    pub side_by_side: bool,
}

/// `atlasperf report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run folder (a run store).
    pub run: PathBuf,
    /// Output folder (default: RUN/report).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Outputs to write, comma-separated: png, svg, html, md, csv.
    #[arg(long, default_value = "png,svg,html,md,csv")]
    pub format: String,
}

/// `atlasperf sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Sweep file (TOML), e.g. scenarios/sweep-atlases.toml.
    pub sweep: PathBuf,
    /// Sweep folder (default: runs/<UTC timestamp>-<sweep name>). Running the same sweep
    /// with the same --out again resumes it: complete points are kept, interrupted ones
    /// resumed, missing ones run.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Validate the sweep and list its points without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Only re-render the sweep report from the points already measured.
    #[arg(long, conflicts_with = "dry_run")]
    pub report_only: bool,
}

/// `atlasperf compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run store (A).
    pub run_a: PathBuf,
    /// The run store compared against it (B); ratios are B / A.
    pub run_b: PathBuf,
    /// Also write the comparison as Markdown to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit with code 1 when any stage's time, CPU, peak memory or I/O grew by more than
    /// this ratio (e.g. 1.10 for +10 %) beyond doubt — the whole 95 % interval of B / A above
    /// it — or more jobs failed: a regression gate for CI that noise does not trip.
    #[arg(long, value_name = "RATIO")]
    pub max_ratio: Option<f64>,
    /// A ratio whose interval overlaps 1 ± this fraction is reported as "within noise".
    #[arg(long, value_name = "FRACTION", default_value_t = 0.02)]
    pub noise_threshold: f64,
    /// With --max-ratio: also gate on wall time and makespan. By default the gate judges the
    /// work (CPU-hours), memory and I/O, which do not depend on where the scheduler's races
    /// placed each job; the verdicts on time are printed either way.
    #[arg(long, requires = "max_ratio")]
    pub gate_time: bool,
    /// The k-th runs of the two groups ran at the same time (two builds' `run --repeat K`
    /// started together): pair them by position, so the machine's speed of the moment cancels
    /// in each pair. Implied for groups made by `run --interleave --side-by-side`.
    #[arg(long)]
    pub side_by_side: bool,
}

/// `atlasperf simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML) to simulate.
    #[arg(required_unless_present = "validate", conflicts_with = "validate")]
    pub scenario: Option<PathBuf>,
    /// Run stores whose successful attempts are the profiles (at least one registration and
    /// one fusion among them).
    #[arg(long, num_args = 1.., required = true, value_name = "RUN")]
    pub profiles: Vec<PathBuf>,
    /// Run folder of the simulated run (default: runs/<UTC timestamp>-<scenario name>-sim).
    #[arg(long, conflicts_with = "validate")]
    pub out: Option<PathBuf>,
    /// Override a scenario value, as for `run`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "validate")]
    pub overrides: Vec<String>,
    /// Seed of the random draws (which profile each job replays).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Monte Carlo samples: P10/P50/P90 of makespan, node peak memory, OOM kills and
    /// CPU-hours over them.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub samples: u64,
    /// Predict this measured run's scenario from the profiles and print predicted, measured
    /// and error per quantity (no run store is written).
    #[arg(long, value_name = "REAL_RUN")]
    pub validate: Option<PathBuf>,
    /// With --validate: exit with code 1 when the makespan, node peak or CPU-hours error
    /// exceeds this fraction (e.g. 0.10), or the OOM-killed attempts differ.
    #[arg(long, value_name = "FRACTION", requires = "validate")]
    pub max_error: Option<f64>,
}

/// `atlasperf export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run folder (a run store whose tables were written).
    pub run: PathBuf,
    /// Format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Standard Workload Format (Parallel Workloads Archive), one line per attempt.
    Swf,
    /// WfCommons WfFormat 1.5 JSON, one task per job.
    Wfformat,
}

/// `atlasperf import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Source format.
    #[arg(long, value_enum)]
    pub format: crate::import::Format,
    /// The files to read (sacct output; benchmark TSVs; psrecord logs; prmon.txt and
    /// prmon.json).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Run folder to create (default: runs/<UTC timestamp>-import-<format>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Name jobs' stages: PATTERN=STAGE, `*` matching any characters, matched against the
    /// job's name and id; first match wins (repeatable). Default: atlasperf's own job names
    /// map to registration and fusion, a Snakemake rule is its stage, anything else its name.
    #[arg(long = "stage", value_name = "PATTERN=STAGE", value_parser = crate::import::stage_rule)]
    pub stages: Vec<(String, String)>,
    /// Cores of each node (default: the most CPUs its jobs held at once).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub node_cores: Option<u64>,
    /// Memory of each node, e.g. `64 GiB` (default: the most its jobs requested, or used, at
    /// once).
    #[arg(long, value_name = "SIZE")]
    pub node_memory: Option<bytesize::ByteSize>,
    /// Voxels of the images the jobs processed (none of the formats records it); `simulate`
    /// scales the jobs by it and refuses profiles without it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub voxels: Option<u64>,
}

/// `atlasperf profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Sampling period, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub interval: u64,
    /// Run folder (default: runs/<UTC timestamp>-profile).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Command and arguments to profile (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// `atlasperf agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The attempt's identifier, written into every sample row (one job may have several
    /// attempts: retries, resumes).
    #[arg(long, default_value = "attempt")]
    pub attempt: String,
    /// Sampling period, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub interval: u64,
    /// CSV file the samples are appended to while the job runs.
    #[arg(long)]
    pub samples: Option<PathBuf>,
    /// JSON file for the exact totals (written atomically after the job ends).
    #[arg(long)]
    pub result: Option<PathBuf>,
    /// Seconds between SIGTERM and SIGKILL when the agent is asked to stop.
    #[arg(long, default_value_t = 5.0)]
    pub grace: f64,
    /// Command and arguments to supervise (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// `atlasperf calibrated-load` (hidden; used by the measurement tests).
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// CPU seconds to burn in this process.
    #[arg(long, default_value_t = 0.0)]
    pub cpu_seconds: f64,
    /// MiB to allocate and touch, held until exit.
    #[arg(long, default_value_t = 0)]
    pub rss_mib: usize,
    /// Bytes to write to a scratch file in `--dir`, then read back.
    #[arg(long, default_value_t = 0)]
    pub io_bytes: usize,
    /// Scratch folder for the I/O.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Child processes, each running the same load (without children of its own).
    #[arg(long, default_value_t = 0)]
    pub children: usize,
    /// Milliseconds to hold the memory after the work is done.
    #[arg(long, default_value_t = 0)]
    pub hold_ms: u64,
    /// Milliseconds to idle after freeing the memory (and reaping the children), before exit.
    #[arg(long, default_value_t = 0)]
    pub tail_ms: u64,
}

/// `atlasperf phantom`.
#[derive(Debug, Args)]
pub struct PhantomArgs {
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of subjects.
    #[arg(long, default_value_t = 8)]
    pub subjects: usize,
    /// Grid size in voxels, `X,Y,Z` (with `--template`: the head's bounding box instead).
    #[arg(long, value_parser = parse_shape, default_value = "80,100,80", conflicts_with = "template")]
    pub shape: [usize; 3],
    /// Make the subjects from a real brain MRI template instead of the analytic phantom: a
    /// folder with `t1.nii.gz`, `gm.nii.gz` and `wm.nii.gz` (`scripts/fetch-template.sh`
    /// writes one from the MNI ICBM 2009a template).
    #[arg(long, value_name = "DIR")]
    pub template: Option<PathBuf>,
    /// Isotropic voxel size, mm.
    #[arg(long, default_value_t = 2.0)]
    pub spacing: f64,
    /// Random seed (same seed, same cohort).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// RMS of each subject's nonlinear displacement, mm.
    #[arg(long, default_value_t = 3.0)]
    pub deformation: f64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Evaluation commands.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Mean and per-label Dice (and label volumes) of a segmentation against a reference.
    Dice(DiceArgs),
}

/// `atlasperf eval dice`.
#[derive(Debug, Args)]
pub struct DiceArgs {
    /// Reference label map (NIfTI).
    pub truth: PathBuf,
    /// Segmentation to evaluate (NIfTI, same grid).
    pub seg: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_shape(s: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [x, y, z] = parts.as_slice() else {
        return Err(format!("expected X,Y,Z (three voxel counts), got `{s}`"));
    };
    let p = |v: &str| {
        v.parse::<usize>()
            .map_err(|e| format!("`{v}` in `{s}`: {e}"))
    };
    Ok([p(x)?, p(y)?, p(z)?])
}
