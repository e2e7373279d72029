//! The kernels' parameters as users name them: presets, SyN metrics, label resampling, fusion
//! methods and per-level schedules. One definition serves the command line (clap, with the
//! `clap` feature), scenario files (serde) and the kernels themselves, so a value a scenario
//! accepts is a value a job accepts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::fusion::JlfParams;
use crate::registration::affine::AffineParams;
use crate::registration::pipeline::RegistrationParams;
use crate::registration::syn::{SynMetric, SynParams};
use crate::registration::Schedule;

pub use crate::registration::pipeline::LabelInterpolation;

/// A registration preset: the values every parameter takes unless overridden.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The paper's settings: SyN on Mattes MI, 200x100x50, step 0.1, variances 3 and 0.
    #[default]
    Paper,
    /// greedy's usual settings carried over to symmetric SyN: neighbourhood CC (radius 2),
    /// 100x50x10, update variance 3 and total variance 0.5 (greedy's `-s 1.732vox 0.707vox`
    /// are these sigmas), and a step of 0.5 voxel per half field, so the two images move at
    /// most 1 voxel relative to each other per iteration, as greedy's moving image does.
    Fast,
}

/// The similarity metric SyN follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Mattes mutual information, 32 bins.
    Mattes,
    /// Neighbourhood cross-correlation.
    Cc,
}

/// How atlas labels are combined into one segmentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Joint label fusion (Wang et al., PAMI 2013), as antsJointFusion.
    #[default]
    Jlf,
    /// Majority vote, ties to the smallest label.
    Majority,
}

macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),+ }) => {
        impl $t {
            /// The value as written in scenarios and on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
names!(Preset { Paper => "paper", Fast => "fast" });
names!(Metric { Mattes => "mattes", Cc => "cc" });
names!(FusionMethod { Jlf => "jlf", Majority => "majority" });
names!(LabelInterpolation { Nearest => "nearest", Linear => "linear" });

/// Per-level values, coarse to fine, written `AxBxC` as antsRegistration takes them
/// (`"200x100x50"`); a scenario may also give a TOML array.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels<T>(pub Vec<T>);

impl<T: FromStr> FromStr for Levels<T>
where
    T::Err: fmt::Display,
{
    type Err = BadLevels;
    fn from_str(s: &str) -> Result<Self, BadLevels> {
        s.split('x')
            .map(|v| {
                v.trim().parse::<T>().map_err(|e| {
                    BadLevels(format!("`{v}` in `{s}`: {e} (expected e.g. 200x100x50)"))
                })
            })
            .collect::<Result<Vec<T>, BadLevels>>()
            .map(Levels)
    }
}

/// Why a per-level schedule (`200x100x50`) could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadLevels(pub String);

impl<T: fmt::Display> fmt::Display for Levels<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("x")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl<T: fmt::Display> Serialize for Levels<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, T> Deserialize<'de> for Levels<T>
where
    T: FromStr + Deserialize<'de>,
    T::Err: fmt::Display,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Text(String),
            List(Vec<T>),
        }
        match Raw::<T>::deserialize(d)? {
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
            Raw::List(l) => Ok(Levels(l)),
        }
    }
}

/// Values that replace a preset's (`None`: the preset's value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// SyN metric.
    pub metric: Option<Metric>,
    /// CC window radius, voxels (default 2).
    pub cc_radius: Option<usize>,
    /// Iterations per level, both stages.
    pub iterations: Option<Levels<usize>>,
    /// Shrink factors per level (default 4x2x1).
    pub shrink: Option<Levels<usize>>,
    /// Smoothing sigmas per level, voxels (default 2x1x0).
    pub smooth: Option<Levels<f32>>,
    /// SyN step, voxels.
    pub step: Option<f32>,
    /// Variance of the update smoothing, voxels².
    pub update_variance: Option<f32>,
    /// Variance of the total-field smoothing, voxels².
    pub total_variance: Option<f32>,
    /// Affine stage only.
    pub affine_only: bool,
}

/// A parameter out of its bounds: which one (as scenarios name it) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ParamError {
    /// The parameter, as a scenario names it (`iterations`, `patch_radius`).
    pub key: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

fn bad(key: &'static str, message: impl Into<String>) -> Result<(), ParamError> {
    Err(ParamError {
        key,
        message: message.into(),
    })
}

/// Most levels a schedule may have.
pub const MAX_LEVELS: usize = 8;
/// Most iterations one level may run.
pub const MAX_ITERATIONS: usize = 100_000;
/// Largest CC window radius, voxels.
pub const MAX_CC_RADIUS: usize = 16;
/// Largest JLF patch or search radius, voxels: the work grows as (2r+1)⁶, so radius 8 is
/// already about 10⁴ times the default's.
pub const MAX_JLF_RADIUS: usize = 8;

impl RegistrationParams {
    /// The preset's parameters.
    pub fn preset(p: Preset) -> Self {
        Self::default().with_preset(p)
    }

    fn with_preset(self, p: Preset) -> Self {
        let schedule = match p {
            Preset::Paper => Schedule::default(),
            Preset::Fast => Schedule::with_iterations(vec![100, 50, 10]),
        };
        let syn = match p {
            Preset::Paper => SynParams {
                schedule: schedule.clone(),
                ..SynParams::default()
            },
            Preset::Fast => SynParams {
                schedule: schedule.clone(),
                step: 0.5,
                update_variance: 3.0,
                total_variance: 0.5,
                metric: SynMetric::Cc { radius: 2 },
            },
        };
        RegistrationParams {
            affine: AffineParams {
                schedule,
                ..self.affine
            },
            syn: Some(syn),
        }
    }

    /// These parameters with the overrides applied (not yet checked: see [`Self::validate`]).
    #[must_use]
    pub fn with(mut self, o: &Overrides) -> Self {
        let sched = |s: &mut Schedule| {
            if let Some(l) = &o.iterations {
                s.iterations = l.0.clone();
            }
            if let Some(l) = &o.shrink {
                s.shrink = l.0.clone();
            }
            if let Some(l) = &o.smooth {
                s.smooth = l.0.clone();
            }
        };
        sched(&mut self.affine.schedule);
        if o.affine_only {
            self.syn = None;
        }
        if let Some(syn) = &mut self.syn {
            sched(&mut syn.schedule);
            let radius = match syn.metric {
                SynMetric::Cc { radius } => radius,
                SynMetric::Mattes { .. } => 2,
            };
            syn.metric = match o.metric {
                Some(Metric::Mattes) => SynMetric::Mattes { bins: 32 },
                Some(Metric::Cc) => SynMetric::Cc { radius },
                None => syn.metric,
            };
            if let (SynMetric::Cc { radius }, Some(r)) = (&mut syn.metric, o.cc_radius) {
                *radius = r;
            }
            syn.step = o.step.unwrap_or(syn.step);
            syn.update_variance = o.update_variance.unwrap_or(syn.update_variance);
            syn.total_variance = o.total_variance.unwrap_or(syn.total_variance);
        }
        self
    }

    /// Checks every value against its bounds.
    ///
    /// # Errors
    /// The first parameter out of bounds.
    pub fn validate(&self) -> Result<(), ParamError> {
        validate_schedule(&self.affine.schedule)?;
        let Some(syn) = &self.syn else {
            return Ok(());
        };
        validate_schedule(&syn.schedule)?;
        if !(syn.step.is_finite() && syn.step > 0.0 && syn.step <= 10.0) {
            return bad(
                "step",
                format!("{}: must be above 0 and at most 10 voxels", syn.step),
            );
        }
        for (key, v) in [
            ("update_variance", syn.update_variance),
            ("total_variance", syn.total_variance),
        ] {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                return bad(key, format!("{v}: must be between 0 and 100 voxels²"));
            }
        }
        if let SynMetric::Cc { radius } = syn.metric {
            if !(1..=MAX_CC_RADIUS).contains(&radius) {
                return bad(
                    "radius",
                    format!("{radius}: the CC window radius must be 1 to {MAX_CC_RADIUS}"),
                );
            }
        }
        Ok(())
    }
}

fn validate_schedule(s: &Schedule) -> Result<(), ParamError> {
    let n = s.iterations.len();
    if n == 0 || n > MAX_LEVELS {
        return bad(
            "iterations",
            format!("{n} levels: give 1 to {MAX_LEVELS}, e.g. 200x100x50"),
        );
    }
    if let Some(i) = s.iterations.iter().find(|&&i| i > MAX_ITERATIONS) {
        return bad(
            "iterations",
            format!("{i} iterations on one level: at most {MAX_ITERATIONS}"),
        );
    }
    for (key, len, text) in [
        (
            "shrink",
            s.shrink.len(),
            Levels(s.shrink.clone()).to_string(),
        ),
        (
            "smooth",
            s.smooth.len(),
            Levels(s.smooth.clone()).to_string(),
        ),
    ] {
        if len != n {
            return bad(
                "iterations",
                format!(
                    "{} has {n} levels but {key} ({text}) has {len}: give one value per level for each",
                    Levels(s.iterations.clone())
                ),
            );
        }
    }
    if s.shrink.iter().any(|&f| f == 0 || f > 64) {
        return bad("shrink", "shrink factors must be 1 to 64");
    }
    if s.smooth
        .iter()
        .any(|&v| !(v.is_finite() && (0.0..=64.0).contains(&v)))
    {
        return bad("smooth", "smoothing sigmas must be 0 to 64 voxels");
    }
    Ok(())
}

impl JlfParams {
    /// Checks the radii and weights against their bounds (the radii against an image's size
    /// are checked again when the image is known).
    ///
    /// # Errors
    /// The first parameter out of bounds.
    pub fn validate(&self) -> Result<(), ParamError> {
        for (key, r) in [
            ("patch_radius", self.patch_radius),
            ("search_radius", self.search_radius),
        ] {
            if r > MAX_JLF_RADIUS {
                return bad(
                    key,
                    format!(
                        "{r}: at most {MAX_JLF_RADIUS} voxels (the work grows as (2r+1)⁶; antsJointFusion's defaults are 2 and 3)"
                    ),
                );
            }
        }
        for (key, v) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(key, format!("{v}: must be a number above 0"));
            }
        }
        Ok(())
    }

    /// Checks the radii against an image of these dimensions: a window as wide as the image
    /// compares nothing new and costs (2r+1)³ per voxel.
    ///
    /// # Errors
    /// A radius not smaller than the image's shortest axis.
    pub fn check_image(&self, dims: [usize; 3]) -> Result<(), ParamError> {
        let smallest = dims.iter().copied().min().unwrap_or(0);
        for (key, r) in [
            ("patch_radius", self.patch_radius),
            ("search_radius", self.search_radius),
        ] {
            if r >= smallest {
                return bad(
                    key,
                    format!(
                        "{r} is not smaller than the image's shortest axis ({smallest} voxels of {dims:?})"
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
