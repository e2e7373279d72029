//! `atlasperf phantom`: write a phantom cohort.

use anyhow::Context;
use std::path::Path;

use atlasperf_kernels::dataset::Manifest;
use atlasperf_kernels::dataset::{write_phantom_cohort, write_template_cohort};
use atlasperf_kernels::phantom::template::{Template, TemplateCohort};
use atlasperf_kernels::phantom::{min_jacobian, PhantomSpec};
use atlasperf_kernels::volume::{read_image, read_labels};
use atlasperf_reports::preview::{write_slices_png, PreviewSubject};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::PhantomArgs;
use crate::error::UsageError;

pub(crate) fn run(args: &PhantomArgs) -> anyhow::Result<()> {
    let spec = PhantomSpec {
        subjects: args.subjects,
        shape: args.shape,
        spacing: args.spacing,
        seed: args.seed,
        deformation_mm: args.deformation,
        ..PhantomSpec::default()
    };
    let template = match &args.template {
        Some(dir) => {
            let t = Template::load(dir).map_err(|e| UsageError(e.to_string()))?;
            let cohort =
                TemplateCohort::new(&t, spec.clone()).map_err(|e| UsageError(e.to_string()))?;
            Some((t, cohort))
        }
        None => {
            spec.validate().map_err(|e| UsageError(e.to_string()))?;
            None
        }
    };
    let spec = template.as_ref().map_or(spec, |(_, c)| c.spec.clone());
    let bar = ProgressBar::new(spec.subjects as u64).with_style(ProgressStyle::with_template(
        "{msg} [{bar:30}] {pos}/{len} subjects, {elapsed}",
    )?);
    bar.set_message(if template.is_some() {
        "generating cohort from the template"
    } else {
        "generating phantom cohort"
    });
    let started = std::time::Instant::now();
    let progress = |done: usize, _| bar.set_position(done as u64);
    let manifest = super::pool(args.threads)?
        .install(|| match &template {
            Some((t, cohort)) => write_template_cohort(cohort, t, &args.out, &progress),
            None => write_phantom_cohort(&spec, &args.out, &progress),
        })
        .with_context(|| format!("writing phantom cohort to {}", args.out.display()))?;
    bar.finish_and_clear();
    let jmin = (0..spec.subjects)
        .map(|i| min_jacobian(&spec, &spec.transform(i)))
        .fold(f64::MAX, f64::min);
    println!(
        "wrote {} subjects ({}×{}×{} voxels at {} mm) to {} in {:.1} s; min Jacobian determinant {:.3}",
        manifest.subjects.len(),
        spec.shape[0],
        spec.shape[1],
        spec.shape[2],
        spec.spacing,
        args.out.display(),
        started.elapsed().as_secs_f64(),
        jmin
    );
    println!("manifest: {}", args.out.join("manifest.toml").display());
    let preview = args.out.join("preview.png");
    write_preview(&manifest, &args.out, &preview)?;
    println!("preview:  {}", preview.display());
    Ok(())
}

/// Mid-slices of the first three subjects, image and labels side by side.
fn write_preview(manifest: &Manifest, dir: &Path, png: &Path) -> anyhow::Result<()> {
    let mut loaded = Vec::new();
    for s in manifest.subjects.iter().take(3) {
        let image = read_image(&dir.join(&s.image))?;
        let labels = match &s.labels {
            Some(l) => read_labels(&dir.join(l))?,
            None => image.same_grid(0u16),
        };
        loaded.push((image, labels));
    }
    let subjects: Vec<PreviewSubject<'_>> = loaded
        .iter()
        .map(|(image, labels)| PreviewSubject {
            image: image.as_slice(),
            labels: labels.as_slice(),
            dims: image.dims(),
        })
        .collect();
    write_slices_png(png, &subjects, 2)?;
    Ok(())
}
