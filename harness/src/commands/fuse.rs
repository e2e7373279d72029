//! `atlasperf kernel fuse`: one label-fusion job, the paper's stage 2.

use atlasperf_kernels::eval::dice;
use atlasperf_kernels::fusion::{
    joint_label_fusion_with, majority_vote, JlfInputs, JlfOptions, JlfParams,
};
use atlasperf_kernels::volume::{read_image, read_labels, write_image, write_labels};
use std::path::{Path, PathBuf};

use atlasperf_kernels::{LabelVolume, Volume};

use atlasperf_kernels::params::FusionMethod;

use crate::cli::FuseArgs;
use crate::error::UsageError;

/// Reads every file with `read` and checks it lies on the target's grid.
fn read_on_grid<T>(
    paths: &[PathBuf],
    read: impl Fn(&Path) -> atlasperf_kernels::Result<Volume<T>>,
    target_path: &Path,
    target: &Volume<f32>,
) -> anyhow::Result<Vec<Volume<T>>> {
    paths
        .iter()
        .map(|p| {
            let v = read(p)?;
            super::on_grid(p, &v, target_path, target)?;
            Ok(v)
        })
        .collect()
}

pub(crate) fn run(a: &FuseArgs) -> anyhow::Result<()> {
    let jlf = a.method == FusionMethod::Jlf;
    if jlf && a.atlas_images.is_empty() {
        return Err(UsageError(
            "joint label fusion needs --atlas-images (one per label map)".into(),
        )
        .into());
    }
    let params = JlfParams {
        patch_radius: a.patch_radius,
        search_radius: a.search_radius,
        alpha: a.alpha,
        beta: a.beta,
    };
    if jlf {
        params.validate().map_err(|e| super::flag_error(&e))?;
    }
    if !a.atlas_images.is_empty() && a.atlas_images.len() != a.atlas_labels.len() {
        return Err(UsageError(format!(
            "{} atlas images but {} atlas label maps: give one image per label map",
            a.atlas_images.len(),
            a.atlas_labels.len()
        ))
        .into());
    }
    if !jlf && (a.mask.is_some() || a.posteriors.is_some()) {
        return Err(
            UsageError("--mask and --posteriors apply to joint label fusion only".into()).into(),
        );
    }
    let started = std::time::Instant::now();
    let target = read_image(&a.target)?;
    if jlf {
        params.check_image(target.dims()).map_err(|e| {
            UsageError(format!(
                "{} ({})",
                super::flag_error(&e),
                a.target.display()
            ))
        })?;
    }
    // The truth's grid is checked before any work from a read that is dropped at once; it
    // is read again for Dice after the atlases are freed, so it never adds to the peak.
    if let Some(t) = &a.truth {
        super::on_grid(t, &read_labels(t)?, &a.target, &target)?;
    }
    let labels = read_on_grid(&a.atlas_labels, read_labels, &a.target, &target)?;
    let images = read_on_grid(&a.atlas_images, read_image, &a.target, &target)?;
    let pool = super::pool(a.threads)?;
    let fused = if jlf {
        let inputs = JlfInputs {
            dims: target.dims(),
            target: target.as_slice(),
            images: images.iter().map(|i| i.as_slice()).collect(),
            labels: labels.iter().map(|l| l.as_slice()).collect(),
        };
        let mask = match &a.mask {
            Some(m) => Some(
                read_on_grid(std::slice::from_ref(m), read_labels, &a.target, &target)?.remove(0),
            ),
            None => None,
        };
        if let Some(dir) = &a.posteriors {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
        }
        let geometry = target.geometry().clone();
        let mut write_posterior = |label: u16, p: Vec<f32>| -> atlasperf_kernels::Result<()> {
            if let Some(dir) = &a.posteriors {
                let v = Volume::from_vec(target.dims(), p, geometry.clone())?;
                write_image(&dir.join(format!("posterior_{label}.nii.gz")), &v)?;
            }
            Ok(())
        };
        let opts = JlfOptions {
            mask: mask.as_ref().map(|m| m.as_slice()),
            posteriors: a.posteriors.is_some().then_some(
                &mut write_posterior
                    as &mut (dyn FnMut(u16, Vec<f32>) -> atlasperf_kernels::Result<()> + Send),
            ),
        };
        let data = pool.install(|| joint_label_fusion_with(&inputs, &params, opts))?;
        LabelVolume::from_vec(target.dims(), data, target.geometry().clone())?
    } else {
        let refs: Vec<_> = labels.iter().collect();
        let mut fused = pool.install(|| majority_vote(&refs))?;
        fused.set_geometry(target.geometry().clone());
        fused
    };
    write_labels(&a.out, &fused)?;
    let atlases = labels.len();
    // The atlases are done with: free them before the truth is read for Dice, so checking
    // the result does not raise the job's peak memory.
    drop((images, labels, target));
    if let Some(truth) = &a.truth {
        let d = dice(&read_labels(truth)?, &fused)?;
        println!("mean Dice {:.4}", d.mean_dice);
    }
    println!(
        "fused {} atlases by {} in {:.2} s: {}",
        atlases,
        if jlf {
            "joint label fusion"
        } else {
            "majority vote"
        },
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}
