#!/usr/bin/env python3
"""Applies atlasperf's transforms in ITK form with real ANTs (antsApplyTransforms through
antspyx) and compares with what atlasperf wrote itself:

- forward: `-r FIXED -i MOVING -t PREFIX1Warp.nii.gz -t PREFIX0GenericAffine.mat`, linear for
  the image (correlation with PREFIXwarped.nii.gz inside the head) and genericLabel for the
  labels (Dice per label with PREFIXwarped_labels.nii.gz, which atlasperf made with
  `--label-interpolation linear`);
- inverse: `-r MOVING -i FIXED -t [PREFIX0GenericAffine.mat,1] -t PREFIX1InverseWarp.nii.gz`,
  the fixed image mapped back onto the moving one (correlation inside the moving head, beside
  the correlation the inverse affine alone gives).

usage: check_itk_transforms.py FIXED MOVING MOVING_LABELS PREFIX
prints "FORWARD_CORR MIN_LABEL_DICE INVERSE_CORR AFFINE_ONLY_INVERSE_CORR"
"""
import sys

import ants
import numpy as np


def corr(a, b, mask):
    return float(np.corrcoef(a[mask], b[mask])[0, 1])


def main():
    fixed, moving, labels, prefix = sys.argv[1:5]
    f, m, lab = ants.image_read(fixed), ants.image_read(moving), ants.image_read(labels)
    forward = [prefix + "1Warp.nii.gz", prefix + "0GenericAffine.mat"]
    image = ants.apply_transforms(fixed=f, moving=m, transformlist=forward,
                                  interpolator="linear").numpy()
    warped_labels = ants.apply_transforms(fixed=f, moving=lab, transformlist=forward,
                                          interpolator="genericLabel").numpy()
    ours = ants.image_read(prefix + "warped.nii.gz").numpy()
    ours_labels = ants.image_read(prefix + "warped_labels.nii.gz").numpy()
    head = f.numpy() > 0.1 * f.numpy().max()
    dice = []
    for v in np.unique(ours_labels):
        if v == 0:
            continue
        a, b = ours_labels == v, warped_labels == v
        dice.append(2.0 * (a & b).sum() / (a.sum() + b.sum()))
    back = ants.apply_transforms(fixed=m, moving=f,
                                 transformlist=[prefix + "0GenericAffine.mat",
                                                prefix + "1InverseWarp.nii.gz"],
                                 whichtoinvert=[True, False], interpolator="linear").numpy()
    affine_back = ants.apply_transforms(fixed=m, moving=f,
                                        transformlist=[prefix + "0GenericAffine.mat"],
                                        whichtoinvert=[True], interpolator="linear").numpy()
    mh = m.numpy() > 0.1 * m.numpy().max()
    print(f"{corr(image, ours, head):.5f} {min(dice):.4f} "
          f"{corr(back, m.numpy(), mh):.4f} {corr(affine_back, m.numpy(), mh):.4f}")


if __name__ == "__main__":
    main()
