//! What one planned job runs: a built-in kernel with validated, typed parameters, or an
//! external command filled in from its template. Each job's argv comes from one function,
//! [`JobSpec::argv`], and the tests parse it back with the command line's own parser.

use crate::error::UsageError;
use std::path::{Path, PathBuf};

use atlasperf_kernels::fusion::JlfParams;
use atlasperf_kernels::params::{FusionMethod, LabelInterpolation, Overrides, Preset};

use crate::scenario::{placeholders, Scenario};

/// A built-in registration job: `atlasperf kernel register`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterJob {
    /// The atlasperf binary.
    pub exe: PathBuf,
    /// Target image.
    pub fixed: PathBuf,
    /// Atlas image.
    pub moving: PathBuf,
    /// Atlas labels.
    pub moving_labels: Option<PathBuf>,
    /// Target labels (Dice in the summary).
    pub fixed_labels: Option<PathBuf>,
    /// Output prefix.
    pub out: PathBuf,
    /// Kernel threads.
    pub threads: usize,
    /// Preset.
    pub preset: Preset,
    /// Overrides of the preset (validated with it).
    pub overrides: Overrides,
    /// Label resampling.
    pub label_interpolation: LabelInterpolation,
}

/// A built-in fusion job: `atlasperf kernel fuse`.
#[derive(Debug, Clone, PartialEq)]
pub struct FuseJob {
    /// The atlasperf binary.
    pub exe: PathBuf,
    /// Target image.
    pub target: PathBuf,
    /// Warped atlas images.
    pub atlas_images: Vec<PathBuf>,
    /// Warped atlas labels.
    pub atlas_labels: Vec<PathBuf>,
    /// Output segmentation.
    pub out: PathBuf,
    /// Method.
    pub method: FusionMethod,
    /// JLF parameters (validated).
    pub jlf: JlfParams,
    /// Kernel threads.
    pub threads: usize,
    /// Target labels (Dice of the result).
    pub truth: Option<PathBuf>,
}

/// What a job runs.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    /// Built-in registration.
    Register(RegisterJob),
    /// Built-in fusion.
    Fuse(FuseJob),
    /// An external command (argv, no shell).
    External(Vec<String>),
}

fn text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl JobSpec {
    /// Program and arguments.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Self::External(argv) => argv.clone(),
            Self::Register(r) => {
                let mut argv = vec![text(&r.exe), "kernel".into(), "register".into()];
                let mut flag = |name: &str, value: String| {
                    argv.push(format!("--{name}"));
                    argv.push(value);
                };
                flag("fixed", text(&r.fixed));
                flag("moving", text(&r.moving));
                if let Some(l) = &r.moving_labels {
                    flag("moving-labels", text(l));
                }
                if let Some(l) = &r.fixed_labels {
                    flag("fixed-labels", text(l));
                }
                flag("out", text(&r.out));
                flag("threads", r.threads.to_string());
                flag("preset", r.preset.to_string());
                flag("label-interpolation", r.label_interpolation.to_string());
                let o = &r.overrides;
                let values = [
                    ("metric", o.metric.map(|m| m.to_string())),
                    ("radius", o.cc_radius.map(|v| v.to_string())),
                    ("iterations", o.iterations.as_ref().map(ToString::to_string)),
                    ("shrink", o.shrink.as_ref().map(ToString::to_string)),
                    ("smooth", o.smooth.as_ref().map(ToString::to_string)),
                    ("step", o.step.map(|v| v.to_string())),
                    ("update-variance", o.update_variance.map(|v| v.to_string())),
                    ("total-variance", o.total_variance.map(|v| v.to_string())),
                ];
                for (name, value) in values {
                    if let Some(v) = value {
                        flag(name, v);
                    }
                }
                if o.affine_only {
                    argv.push("--affine-only".into());
                }
                argv
            }
            Self::Fuse(f) => {
                let mut argv = vec![text(&f.exe), "kernel".into(), "fuse".into()];
                argv.extend(["--target".into(), text(&f.target)]);
                if !f.atlas_images.is_empty() {
                    argv.push("--atlas-images".into());
                    argv.extend(f.atlas_images.iter().map(|p| text(p)));
                }
                argv.push("--atlas-labels".into());
                argv.extend(f.atlas_labels.iter().map(|p| text(p)));
                argv.extend([
                    "--out".into(),
                    text(&f.out),
                    "--method".into(),
                    f.method.to_string(),
                    "--patch-radius".into(),
                    f.jlf.patch_radius.to_string(),
                    "--search-radius".into(),
                    f.jlf.search_radius.to_string(),
                    "--alpha".into(),
                    f.jlf.alpha.to_string(),
                    "--beta".into(),
                    f.jlf.beta.to_string(),
                    "--threads".into(),
                    f.threads.to_string(),
                ]);
                if let Some(t) = &f.truth {
                    argv.extend(["--truth".into(), text(t)]);
                }
                argv
            }
        }
    }
}

/// The scenario's folder as an absolute path (`{scenario_dir}` in command templates).
pub(crate) fn scenario_dir(base: &Path) -> String {
    text(&std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf()))
}

/// The scenario's preflight command with its placeholders filled in (empty when it has none).
///
/// # Errors
/// A placeholder other than `{scenario_dir}` and `{atlasperf}`.
pub fn preflight_argv(s: &Scenario, base: &Path, exe: &Path) -> Result<Vec<String>, UsageError> {
    let dir = scenario_dir(base);
    let exe = text(exe);
    fill_template(&s.preflight, &|name: &str| match name {
        "scenario_dir" => Some(vec![dir.clone()]),
        "atlasperf" => Some(vec![exe.clone()]),
        _ => None,
    })
    .map_err(|m| UsageError(format!("preflight: {}", m.0)))
}

/// Fills an argv template. An argument that is exactly one placeholder may expand to several
/// arguments; inside a longer argument a placeholder must have exactly one value.
pub(crate) fn fill_template(
    template: &[String],
    vars: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Result<Vec<String>, UsageError> {
    let mut out = Vec::new();
    for arg in template {
        let names = placeholders(arg)?;
        if names.is_empty() {
            out.push(arg.clone());
            continue;
        }
        let value = |name: &str| {
            vars(name).ok_or_else(|| UsageError(format!("`{{{name}}}` has no value for this job")))
        };
        if names.len() == 1 && arg == &format!("{{{}}}", names[0]) {
            out.extend(value(names[0])?);
            continue;
        }
        let mut s = arg.clone();
        for name in names {
            let v = value(name)?;
            if v.len() != 1 {
                return Err(UsageError(format!(
                    "`{{{name}}}` expands to {} values; use it as a whole argument",
                    v.len()
                )));
            }
            s = s.replace(&format!("{{{name}}}"), &v[0]);
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use atlasperf_kernels::params::{Levels, Metric};
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, KernelCommand};

    fn parse(argv: &[String]) -> Option<KernelCommand> {
        match Cli::try_parse_from(argv).ok()?.command {
            Command::Kernel(k) => Some(k),
            _ => None,
        }
    }

    fn register_job(overrides: Overrides) -> RegisterJob {
        RegisterJob {
            exe: "/opt/atlas perf/atlasperf".into(),
            fixed: "in/sub-01 t1.nii.gz".into(),
            moving: "in/sub-02_t1.nii.gz".into(),
            moving_labels: Some("in/sub-02_labels.nii.gz".into()),
            fixed_labels: None,
            out: "out/reg/sub-01/sub-02_".into(),
            threads: 3,
            preset: Preset::Fast,
            overrides,
            label_interpolation: LabelInterpolation::Linear,
        }
    }

    #[test]
    fn a_register_job_survives_the_command_line_parser() {
        for overrides in [
            Overrides::default(),
            Overrides {
                metric: Some(Metric::Mattes),
                cc_radius: Some(3),
                iterations: Some(Levels(vec![20, 10, 0])),
                shrink: Some(Levels(vec![8, 4, 2])),
                smooth: Some(Levels(vec![3.5, 1.25, 0.0])),
                step: Some(0.25),
                update_variance: Some(2.5),
                total_variance: Some(0.125),
                affine_only: true,
            },
        ] {
            let job = register_job(overrides);
            let Some(KernelCommand::Register(a)) = parse(&JobSpec::Register(job.clone()).argv())
            else {
                panic!("the register argv does not parse as `kernel register`");
            };
            assert_eq!(a.overrides(), job.overrides);
            assert_eq!(
                (a.fixed, a.moving, a.moving_labels, a.fixed_labels, a.out),
                (
                    job.fixed,
                    job.moving,
                    job.moving_labels,
                    job.fixed_labels,
                    job.out
                )
            );
            assert_eq!(a.threads, Some(job.threads));
            assert_eq!(a.preset, job.preset);
            assert_eq!(a.label_interpolation, job.label_interpolation);
        }
    }

    #[test]
    fn a_fuse_job_survives_the_command_line_parser() {
        for method in [FusionMethod::Jlf, FusionMethod::Majority] {
            let job = FuseJob {
                exe: "atlasperf".into(),
                target: "t.nii.gz".into(),
                atlas_images: vec!["a1.nii.gz".into(), "a 2.nii.gz".into()],
                atlas_labels: vec!["l1.nii.gz".into(), "l2.nii.gz".into()],
                out: "seg.nii.gz".into(),
                method,
                jlf: JlfParams {
                    patch_radius: 1,
                    search_radius: 4,
                    alpha: 0.05,
                    beta: 1.5,
                },
                threads: 2,
                truth: Some("truth.nii.gz".into()),
            };
            let Some(KernelCommand::Fuse(a)) = parse(&JobSpec::Fuse(job.clone()).argv()) else {
                panic!("the fuse argv does not parse as `kernel fuse`");
            };
            let jlf = JlfParams {
                patch_radius: a.patch_radius,
                search_radius: a.search_radius,
                alpha: a.alpha,
                beta: a.beta,
            };
            assert_eq!(jlf, job.jlf);
            assert_eq!(a.method, job.method);
            assert_eq!(
                (a.target, a.atlas_images, a.atlas_labels, a.out, a.truth),
                (
                    job.target,
                    job.atlas_images,
                    job.atlas_labels,
                    job.out,
                    job.truth
                )
            );
            assert_eq!(a.threads, Some(job.threads));
        }
    }
}
