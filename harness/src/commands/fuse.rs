//! `atlasperf kernel fuse`: one label-fusion job, the paper's stage 2.

use atlasperf_kernels::eval::dice;
use atlasperf_kernels::fusion::{joint_label_fusion, majority_vote, JlfInputs, JlfParams};
use atlasperf_kernels::volume::{read_image, read_labels, write_labels};
use atlasperf_kernels::LabelVolume;

use crate::cli::{FuseArgs, FuseMethod, UsageError};

pub(crate) fn run(a: &FuseArgs) -> anyhow::Result<()> {
    let jlf = a.method == FuseMethod::Jlf;
    if jlf && a.atlas_images.is_empty() {
        return Err(UsageError(
            "joint label fusion needs --atlas-images (one per label map)".into(),
        )
        .into());
    }
    if !(a.alpha.is_finite() && a.alpha > 0.0 && a.beta.is_finite() && a.beta > 0.0) {
        return Err(UsageError("--alpha and --beta must be > 0".into()).into());
    }
    if !a.atlas_images.is_empty() && a.atlas_images.len() != a.atlas_labels.len() {
        return Err(UsageError(format!(
            "{} atlas images but {} atlas label maps: give one image per label map",
            a.atlas_images.len(),
            a.atlas_labels.len()
        ))
        .into());
    }
    let started = std::time::Instant::now();
    let target = read_image(&a.target)?;
    let labels = a
        .atlas_labels
        .iter()
        .map(|p| read_labels(p))
        .collect::<Result<Vec<_>, _>>()?;
    for (p, l) in a.atlas_labels.iter().zip(&labels) {
        if l.dims() != target.dims() {
            return Err(UsageError(format!(
                "{}: grid {:?} differs from the target's {:?}; warp the atlases into the target space first",
                p.display(),
                l.dims(),
                target.dims()
            ))
            .into());
        }
    }
    let images = a
        .atlas_images
        .iter()
        .map(|p| read_image(p))
        .collect::<Result<Vec<_>, _>>()?;
    for (p, i) in a.atlas_images.iter().zip(&images) {
        if i.dims() != target.dims() {
            return Err(UsageError(format!(
                "{}: grid {:?} differs from the target's {:?}",
                p.display(),
                i.dims(),
                target.dims()
            ))
            .into());
        }
    }
    let pool = super::pool(a.threads)?;
    let fused = if jlf {
        let inputs = JlfInputs {
            dims: target.dims(),
            target: target.as_slice(),
            images: images.iter().map(|i| i.as_slice()).collect(),
            labels: labels.iter().map(|l| l.as_slice()).collect(),
        };
        let params = JlfParams {
            patch_radius: a.patch_radius,
            search_radius: a.search_radius,
            alpha: a.alpha,
            beta: a.beta,
        };
        let data = pool.install(|| joint_label_fusion(&inputs, &params))?;
        LabelVolume::from_vec(target.dims(), data, target.geometry().clone())?
    } else {
        let refs: Vec<_> = labels.iter().collect();
        let mut fused = pool.install(|| majority_vote(&refs))?;
        fused.set_geometry(target.geometry().clone());
        fused
    };
    write_labels(&a.out, &fused)?;
    if let Some(truth) = &a.truth {
        let d = dice(&read_labels(truth)?, &fused)?;
        println!("mean Dice {:.4}", d.mean_dice);
    }
    println!(
        "fused {} atlases by {} in {:.2} s: {}",
        labels.len(),
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
