//! `atlasperf kernel fuse`: one label-fusion job, the paper's stage 2.

use atlasperf_kernels::eval::dice;
use atlasperf_kernels::fusion::majority_vote;
use atlasperf_kernels::volume::{read_image, read_labels, write_labels};

use crate::cli::{FuseArgs, FuseMethod, UsageError};

pub(crate) fn run(a: &FuseArgs) -> anyhow::Result<()> {
    if a.method == FuseMethod::Jlf {
        return Err(UsageError(
            "joint label fusion is not implemented yet in this version; use --method majority"
                .into(),
        )
        .into());
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
    let refs: Vec<_> = labels.iter().collect();
    let mut fused = super::pool(a.threads)?.install(|| majority_vote(&refs))?;
    fused.set_geometry(target.geometry().clone());
    write_labels(&a.out, &fused)?;
    if let Some(truth) = &a.truth {
        let d = dice(&read_labels(truth)?, &fused)?;
        println!("mean Dice {:.4}", d.mean_dice);
    }
    println!(
        "fused {} atlases by majority vote in {:.2} s: {}",
        labels.len(),
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}
