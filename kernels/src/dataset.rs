//! Dataset manifests: which subjects a cohort holds and where their files are.
//!
//! ```toml
//! name = "my-study"
//! [[subjects]]
//! id = "s01"
//! image = "images/s01_t1.nii.gz"    # relative to the manifest's folder, or absolute
//! labels = "labels/s01_seg.nii.gz"  # optional for targets, needed for atlases
//! [[labels]]
//! value = 1
//! name = "left-hippocampus"
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use crate::phantom::template::{Template, TemplateCohort};
use crate::phantom::{generate_subject, PhantomSpec, Subject};
use crate::volume::{write_image, write_labels};
use crate::{Error, Result};

/// A cohort of subjects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short name of the dataset.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How the cohort was generated, when it is a phantom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phantom: Option<PhantomSpec>,
    /// Names of label values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<LabelName>,
    /// The subjects.
    pub subjects: Vec<SubjectEntry>,
}

/// One subject's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectEntry {
    /// Unique identifier.
    pub id: String,
    /// Intensity image.
    pub image: PathBuf,
    /// Label map, when the subject can serve as an atlas or has ground truth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<PathBuf>,
}

/// A label value and its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelName {
    /// Label value in the label maps.
    pub value: u16,
    /// Human-readable name.
    pub name: String,
}

/// Longest subject or node id accepted: ids become file names (with prefixes and suffixes)
/// and Slurm job names.
pub const MAX_ID_LEN: usize = 64;

/// Checks that an id is safe to use in file names, folder names and scripts: 1 to
/// [`MAX_ID_LEN`] letters, digits, `.`, `_` or `-`, not starting with `.` or `-`.
///
/// # Errors
/// Why it is not (a phrase to follow the id in a message).
pub fn check_id(id: &str) -> std::result::Result<(), BadId> {
    if id.is_empty() {
        return Err(BadId("is empty".into()));
    }
    if id.len() > MAX_ID_LEN {
        return Err(BadId(format!(
            "is {} characters long; at most {MAX_ID_LEN} are allowed",
            id.len()
        )));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(BadId(format!(
            "contains {c:?}; use letters, digits, `.`, `_` and `-` only"
        )));
    }
    if id.starts_with(['.', '-']) {
        return Err(BadId("must not start with `.` or `-`".into()));
    }
    Ok(())
}

/// Why an id cannot be used as a file name ([`check_id`]): a phrase to follow the id.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadId(pub String);

impl Manifest {
    /// Reads a manifest and resolves relative paths against its folder.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML for a manifest (the error gives line and
    /// column), has no subjects, repeats a subject id or has an id that is not safe in a file
    /// name ([`check_id`]).
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut m: Manifest = toml::from_str(&text).map_err(|e| Error::Manifest {
            path: path.to_owned(),
            error: Box::new(e),
        })?;
        if m.subjects.is_empty() {
            return Err(Error::InvalidParameter(format!(
                "{}: the manifest lists no subjects",
                path.display()
            )));
        }
        let mut seen = BTreeSet::new();
        for s in &m.subjects {
            check_id(&s.id).map_err(|why| {
                Error::InvalidParameter(format!("{}: subject id {:?} {why}", path.display(), s.id))
            })?;
            if !seen.insert(s.id.clone()) {
                return Err(Error::InvalidParameter(format!(
                    "{}: subject id `{}` appears more than once",
                    path.display(),
                    s.id
                )));
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for s in &mut m.subjects {
            s.image = base.join(&s.image);
            s.labels = s.labels.as_ref().map(|l| base.join(l));
        }
        Ok(m)
    }

    /// Writes the manifest as TOML (paths as stored).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::InvalidParameter(format!("cannot serialise manifest: {e}")))?;
        std::fs::write(path, text).map_err(|e| Error::write(path, e))
    }

    /// The subject with this id.
    pub fn subject(&self, id: &str) -> Option<&SubjectEntry> {
        self.subjects.iter().find(|s| s.id == id)
    }
}

/// Writes a cohort into `out`: `subNN_t1.nii.gz`, `subNN_labels.nii.gz` and `manifest.toml`.
/// `progress` is called after each subject with (done, total).
///
/// # Errors
/// Invalid spec, or a file cannot be written.
pub fn write_phantom_cohort(
    spec: &PhantomSpec,
    out: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Manifest> {
    spec.validate()?;
    let manifest = Manifest {
        name: "phantom".into(),
        description: Some(format!(
            "atlasperf phantom cohort: {} subjects, {:?} voxels at {} mm, seed {}",
            spec.subjects, spec.shape, spec.spacing, spec.seed
        )),
        phantom: Some(spec.clone()),
        labels: crate::phantom::anatomy::LABELS
            .iter()
            .map(|(value, name)| LabelName {
                value: *value,
                name: (*name).into(),
            })
            .collect(),
        subjects: Vec::new(),
    };
    write_cohort(
        manifest,
        spec.subjects,
        out,
        &|i| generate_subject(spec, i),
        progress,
    )
}

/// Writes a cohort made from a real template (see [`crate::phantom::template`]) like
/// [`write_phantom_cohort`]; the manifest names the template's folder.
///
/// # Errors
/// A file cannot be written.
pub fn write_template_cohort(
    cohort: &TemplateCohort,
    template: &Template,
    out: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Manifest> {
    let spec = &cohort.spec;
    let manifest = Manifest {
        name: "template".into(),
        description: Some(format!(
            "atlasperf cohort from the template in {}: {} subjects, {:?} voxels at {} mm, seed {}, \
             deformation {} mm",
            template.dir.display(),
            spec.subjects,
            spec.shape,
            spec.spacing,
            spec.seed,
            spec.deformation_mm
        )),
        phantom: None,
        labels: Template::label_names(),
        subjects: Vec::new(),
    };
    write_cohort(
        manifest,
        spec.subjects,
        out,
        &|i| cohort.subject(i),
        progress,
    )
}

/// Generates `count` subjects in parallel, writes their files and `manifest` (given without
/// subjects) into `out`.
fn write_cohort(
    mut manifest: Manifest,
    count: usize,
    out: &Path,
    generate: &(dyn Fn(usize) -> Subject + Sync),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Manifest> {
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    manifest.subjects = (0..count)
        .into_par_iter()
        .map(|index| {
            let id = PhantomSpec::subject_id(index);
            let s = generate(index);
            let image = format!("{id}_t1.nii.gz");
            let labels = format!("{id}_labels.nii.gz");
            write_image(&out.join(&image), &s.image)?;
            write_labels(&out.join(&labels), &s.labels)?;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress(n, count);
            Ok(SubjectEntry {
                id,
                image: image.into(),
                labels: Some(labels.into()),
            })
        })
        .collect::<Result<_>>()?;
    manifest.save(&out.join("manifest.toml"))?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{read_image, read_labels};

    #[test]
    fn relative_paths_resolve_against_manifest_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.toml");
        std::fs::write(&p, "name = \"x\"\n[[subjects]]\nid = \"a\"\nimage = \"a.nii.gz\"\nlabels = \"/abs/a_l.nii\"\n").unwrap();
        let m = Manifest::load(&p).unwrap();
        assert_eq!(m.subjects[0].image, dir.path().join("a.nii.gz"));
        assert_eq!(
            m.subjects[0].labels.as_deref(),
            Some(Path::new("/abs/a_l.nii"))
        );
    }

    #[test]
    fn errors_name_file_and_location() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(
            &p,
            "name = \"x\"\n[[subjects]]\nid = \"a\"\nimgae = \"a.nii\"\n",
        )
        .unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("bad.toml") && e.contains("line 4") && e.contains("imgae"),
            "{e}"
        );
        std::fs::write(&p, "name = \"x\"\n[[subjects]]\nid = \"a\"\nimage = \"a\"\n[[subjects]]\nid = \"a\"\nimage = \"b\"\n").unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(e.contains("more than once"), "{e}");
    }

    #[test]
    fn unsafe_ids_are_refused_with_the_reason() {
        for ok in ["s01", "sub-01_T1.v2", "A"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(MAX_ID_LEN + 1);
        for (bad, why) in [
            ("../../../ESCAPE", "contains '/'"),
            ("a\nrm -rf /", "contains '\\n'"),
            ("a b", "contains ' '"),
            (".hidden", "must not start"),
            ("-rf", "must not start"),
            ("", "is empty"),
            (long.as_str(), "at most 64"),
            ("s\u{e9}", "contains"),
        ] {
            let e = check_id(bad).err().map(|e| e.0).unwrap_or_default();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.toml");
        std::fs::write(
            &p,
            "name = \"x\"\n[[subjects]]\nid = \"../up\"\nimage = \"a\"\n",
        )
        .unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(e.contains("m.toml") && e.contains("\"../up\""), "{e}");
    }

    fn small(seed: u64) -> PhantomSpec {
        PhantomSpec {
            subjects: 2,
            shape: [40, 48, 40],
            spacing: 4.0,
            seed,
            ..PhantomSpec::default()
        }
    }

    #[test]
    fn same_seed_same_files_different_seed_different_subjects() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        write_phantom_cohort(&small(5), a.path(), &|_, _| {}).unwrap();
        write_phantom_cohort(&small(5), b.path(), &|_, _| {}).unwrap();
        write_phantom_cohort(&small(6), c.path(), &|_, _| {}).unwrap();
        for name in ["sub01_t1.nii.gz", "sub02_labels.nii.gz", "manifest.toml"] {
            let fa = std::fs::read(a.path().join(name)).unwrap();
            assert_eq!(
                fa,
                std::fs::read(b.path().join(name)).unwrap(),
                "{name} differs for the same seed"
            );
        }
        let la = read_labels(&a.path().join("sub01_labels.nii.gz")).unwrap();
        let lc = read_labels(&c.path().join("sub01_labels.nii.gz")).unwrap();
        assert_ne!(la, lc, "different seeds gave the same subject");
        let ia = read_image(&a.path().join("sub01_t1.nii.gz")).unwrap();
        assert_eq!(ia.dims(), [40, 48, 40]);
        let m = Manifest::load(&a.path().join("manifest.toml")).unwrap();
        assert_eq!(m.subjects.len(), 2);
        assert_eq!(m.phantom, Some(small(5)));
    }
}
