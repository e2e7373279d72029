//! The kernel commands' arguments (`atlasperf kernel register|fuse`): the parameter types are
//! the kernels' own ([`atlasperf_kernels::params`]), so the command line takes exactly the
//! names and values a scenario does.

use std::path::PathBuf;
use std::str::FromStr;

use atlasperf_kernels::params::{
    FusionMethod, LabelInterpolation, Levels, Metric, Overrides, Preset,
};
use clap::Args;

/// `atlasperf kernel register`. Defaults are the paper's settings.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Fixed (target) image.
    #[arg(long)]
    pub fixed: PathBuf,
    /// Moving (atlas) image.
    #[arg(long)]
    pub moving: PathBuf,
    /// Moving labels, warped into the fixed space (see --label-interpolation).
    #[arg(long)]
    pub moving_labels: Option<PathBuf>,
    /// How the labels are resampled: `nearest` takes the nearest voxel's label; `linear`
    /// interpolates each label's indicator and keeps the largest (ANTs' GenericLabel;
    /// smoother boundaries).
    #[arg(long, value_enum, default_value_t = LabelInterpolation::Nearest)]
    pub label_interpolation: LabelInterpolation,
    /// Fixed labels (ground truth): the summary then reports Dice before and after.
    #[arg(long)]
    pub fixed_labels: Option<PathBuf>,
    /// Output prefix: writes PREFIXwarped.nii.gz, PREFIXwarped_labels.nii.gz,
    /// PREFIXwarp.nii.gz (displacement, mm, RAS), PREFIXaffine.json, PREFIXsummary.json, and
    /// the same transforms as antsRegistration writes them: PREFIX0GenericAffine.mat,
    /// PREFIX1Warp.nii.gz and PREFIX1InverseWarp.nii.gz (LPS, for antsApplyTransforms).
    #[arg(long)]
    pub out: PathBuf,
    /// Kernel threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// SyN metric (default: the preset's, Mattes MI for `paper` as the paper ran it,
    /// neighbourhood CC for `fast`). The affine stage always uses Mattes MI (32 bins).
    #[arg(long, value_enum)]
    pub metric: Option<Metric>,
    /// CC window radius, voxels (default 2).
    #[arg(long)]
    pub radius: Option<usize>,
    /// Iterations per level, coarse to fine, for both stages.
    #[arg(long, value_parser = Levels::<usize>::from_str)]
    pub iterations: Option<Levels<usize>>,
    /// SyN gradient step: largest update of each half field per iteration, voxels (paper:
    /// 0.1, fast: 0.5).
    #[arg(long)]
    pub step: Option<f32>,
    /// Variance of the SyN update smoothing, voxels² (paper and fast: 3).
    #[arg(long)]
    pub update_variance: Option<f32>,
    /// Variance of the SyN total-field smoothing, voxels² (paper: 0, fast: 0.5).
    #[arg(long)]
    pub total_variance: Option<f32>,
    /// Shrink factors per level (default 4x2x1).
    #[arg(long, value_parser = Levels::<usize>::from_str)]
    pub shrink: Option<Levels<usize>>,
    /// Smoothing sigmas per level, voxels (default 2x1x0).
    #[arg(long, value_parser = Levels::<f32>::from_str)]
    pub smooth: Option<Levels<f32>>,
    /// Run the affine stage only.
    #[arg(long)]
    pub affine_only: bool,
    /// `paper` (Mattes MI, 200x100x50, step 0.1, variances 3 and 0)
    ///  or `fast` (CC, 100x50x10, step 0.5 per half field, variances 3 and 0.5: greedy's).
    #[arg(long, value_enum, default_value_t = Preset::Paper)]
    pub preset: Preset,
}

/// `atlasperf kernel fuse`.
#[derive(Debug, Args)]
pub struct FuseArgs {
    /// Target image (NIfTI); its grid is the output's.
    #[arg(long)]
    pub target: PathBuf,
    /// Atlas images warped into the target space (used by joint label fusion).
    #[arg(long, num_args = 1..)]
    pub atlas_images: Vec<PathBuf>,
    /// Atlas label maps warped into the target space, in the same order.
    #[arg(long, num_args = 1.., required = true)]
    pub atlas_labels: Vec<PathBuf>,
    /// Output segmentation (NIfTI).
    #[arg(long)]
    pub out: PathBuf,
    /// Fusion method.
    #[arg(long, value_enum, default_value_t = FusionMethod::Jlf)]
    pub method: FusionMethod,
    /// JLF patch radius, voxels.
    #[arg(long, default_value_t = 2)]
    pub patch_radius: usize,
    /// JLF search radius, voxels.
    #[arg(long, default_value_t = 3)]
    pub search_radius: usize,
    /// JLF ridge term α.
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// JLF exponent β.
    #[arg(long, default_value_t = 2.0)]
    pub beta: f64,
    /// Reference segmentation: prints the Dice of the fused result.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Kernel threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Label map on the target's grid: voxels where it is 0 take label 0 and cast no votes
    /// (JLF).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Write each label's posterior probability as DIR/posterior_<label>.nii.gz (JLF).
    #[arg(long, value_name = "DIR")]
    pub posteriors: Option<PathBuf>,
}

impl RegisterArgs {
    /// The values given on the command line that replace the preset's.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            metric: self.metric,
            cc_radius: self.radius,
            iterations: self.iterations.clone(),
            shrink: self.shrink.clone(),
            smooth: self.smooth.clone(),
            step: self.step,
            update_variance: self.update_variance,
            total_variance: self.total_variance,
            affine_only: self.affine_only,
        }
    }
}
