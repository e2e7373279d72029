//! Segmentation overlap: Dice similarity coefficient per label,
//! `D = 2|A ∩ B| / (|A| + |B|)` (Dice, Ecology 26(3), 1945), and label volumes.

use serde::Serialize;

use crate::volume::LabelVolume;
use crate::{Error, Result};

/// Dice and volumes of one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelDice {
    /// Label value.
    pub label: u16,
    /// Dice coefficient in [0, 1].
    pub dice: f64,
    /// Voxels with this label in the reference.
    pub truth_voxels: u64,
    /// Voxels with this label in the segmentation.
    pub seg_voxels: u64,
    /// Reference volume, mm³.
    pub truth_mm3: f64,
    /// Segmentation volume, mm³.
    pub seg_mm3: f64,
}

/// Dice for every label present in either volume (background excluded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiceReport {
    /// Unweighted mean of the per-label Dice.
    pub mean_dice: f64,
    /// Per label, ascending by value.
    pub labels: Vec<LabelDice>,
}

impl DiceReport {
    /// Dice of one label, if present.
    pub fn dice_of(&self, label: u16) -> Option<f64> {
        self.labels
            .iter()
            .find(|l| l.label == label)
            .map(|l| l.dice)
    }
}

/// Per-label Dice between a reference and a segmentation on the same grid.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the two grids differ in shape, [`Error::InvalidParameter`]
/// when they differ in placement (spacing, origin or direction beyond 0.001 mm): the same
/// voxel index would be a different place, and the overlap would mean nothing.
pub fn dice(truth: &LabelVolume, seg: &LabelVolume) -> Result<DiceReport> {
    if truth.dims() != seg.dims() {
        return Err(Error::ShapeMismatch {
            what: "Dice between reference and segmentation".into(),
            a: truth.dims(),
            b: seg.dims(),
        });
    }
    if !truth.on_grid_of(seg) {
        return Err(Error::InvalidParameter(format!(
            "Dice between reference and segmentation: different grids, {} vs {}; resample one onto the other first",
            truth.grid_text(),
            seg.grid_text()
        )));
    }
    let n = 1 + truth
        .as_slice()
        .iter()
        .chain(seg.as_slice())
        .copied()
        .max()
        .unwrap_or(0) as usize;
    let mut t = vec![0u64; n];
    let mut s = vec![0u64; n];
    let mut both = vec![0u64; n];
    for (&a, &b) in truth.as_slice().iter().zip(seg.as_slice()) {
        t[a as usize] += 1;
        s[b as usize] += 1;
        if a == b {
            both[a as usize] += 1;
        }
    }
    let vox = truth.geometry().voxel_volume();
    let labels: Vec<LabelDice> = (1..n)
        .filter(|&l| t[l] + s[l] > 0)
        .map(|l| LabelDice {
            label: l as u16,
            dice: 2.0 * both[l] as f64 / (t[l] + s[l]) as f64,
            truth_voxels: t[l],
            seg_voxels: s[l],
            truth_mm3: t[l] as f64 * vox,
            seg_mm3: s[l] as f64 * vox,
        })
        .collect();
    let mean_dice = if labels.is_empty() {
        1.0
    } else {
        labels.iter().map(|l| l.dice).sum::<f64>() / labels.len() as f64
    };
    Ok(DiceReport { mean_dice, labels })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Geometry;

    fn vol(v: Vec<u16>) -> LabelVolume {
        LabelVolume::from_vec([v.len(), 1, 1], v, Geometry::identity()).unwrap()
    }

    #[test]
    fn hand_computed_values() {
        let a = vol(vec![0, 1, 1, 1, 2, 2, 0, 0]);
        let b = vol(vec![0, 1, 1, 0, 2, 0, 3, 0]);
        let r = dice(&a, &b).unwrap();
        assert_eq!(r.dice_of(1), Some(2.0 * 2.0 / 5.0));
        assert_eq!(r.dice_of(2), Some(2.0 * 1.0 / 3.0));
        assert_eq!(r.dice_of(3), Some(0.0));
        assert!((r.mean_dice - (0.8 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(dice(&a, &a).unwrap().mean_dice, 1.0);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        assert!(dice(&vol(vec![0; 4]), &vol(vec![0; 5])).is_err());
    }

    #[test]
    fn same_shape_on_another_grid_is_an_error() {
        let a = vol(vec![1; 4]);
        let b = LabelVolume::from_vec(
            [4, 1, 1],
            vec![1; 4],
            Geometry::from_spacing_origin([2.0, 1.0, 1.0], [0.0; 3]),
        )
        .unwrap();
        let e = dice(&a, &b).unwrap_err().to_string();
        assert!(e.contains("different grids"), "{e}");
    }
}
