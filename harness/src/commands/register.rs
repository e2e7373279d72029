//! `atlasperf kernel register`: one pairwise registration, the paper's stage-1 job.

use anyhow::Context;
use atlasperf_kernels::eval::dice;
use atlasperf_kernels::registration::itk::prefixed;
use atlasperf_kernels::registration::pipeline::{register, Registration, RegistrationParams};
use atlasperf_kernels::volume::{
    read_image, read_labels, write_displacement, write_image, write_labels,
};
use serde_json::json;

use crate::cli::RegisterArgs;

/// The preset with the command line's overrides, checked; a value out of bounds is a usage
/// error naming its flag.
pub(crate) fn params(a: &RegisterArgs) -> anyhow::Result<RegistrationParams> {
    let p = RegistrationParams::preset(a.preset).with(&a.overrides());
    p.validate().map_err(|e| super::flag_error(&e))?;
    Ok(p)
}

/// Peak resident set size of this process (VmHWM), bytes.
fn peak_rss() -> Option<u64> {
    let status = procfs::process::Process::myself().ok()?.status().ok()?;
    status.vmhwm.map(|kb| kb * 1024)
}

pub(crate) fn run(a: &RegisterArgs) -> anyhow::Result<()> {
    let p = params(a)?;
    let started = std::time::Instant::now();
    let fixed = read_image(&a.fixed)?;
    let moving = read_image(&a.moving)?;
    // Labels on their images' grids, read and checked before any work; then let go and read
    // again once the registration is done, so they are not held through its peak.
    let labels = |path: &Option<std::path::PathBuf>, image, image_path: &std::path::Path| {
        path.as_deref()
            .map(|p| -> anyhow::Result<_> {
                let l = read_labels(p)?;
                super::on_grid(p, &l, image_path, image)?;
                Ok(l)
            })
            .transpose()
    };
    labels(&a.fixed_labels, &fixed, &a.fixed)?;
    labels(&a.moving_labels, &moving, &a.moving)?;
    if let Some(parent) = prefixed(&a.out, "x")
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let interpolation = a.label_interpolation;
    let mut warnings = Vec::new();
    let pool = super::pool(a.threads)?;
    let threads = pool.current_num_threads();
    let reg: Registration = pool.install(|| register(&fixed, &moving, &p))?;
    if p.syn.is_some() && reg.summary.min_jacobian <= 0.0 {
        let w = format!(
            "the deformation folds at {} voxels (min Jacobian {:.3}): labels and images warped \
             through it are unreliable there; see the inversion residuals in the summary",
            reg.summary.folded_voxels, reg.summary.min_jacobian
        );
        eprintln!("warning: {w}");
        warnings.push(w);
    }
    let warped = pool.install(|| reg.warp_image(&moving))?;
    write_image(&prefixed(&a.out, "warped.nii.gz"), &warped)?;
    drop(warped);
    let moving_labels = labels(&a.moving_labels, &moving, &a.moving)?;
    let fixed_labels = labels(&a.fixed_labels, &fixed, &a.fixed)?;
    let mut dice_report = serde_json::Value::Null;
    if let Some(labels) = &moving_labels {
        let warped_labels = pool.install(|| reg.warp_labels(labels, interpolation))?;
        write_labels(&prefixed(&a.out, "warped_labels.nii.gz"), &warped_labels)?;
        if let Some(truth) = &fixed_labels {
            if truth.dims() == labels.dims() && truth.geometry().approx_eq(labels.geometry(), 1e-3)
            {
                let before = dice(truth, labels)?.mean_dice;
                let after = dice(truth, &warped_labels)?.mean_dice;
                dice_report = json!({ "before": before, "after": after });
                println!("mean Dice {before:.4} -> {after:.4}");
            } else {
                dice_report = json!({ "after": dice(truth, &warped_labels)?.mean_dice });
            }
        }
    }
    if p.syn.is_some() {
        let field = pool.install(|| reg.displacement_mm());
        write_displacement(
            &prefixed(&a.out, "warp.nii.gz"),
            &field,
            fixed.dims(),
            fixed.geometry(),
        )?;
    }
    pool.install(|| reg.write_itk(&a.out, p.syn.is_some()))?;
    let affine_path = prefixed(&a.out, "affine.json");
    std::fs::write(&affine_path, serde_json::to_string_pretty(&reg.affine)?)
        .with_context(|| format!("writing {}", affine_path.display()))?;
    let summary = json!({
        "fixed": a.fixed,
        "moving": a.moving,
        "threads": threads,
        "fixed_voxels": fixed.len(),
        "wall_seconds": started.elapsed().as_secs_f64(),
        "peak_rss_bytes": peak_rss(),
        "dice": dice_report,
        "parameters": p,
        "warnings": warnings,
        "label_interpolation": interpolation,
        "stages": reg.summary,
    });
    let summary_path = prefixed(&a.out, "summary.json");
    std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("writing {}", summary_path.display()))?;
    if p.syn.is_some() {
        // The line the harness's report reads (atlasperf_reports::folds).
        println!(
            "{}{:.3}, folded voxels {}",
            atlasperf_reports::folds::LINE_PREFIX,
            reg.summary.min_jacobian,
            reg.summary.folded_voxels
        );
    }
    println!(
        "registered in {:.1} s on {threads} threads; peak RSS {:.0} MB; outputs {}*",
        started.elapsed().as_secs_f64(),
        peak_rss().unwrap_or(0) as f64 / 1e6,
        a.out.display()
    );
    Ok(())
}
