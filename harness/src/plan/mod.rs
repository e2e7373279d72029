//! A validated scenario expanded into a job graph: for each repetition and each of the m
//! targets, n registration jobs (one per atlas) and one fusion job that depends on them.

use crate::error::UsageError;
use std::path::{Path, PathBuf};

use atlasperf_kernels::dataset::Manifest;
use atlasperf_kernels::phantom::PhantomSpec;

use crate::scenario::{
    phantom_spec, Fusion, MemoryRequest, Node, Placement, Policy, Registration, Scenario,
};

mod jobs;

use jobs::{fill_template, scenario_dir};
pub use jobs::{preflight_argv, FuseJob, JobSpec, RegisterJob};

/// The two stages of multi-atlas segmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Registration of one atlas to one target.
    Registration,
    /// Label fusion of one target's registered atlases.
    Fusion,
}

impl Stage {
    /// Name as written in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Fusion => "fusion",
        }
    }
    /// Index (0 registration, 1 fusion) for per-stage arrays.
    pub fn index(self) -> usize {
        match self {
            Self::Registration => 0,
            Self::Fusion => 1,
        }
    }
}

/// One job of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    /// Identifier, e.g. `reg-sub01-sub05`, `fuse-sub01` (prefixed `rep2-` for repetitions).
    pub id: String,
    /// Stage.
    pub stage: Stage,
    /// Target subject.
    pub target: String,
    /// Atlas subject (registration only).
    pub atlas: Option<String>,
    /// Indices of the jobs that must succeed first.
    pub deps: Vec<usize>,
    /// What it runs.
    pub spec: JobSpec,
    /// Voxels of the target image (the memory forecast's predictor).
    pub voxels: u64,
    /// Kernel threads.
    pub threads: usize,
    /// Memory request from the scenario.
    pub memory: Option<MemoryRequest>,
    /// Its position among its stage's jobs in the plan, from 0 (the simulator's draws are
    /// stratified on it).
    pub ordinal: usize,
}

impl PlannedJob {
    /// Program and arguments (no shell).
    pub fn argv(&self) -> Vec<String> {
        self.spec.argv()
    }
}

/// Where the images come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetPlan {
    /// Generate this phantom cohort into the folder (unless it is already there).
    Phantom {
        /// Generator parameters.
        spec: PhantomSpec,
        /// Destination.
        dir: PathBuf,
    },
    /// Existing files.
    Manifest(PathBuf),
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Scenario name.
    pub name: String,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Admission policy.
    pub policy: Policy,
    /// Placement.
    pub placement: Placement,
    /// Extra attempts per job.
    pub retries: u32,
    /// Forecast safety margin.
    pub forecast_margin: f64,
    /// The images.
    pub dataset: DatasetPlan,
    /// The job graph, in submission order (dependencies come first).
    pub jobs: Vec<PlannedJob>,
}

/// One subject's files.
#[derive(Debug, Clone)]
struct Files {
    id: String,
    image: PathBuf,
    labels: Option<PathBuf>,
}

/// Expands a scenario. `base` resolves relative paths of the scenario; `run_dir` is where
/// outputs (and a phantom cohort) go; `exe` is the atlasperf binary the built-in stages call.
///
/// # Errors
/// A message naming the file or key at fault (unknown subjects, unreadable manifest or image).
pub fn expand(s: &Scenario, base: &Path, run_dir: &Path, exe: &Path) -> Result<Plan, UsageError> {
    expand_with(s, base, run_dir, exe, true)
}

/// [`expand`] for the simulator: the same graph, ids, sizes, threads and requests, but no
/// command lines (every spec is an empty external command), so a million jobs fit in a few
/// hundred megabytes.
///
/// # Errors
/// As [`expand`].
pub fn expand_graph(s: &Scenario, base: &Path, run_dir: &Path) -> Result<Plan, UsageError> {
    expand_with(s, base, run_dir, Path::new("atlasperf"), false)
}

fn expand_with(
    s: &Scenario,
    base: &Path,
    run_dir: &Path,
    exe: &Path,
    commands: bool,
) -> Result<Plan, UsageError> {
    let (dataset, subjects, voxels_of) = resolve_dataset(s, base, run_dir)?;
    let (targets, atlases) = select(s, &subjects)?;
    let ctx = Commands {
        on: commands,
        exe_path: exe.to_path_buf(),
        exe: exe.to_string_lossy().into_owned(),
        scenario_dir: scenario_dir(base),
    };
    let outputs = run_dir.join("outputs");
    let mut jobs = Vec::new();
    let mut ordinals = [0usize; 2];
    let mut next = |stage: Stage| {
        let k = ordinals[stage.index()];
        ordinals[stage.index()] += 1;
        k
    };
    let (r, f) = (&s.stages.registration, &s.stages.fusion);
    for rep in 1..=s.repetitions {
        let (prefix, out_root) = if s.repetitions > 1 {
            (format!("rep{rep}-"), outputs.join(format!("rep{rep}")))
        } else {
            (String::new(), outputs.clone())
        };
        for t in &targets {
            let voxels = voxels_of(&t.image)?;
            let mut regs = Vec::new();
            let mut warped = Warped::default();
            // Leave-one-out: a target is never registered to itself.
            for a in atlases.iter().filter(|a| a.id != t.id) {
                let out = out_root
                    .join("registration")
                    .join(&t.id)
                    .join(format!("{}_", a.id));
                regs.push(jobs.len());
                jobs.push(PlannedJob {
                    id: format!("{prefix}reg-{}-{}", t.id, a.id),
                    stage: Stage::Registration,
                    target: t.id.clone(),
                    atlas: Some(a.id.clone()),
                    deps: Vec::new(),
                    spec: ctx.registration(r, t, a, &out, &mut warped)?,
                    voxels,
                    threads: r.threads,
                    memory: r.memory,
                    ordinal: next(Stage::Registration),
                });
            }
            let seg = out_root.join("fusion").join(format!("{}_seg.nii.gz", t.id));
            jobs.push(PlannedJob {
                id: format!("{prefix}fuse-{}", t.id),
                stage: Stage::Fusion,
                target: t.id.clone(),
                atlas: None,
                deps: regs,
                spec: ctx.fusion(f, t, &warped, &seg)?,
                voxels,
                threads: f.threads,
                memory: f.memory,
                ordinal: next(Stage::Fusion),
            });
        }
    }
    Ok(Plan {
        name: s.name.clone(),
        nodes: s.cluster.nodes.clone(),
        policy: s.scheduling.policy,
        placement: s.scheduling.placement,
        retries: s.scheduling.retries,
        forecast_margin: s.scheduling.forecast_margin,
        dataset,
        jobs,
    })
}

/// The m targets and n atlases the workload names (by id, or the first subjects in order).
fn select(s: &Scenario, subjects: &[Files]) -> Result<(Vec<Files>, Vec<Files>), UsageError> {
    let pick = |ids: &[String], what: &str| -> Result<Vec<Files>, UsageError> {
        ids.iter()
            .map(|id| {
                subjects
                    .iter()
                    .find(|f| &f.id == id)
                    .cloned()
                    .ok_or_else(|| {
                        UsageError(format!("workload.{what}: no subject `{id}` in the dataset"))
                    })
            })
            .collect()
    };
    let w = &s.workload;
    let targets = if w.target_ids.is_empty() {
        subjects.iter().take(w.targets).cloned().collect()
    } else {
        pick(&w.target_ids, "target_ids")?
    };
    let atlases: Vec<Files> = if w.atlas_ids.is_empty() {
        subjects
            .iter()
            .skip(w.targets)
            .take(w.atlases)
            .cloned()
            .collect()
    } else {
        pick(&w.atlas_ids, "atlas_ids")?
    };
    if targets.len() < w.targets || atlases.len() < w.atlases {
        return Err(UsageError(format!(
            "the dataset has {} subjects; {} targets and {} atlases need {}",
            subjects.len(),
            w.targets,
            w.atlases,
            w.targets + w.atlases
        )));
    }
    if let Some(a) = atlases.iter().find(|a| a.labels.is_none()) {
        return Err(UsageError(format!(
            "atlas `{}` has no label map in the dataset",
            a.id
        )));
    }
    Ok((targets, atlases))
}

/// A target's registered atlases so far: the fusion job's inputs.
#[derive(Default)]
struct Warped {
    images: Vec<String>,
    labels: Vec<String>,
}

/// What a job's command line is built from; `on` is false for the simulator's graph, whose
/// jobs have no command line.
struct Commands {
    on: bool,
    exe_path: PathBuf,
    exe: String,
    scenario_dir: String,
}

impl Commands {
    /// Registration of atlas `a` to target `t` with outputs prefixed `out`; its warped image
    /// and labels join `warped`.
    fn registration(
        &self,
        r: &Registration,
        t: &Files,
        a: &Files,
        out: &Path,
        warped: &mut Warped,
    ) -> Result<JobSpec, UsageError> {
        if !self.on {
            return Ok(JobSpec::External(Vec::new()));
        }
        let out_s = out.to_string_lossy().into_owned();
        let w_img = format!("{out_s}warped.nii.gz");
        let w_lab = format!("{out_s}warped_labels.nii.gz");
        let spec = if r.command.is_empty() {
            JobSpec::Register(RegisterJob {
                exe: self.exe_path.clone(),
                fixed: t.image.clone(),
                moving: a.image.clone(),
                moving_labels: a.labels.clone(),
                fixed_labels: t.labels.clone(),
                out: out.to_path_buf(),
                threads: r.threads,
                preset: r.preset,
                overrides: r.overrides(),
                label_interpolation: r.label_interpolation.unwrap_or_default(),
            })
        } else {
            let vars = |name: &str| -> Option<Vec<String>> {
                let one = |p: &Path| Some(vec![p.to_string_lossy().into_owned()]);
                match name {
                    "fixed" => one(&t.image),
                    "moving" => one(&a.image),
                    "moving_labels" => a.labels.as_deref().and_then(one),
                    "fixed_labels" => t.labels.as_deref().and_then(one),
                    "out" => Some(vec![out_s.clone()]),
                    "warped" => Some(vec![w_img.clone()]),
                    "warped_labels" => Some(vec![w_lab.clone()]),
                    "threads" => Some(vec![r.threads.to_string()]),
                    "atlasperf" => Some(vec![self.exe.clone()]),
                    "scenario_dir" => Some(vec![self.scenario_dir.clone()]),
                    _ => None,
                }
            };
            JobSpec::External(
                fill_template(&r.command, &vars)
                    .map_err(|m| UsageError(format!("stages.registration.command: {}", m.0)))?,
            )
        };
        warped.images.push(w_img);
        warped.labels.push(w_lab);
        Ok(spec)
    }

    /// Fusion of target `t`'s registered atlases into the segmentation `seg`.
    fn fusion(
        &self,
        f: &Fusion,
        t: &Files,
        warped: &Warped,
        seg: &Path,
    ) -> Result<JobSpec, UsageError> {
        if !self.on {
            return Ok(JobSpec::External(Vec::new()));
        }
        if f.command.is_empty() {
            return Ok(JobSpec::Fuse(FuseJob {
                exe: self.exe_path.clone(),
                target: t.image.clone(),
                atlas_images: warped.images.iter().map(PathBuf::from).collect(),
                atlas_labels: warped.labels.iter().map(PathBuf::from).collect(),
                out: seg.to_path_buf(),
                method: f.method,
                jlf: f.jlf(),
                threads: f.threads,
                truth: t.labels.clone(),
            }));
        }
        let vars = |name: &str| -> Option<Vec<String>> {
            let one = |p: &Path| Some(vec![p.to_string_lossy().into_owned()]);
            match name {
                "target" => one(&t.image),
                "target_labels" => t.labels.as_deref().and_then(one),
                "atlas_images" => Some(warped.images.clone()),
                "atlas_labels" => Some(warped.labels.clone()),
                "out" => one(seg),
                "threads" => Some(vec![f.threads.to_string()]),
                "atlasperf" => Some(vec![self.exe.clone()]),
                "scenario_dir" => Some(vec![self.scenario_dir.clone()]),
                _ => None,
            }
        };
        Ok(JobSpec::External(
            fill_template(&f.command, &vars)
                .map_err(|m| UsageError(format!("stages.fusion.command: {}", m.0)))?,
        ))
    }
}

type VoxelsOf = Box<dyn Fn(&Path) -> Result<u64, UsageError>>;

fn resolve_dataset(
    s: &Scenario,
    base: &Path,
    run_dir: &Path,
) -> Result<(DatasetPlan, Vec<Files>, VoxelsOf), UsageError> {
    if let Some(p) = &s.dataset.phantom {
        let spec = phantom_spec(p, s);
        let dir = run_dir.join("inputs");
        let files = (0..spec.subjects)
            .map(|i| {
                let id = PhantomSpec::subject_id(i);
                Files {
                    image: dir.join(format!("{id}_t1.nii.gz")),
                    labels: Some(dir.join(format!("{id}_labels.nii.gz"))),
                    id,
                }
            })
            .collect();
        let voxels = spec.shape.iter().map(|&n| n as u64).product::<u64>();
        return Ok((
            DatasetPlan::Phantom { spec, dir },
            files,
            Box::new(move |_| Ok(voxels)),
        ));
    }
    let Some(m) = &s.dataset.manifest else {
        return Err(UsageError("dataset: give `phantom` or `manifest`".into()));
    };
    let path = base.join(m);
    let manifest =
        Manifest::load(&path).map_err(|e| UsageError(format!("dataset.manifest: {e}")))?;
    let files = manifest
        .subjects
        .iter()
        .map(|e| Files {
            id: e.id.clone(),
            image: e.image.clone(),
            labels: e.labels.clone(),
        })
        .collect();
    Ok((
        DatasetPlan::Manifest(path),
        files,
        Box::new(|image: &Path| {
            let h = nifti::NiftiHeader::from_file(image).map_err(|e| {
                UsageError(format!(
                    "{}: cannot read the NIfTI header: {e}",
                    image.display()
                ))
            })?;
            let n = usize::from(h.dim[0].clamp(1, 7));
            Ok(h.dim[1..=n.min(3)]
                .iter()
                .map(|&d| u64::from(d.max(1)))
                .product())
        }),
    ))
}
