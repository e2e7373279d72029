//! Scenario files (`scenarios/*.toml`): what to run, on which (emulated) nodes, under which
//! scheduling policy. Unknown keys are rejected; every error names the file and, where the
//! value came from the file, its line and column.

mod load;
mod location;
mod memory;
mod validate;

use std::path::PathBuf;

use atlasperf_kernels::fusion::JlfParams;
use atlasperf_kernels::params::{
    FusionMethod, LabelInterpolation, Levels, Metric, Overrides, Preset,
};
use atlasperf_kernels::phantom::PhantomSpec;
use atlasperf_kernels::registration::pipeline::RegistrationParams;
use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

pub use load::{load, Loaded, ScenarioError};
pub use location::{apply_override, line_col};
use memory::bytes;
pub use memory::MemoryRequest;
pub use validate::{
    oversubscription, placeholders, validate, FUSION_PLACEHOLDERS, MAX_JOBS,
    PREFLIGHT_PLACEHOLDERS, REGISTRATION_PLACEHOLDERS,
};

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (used in the run folder's name).
    pub name: String,
    /// What the scenario shows, and how it was scaled to the machine.
    #[serde(default)]
    pub description: String,
    /// Random seed (phantom cohort).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Sampling period of the agents, milliseconds.
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// How many times the whole workload is run (each repetition is its own set of jobs).
    #[serde(default = "default_repetitions")]
    pub repetitions: u32,
    /// The nodes.
    pub cluster: Cluster,
    /// The images.
    #[serde(default)]
    pub dataset: Dataset,
    /// m targets, n atlases.
    pub workload: Workload,
    /// Registration and fusion.
    #[serde(default)]
    pub stages: Stages,
    /// Admission and placement.
    #[serde(default)]
    pub scheduling: Scheduling,
    /// A command run once before anything else (argv; `{scenario_dir}` and `{atlasperf}` are
    /// filled in). A non-zero exit stops the run with its output: a scenario that needs
    /// external tools checks for them here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<String>,
}

fn default_seed() -> u64 {
    1
}
fn default_interval() -> u64 {
    100
}
fn default_repetitions() -> u32 {
    1
}

/// Where jobs run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// `local` (emulated nodes on this machine) or `slurm`.
    #[serde(default)]
    pub executor: ExecutorKind,
    /// The nodes.
    pub nodes: Vec<Node>,
}

/// Executor choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// Emulated nodes on this machine.
    #[default]
    Local,
    /// A Slurm cluster (`sbatch`).
    Slurm,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Name (unique).
    pub name: String,
    /// Cores; locally, jobs are pinned to this many CPUs when the machine has them.
    pub cores: usize,
    /// Memory capacity, e.g. `"32 GiB"`; enforced by the OOM watchdog.
    #[serde(deserialize_with = "bytes")]
    pub memory: ByteSize,
    /// Job slots (the `slots` policy's limit on concurrent jobs).
    #[serde(default = "default_slots")]
    pub slots: usize,
}

fn default_slots() -> usize {
    1
}

/// The images: a generated phantom cohort (default) or a manifest of real files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Phantom parameters (`subjects` defaults to targets + atlases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phantom: Option<PhantomTable>,
    /// A dataset manifest (TOML), relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
}

impl Default for Dataset {
    fn default() -> Self {
        Self {
            phantom: Some(PhantomTable::default()),
            manifest: None,
        }
    }
}

/// Phantom cohort parameters; anything left out takes the phantom generator's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhantomTable {
    /// Number of subjects (default: targets + atlases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<usize>,
    /// Grid size in voxels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 3]>,
    /// Isotropic voxel size, mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacing: Option<f64>,
    /// RMS nonlinear displacement, mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deformation_mm: Option<f64>,
}

/// The multi-atlas workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// m: number of target images.
    pub targets: usize,
    /// n: atlases registered to each target.
    pub atlases: usize,
    /// Explicit target subject ids (default: the first m subjects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_ids: Vec<String>,
    /// Explicit atlas subject ids (default: the n subjects after the targets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub atlas_ids: Vec<String>,
    /// Allow a target among the atlases (leave-one-out studies register each target to the
    /// other subjects; a target's own job is then skipped by the plan). Off: atlases and
    /// targets must be disjoint, so no target's own truth is fused into its result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leave_one_out: bool,
}

/// The two stages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stages {
    /// Stage 1.
    #[serde(default)]
    pub registration: Registration,
    /// Stage 2.
    #[serde(default)]
    pub fusion: Fusion,
}

/// Registration stage: the built-in kernel's parameters, or an external argv template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Kernel threads per job.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Memory request per job (memory policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryRequest>,
    /// Built-in kernel preset: `paper` (200x100x50, step 0.1) or `fast`.
    #[serde(default)]
    pub preset: Preset,
    /// SyN metric of the built-in kernel: `mattes` or `cc` (default: the preset's, Mattes MI
    /// for `paper` and CC for `fast`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// Label resampling of the built-in kernel: `nearest` (default) or `linear` (per-label
    /// interpolation, like ANTs' GenericLabel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_interpolation: Option<LabelInterpolation>,
    /// Iterations per level (e.g. `"200x100x50"` or `[200, 100, 50]`), overriding the preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<Levels<usize>>,
    /// External command instead of the built-in kernel: argv with placeholders `{fixed}`,
    /// `{moving}`, `{moving_labels}`, `{fixed_labels}`, `{out}` (prefix), `{warped}`,
    /// `{warped_labels}` (files the command must write), `{threads}`, `{atlasperf}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            memory: None,
            preset: Preset::default(),
            metric: None,
            label_interpolation: None,
            iterations: None,
            command: Vec::new(),
        }
    }
}

fn default_threads() -> usize {
    1
}

impl Registration {
    /// The built-in kernel's overrides of its preset that the scenario gives.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            metric: self.metric,
            iterations: self.iterations.clone(),
            ..Overrides::default()
        }
    }

    /// The built-in kernel's parameters: the preset with the scenario's overrides.
    pub fn params(&self) -> RegistrationParams {
        RegistrationParams::preset(self.preset).with(&self.overrides())
    }
}

/// Fusion stage: the built-in kernel's parameters, or an external argv template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fusion {
    /// Kernel threads per job.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Memory request per job (memory policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryRequest>,
    /// `jlf` or `majority`.
    #[serde(default)]
    pub method: FusionMethod,
    /// JLF patch radius.
    #[serde(default = "default_patch")]
    pub patch_radius: usize,
    /// JLF search radius.
    #[serde(default = "default_search")]
    pub search_radius: usize,
    /// External command: argv with placeholders `{target}`, `{target_labels}`, `{out}`,
    /// `{threads}`, `{atlasperf}`, and `{atlas_images}` / `{atlas_labels}` (each expands to
    /// one argument per atlas when it is a whole argument).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

impl Default for Fusion {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            memory: None,
            method: FusionMethod::default(),
            patch_radius: default_patch(),
            search_radius: default_search(),
            command: Vec::new(),
        }
    }
}

fn default_patch() -> usize {
    2
}
fn default_search() -> usize {
    3
}

impl Fusion {
    /// The built-in joint label fusion's parameters (α and β at antsJointFusion's defaults).
    pub fn jlf(&self) -> JlfParams {
        JlfParams {
            patch_radius: self.patch_radius,
            search_radius: self.search_radius,
            ..JlfParams::default()
        }
    }
}

/// Admission policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// At most `slots` jobs per node (LSF-style; the paper's waves).
    #[default]
    Slots,
    /// Admit a job only when its memory request fits the node's free capacity.
    Memory,
    /// Start everything at once (the paper's crash, when capacity is short).
    Unlimited,
}

/// Placement among the nodes a job fits on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// The node with the fewest running jobs.
    #[default]
    Balanced,
    /// The first node (in scenario order) the job fits on.
    Packed,
}

/// Scheduling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheduling {
    /// Admission policy.
    #[serde(default)]
    pub policy: Policy,
    /// Placement.
    #[serde(default)]
    pub placement: Placement,
    /// Extra attempts for a failed or OOM-killed job.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Safety margin on a forecast memory request (0.15 = +15 %).
    #[serde(default = "default_margin")]
    pub forecast_margin: f64,
    /// Earlier run folders whose job tables the `auto` forecast is fitted on (relative to the
    /// scenario file); without them the first job of each stage calibrates alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecast_from: Vec<PathBuf>,
}

impl Default for Scheduling {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            placement: Placement::default(),
            retries: default_retries(),
            forecast_margin: default_margin(),
            forecast_from: Vec::new(),
        }
    }
}

fn default_retries() -> u32 {
    1
}
fn default_margin() -> f64 {
    0.15
}

/// The phantom generator's spec for this scenario.
pub fn phantom_spec(p: &PhantomTable, s: &Scenario) -> PhantomSpec {
    let d = PhantomSpec::default();
    PhantomSpec {
        subjects: p
            .subjects
            .unwrap_or(s.workload.targets + s.workload.atlases),
        shape: p.shape.unwrap_or(d.shape),
        spacing: p.spacing.unwrap_or(d.spacing),
        deformation_mm: p.deformation_mm.unwrap_or(d.deformation_mm),
        seed: s.seed,
        ..d
    }
}
