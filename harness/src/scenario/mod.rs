//! Scenario files (`scenarios/*.toml`): what to run, on which (emulated) nodes, under which
//! scheduling policy. Unknown keys are rejected; every error names the file and, where the
//! value came from the file, its line and column.

mod location;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use atlasperf_kernels::dataset::check_id;
use atlasperf_kernels::phantom::PhantomSpec;
use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

pub use location::{apply_override, line_col};

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

/// Memory request of a stage's jobs: bytes, or `"auto"` (forecast from measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryRequest {
    /// Forecast from a calibration job or earlier runs.
    Auto,
    /// A fixed request.
    Bytes(ByteSize),
}

impl Serialize for MemoryRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::Bytes(b) => b.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MemoryRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) if t.trim() == "auto" => Ok(Self::Auto),
            Raw::Text(t) => match t.parse::<ByteSize>() {
                // The parser saturates instead of overflowing.
                Ok(b) if b.0 == u64::MAX => Err(serde::de::Error::custom(format!(
                    "memory `{t}`: larger than 16 EiB, the most a 64-bit size can hold"
                ))),
                Ok(b) => Ok(Self::Bytes(b)),
                Err(e) => Err(serde::de::Error::custom(format!(
                    "memory `{t}`: {e} (e.g. \"2 GiB\" or \"auto\")"
                ))),
            },
            Raw::Number(n) => Ok(Self::Bytes(ByteSize(n))),
        }
    }
}

fn bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
    match MemoryRequest::deserialize(d)? {
        MemoryRequest::Bytes(b) => Ok(b),
        MemoryRequest::Auto => Err(serde::de::Error::custom(
            "a node's memory must be a size, e.g. \"32 GiB\"",
        )),
    }
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
    #[serde(default = "default_preset")]
    pub preset: String,
    /// SyN metric of the built-in kernel: `mattes` or `cc` (default: the preset's, Mattes MI
    /// for `paper` and CC for `fast`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Label resampling of the built-in kernel: `nearest` (default) or `linear` (per-label
    /// interpolation, like ANTs' GenericLabel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_interpolation: Option<String>,
    /// Iterations per level (e.g. `"200x100x50"`), overriding the preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<String>,
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
            preset: default_preset(),
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
fn default_preset() -> String {
    "paper".into()
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
    #[serde(default = "default_method")]
    pub method: String,
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
            method: default_method(),
            patch_radius: default_patch(),
            search_radius: default_search(),
            command: Vec::new(),
        }
    }
}

fn default_method() -> String {
    "jlf".into()
}
fn default_patch() -> usize {
    2
}
fn default_search() -> usize {
    3
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

/// A scenario error: the file, where in it (when known), and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// Line and column (1-based) of the offending value.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((l, c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A scenario loaded from a file, with the folder relative paths resolve against.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated scenario (overrides applied).
    pub scenario: Scenario,
    /// The scenario file.
    pub file: PathBuf,
    /// Its folder.
    pub base: PathBuf,
}

/// Reads, overrides (`key=value`, TOML value syntax, bare words as strings) and validates a
/// scenario file.
///
/// # Errors
/// A [`ScenarioError`] naming the file and, where it helps, line and column.
pub fn load(file: &Path, overrides: &[String]) -> Result<Loaded, ScenarioError> {
    let err = |at: Option<(usize, usize)>, message: String| ScenarioError {
        file: file.to_path_buf(),
        at,
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let scenario = if overrides.is_empty() {
        toml::from_str::<Scenario>(&text).map_err(|e| {
            let at = e.span().map(|s| line_col(&text, s.start));
            err(at, e.message().trim().to_string())
        })?
    } else {
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|s| line_col(&text, s.start));
            err(at, e.message().trim().to_string())
        })?;
        let mut doc = toml::Value::Table(table);
        for o in overrides {
            apply_override(&mut doc, o).map_err(|m| err(None, format!("--set {o}: {m}")))?;
        }
        doc.try_into::<Scenario>().map_err(|e| {
            err(
                None,
                format!("after --set overrides: {}", e.message().trim()),
            )
        })?
    };
    let overridden: Vec<&str> = overrides
        .iter()
        .filter_map(|o| o.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    validate(&scenario).map_err(|(key, message)| {
        let set_here = overridden
            .iter()
            .any(|k| key.starts_with(k) || k.starts_with(&key));
        if set_here {
            err(None, format!("{key} (set by --set): {message}"))
        } else {
            err(location::locate(&text, &key), format!("{key}: {message}"))
        }
    })?;
    let base = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Loaded {
        scenario,
        file: file.to_path_buf(),
        base,
    })
}

/// Most jobs one scenario may plan.
pub const MAX_JOBS: usize = 1_000_000;

/// Checks what serde cannot: ranges, uniqueness and consistency. Returns the offending key
/// path (`cluster.nodes[1].memory`) and what is wrong with it.
///
/// # Errors
/// The first problem found.
pub fn validate(s: &Scenario) -> Result<(), (String, String)> {
    let bad = |k: &str, m: String| Err((k.to_string(), m));
    if let Err(why) = check_id(&s.name) {
        return bad("name", format!("{:?} {why}", s.name));
    }
    if s.interval_ms == 0 {
        return bad("interval_ms", "must be at least 1".into());
    }
    if s.repetitions == 0 {
        return bad("repetitions", "must be at least 1".into());
    }
    if s.cluster.nodes.is_empty() {
        return bad("cluster.nodes", "at least one node is needed".into());
    }
    let mut names = BTreeSet::new();
    for (i, n) in s.cluster.nodes.iter().enumerate() {
        if !names.insert(n.name.as_str()) {
            return bad(
                &format!("cluster.nodes[{i}].name"),
                format!("node `{}` appears twice", n.name),
            );
        }
        if let Err(why) = check_id(&n.name) {
            return bad(
                &format!("cluster.nodes[{i}].name"),
                format!("{:?} {why}", n.name),
            );
        }
        if n.cores == 0 {
            return bad(
                &format!("cluster.nodes[{i}].cores"),
                "must be at least 1".into(),
            );
        }
        if n.slots == 0 {
            return bad(
                &format!("cluster.nodes[{i}].slots"),
                "must be at least 1".into(),
            );
        }
        if n.memory.0 == 0 {
            return bad(
                &format!("cluster.nodes[{i}].memory"),
                "must be more than 0 bytes".into(),
            );
        }
    }
    match (&s.dataset.phantom, &s.dataset.manifest) {
        (Some(_), Some(_)) => {
            return bad(
                "dataset",
                "give either `phantom` or `manifest`, not both".into(),
            )
        }
        (None, None) => return bad("dataset", "give `phantom` or `manifest`".into()),
        _ => {}
    }
    if let Some(p) = &s.dataset.phantom {
        let spec = phantom_spec(p, s);
        if let Err(e) = spec.validate() {
            return bad("dataset.phantom", e.to_string());
        }
        if spec.subjects < s.workload.targets + s.workload.atlases
            && s.workload.atlas_ids.is_empty()
        {
            return bad(
                "dataset.phantom.subjects",
                format!(
                    "{} subjects cannot give {} targets and {} distinct atlases",
                    spec.subjects, s.workload.targets, s.workload.atlases
                ),
            );
        }
    }
    let w = &s.workload;
    if w.targets == 0 {
        return bad("workload.targets", "must be at least 1".into());
    }
    if w.atlases == 0 {
        return bad("workload.atlases", "must be at least 1".into());
    }
    // (n + 1) jobs per target per repetition; a plan is held in memory and run, not simulated.
    let jobs = w
        .atlases
        .checked_add(1)
        .and_then(|per| per.checked_mul(w.targets))
        .and_then(|j| j.checked_mul(s.repetitions as usize));
    if jobs.is_none_or(|j| j > MAX_JOBS) {
        return bad(
            "workload",
            format!(
                "{} targets × ({} atlases + 1) × {} repetitions is more than {MAX_JOBS} jobs",
                w.targets, w.atlases, s.repetitions
            ),
        );
    }
    if !w.target_ids.is_empty() && w.target_ids.len() != w.targets {
        return bad(
            "workload.target_ids",
            format!(
                "lists {} ids but targets = {}",
                w.target_ids.len(),
                w.targets
            ),
        );
    }
    if !w.atlas_ids.is_empty() && w.atlas_ids.len() != w.atlases {
        return bad(
            "workload.atlas_ids",
            format!(
                "lists {} ids but atlases = {}",
                w.atlas_ids.len(),
                w.atlases
            ),
        );
    }
    for (key, ids) in [
        ("workload.target_ids", &w.target_ids),
        ("workload.atlas_ids", &w.atlas_ids),
    ] {
        let mut seen = BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            if let Err(why) = check_id(id) {
                return bad(&format!("{key}[{i}]"), format!("{id:?} {why}"));
            }
            if !seen.insert(id) {
                return bad(&format!("{key}[{i}]"), format!("`{id}` is listed twice"));
            }
        }
    }
    if !w.leave_one_out {
        if let Some((i, id)) = w
            .atlas_ids
            .iter()
            .enumerate()
            .find(|(_, a)| w.target_ids.contains(a))
        {
            return bad(
                &format!("workload.atlas_ids[{i}]"),
                format!(
                    "`{id}` is also a target: its own labels would be fused into its result; set workload.leave_one_out = true if that is the study"
                ),
            );
        }
    }
    let r = &s.stages.registration;
    if r.threads == 0 {
        return bad("stages.registration.threads", "must be at least 1".into());
    }
    if r.command.is_empty() {
        for (field, value, allowed) in [
            ("preset", Some(r.preset.as_str()), &["paper", "fast"]),
            ("metric", r.metric.as_deref(), &["cc", "mattes"]),
            (
                "label_interpolation",
                r.label_interpolation.as_deref(),
                &["nearest", "linear"],
            ),
        ] {
            if let Some(v) = value.filter(|v| !allowed.contains(v)) {
                return bad(
                    &format!("stages.registration.{field}"),
                    format!("`{v}`: expected {}", allowed.join(" or ")),
                );
            }
        }
        if let Some(it) = &r.iterations {
            if it.split('x').any(|v| v.trim().parse::<usize>().is_err()) {
                return bad(
                    "stages.registration.iterations",
                    format!("`{it}`: expected e.g. 200x100x50"),
                );
            }
        }
    } else {
        check_template(&r.command, REGISTRATION_PLACEHOLDERS)
            .or_else(|m| bad("stages.registration.command", m))?;
    }
    let f = &s.stages.fusion;
    if f.threads == 0 {
        return bad("stages.fusion.threads", "must be at least 1".into());
    }
    if f.command.is_empty() {
        if !["jlf", "majority"].contains(&f.method.as_str()) {
            return bad(
                "stages.fusion.method",
                format!("`{}`: expected jlf or majority", f.method),
            );
        }
    } else {
        check_template(&f.command, FUSION_PLACEHOLDERS)
            .or_else(|m| bad("stages.fusion.command", m))?;
    }
    check_template(&s.preflight, PREFLIGHT_PLACEHOLDERS).or_else(|m| bad("preflight", m))?;
    let sc = &s.scheduling;
    if !(sc.forecast_margin.is_finite() && (0.0..=10.0).contains(&sc.forecast_margin)) {
        return bad(
            "scheduling.forecast_margin",
            "must be between 0 and 10".into(),
        );
    }
    if sc.policy == Policy::Memory {
        let largest = s
            .cluster
            .nodes
            .iter()
            .map(|n| n.memory.0)
            .max()
            .unwrap_or(0);
        for (key, req) in [
            ("stages.registration.memory", r.memory),
            ("stages.fusion.memory", f.memory),
        ] {
            match req {
                None => {
                    return bad(
                        "scheduling.policy",
                        format!(
                            "the memory policy needs `{key}` (bytes, e.g. \"2 GiB\", or \"auto\")"
                        ),
                    )
                }
                Some(MemoryRequest::Bytes(b)) if b.0 > largest => {
                    return bad(
                        key,
                        format!(
                            "{b} does not fit on any node (largest has {})",
                            ByteSize(largest)
                        ),
                    )
                }
                _ => {}
            }
        }
    }
    if s.cluster.executor == ExecutorKind::Slurm && sc.policy == Policy::Unlimited {
        return bad(
            "scheduling.policy",
            "Slurm always admits by its own limits; use slots or memory".into(),
        );
    }
    Ok(())
}

/// Placeholders a registration command may use.
pub const REGISTRATION_PLACEHOLDERS: &[&str] = &[
    "fixed",
    "moving",
    "moving_labels",
    "fixed_labels",
    "out",
    "warped",
    "warped_labels",
    "threads",
    "atlasperf",
    "scenario_dir",
];
/// Placeholders a fusion command may use.
pub const FUSION_PLACEHOLDERS: &[&str] = &[
    "target",
    "target_labels",
    "atlas_images",
    "atlas_labels",
    "out",
    "threads",
    "atlasperf",
    "scenario_dir",
];
/// Placeholders the preflight command may use.
pub const PREFLIGHT_PLACEHOLDERS: &[&str] = &["scenario_dir", "atlasperf"];

/// Every `{name}` in the template must be known; braces must balance.
fn check_template(argv: &[String], known: &[&str]) -> Result<(), String> {
    for arg in argv {
        for name in placeholders(arg)? {
            if !known.contains(&name) {
                return Err(format!(
                    "unknown placeholder `{{{name}}}` in `{arg}` (known: {})",
                    known
                        .iter()
                        .map(|k| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
    }
    Ok(())
}

/// The placeholder names in one argument.
///
/// # Errors
/// An unclosed `{`.
pub fn placeholders(arg: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("unclosed `{{` in `{arg}`"));
        };
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    Ok(out)
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
