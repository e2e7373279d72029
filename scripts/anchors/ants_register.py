#!/usr/bin/env python3
"""Register MOVING to FIXED with antsRegistration exactly as Zhang et al. ran it (paper II-A):
centre-of-mass initialisation; Affine[0.1] with Mattes MI (32 bins) then SyN[0.1, 3, 0] with
Mattes MI; 3 levels 200x100x50, shrink 4x2x1, smoothing 2x1x0 voxels, convergence 1e-6 over
10 iterations. All parameters are passed explicitly (antspyx's "SyN" defaults differ). Then
warps MOVING_LABELS with LABEL_INTERPOLATOR (nearestNeighbor unless given; genericLabel
interpolates each label linearly).

usage: ants_register.py FIXED MOVING MOVING_LABELS PREFIX [LABEL_INTERPOLATOR]
"""
import sys

import ants


def main():
    fixed, moving, labels, prefix = sys.argv[1:5]
    label_interpolator = sys.argv[5] if len(sys.argv) > 5 else "nearestNeighbor"
    stage = ["--convergence", "[200x100x50,1e-6,10]", "--shrink-factors", "4x2x1",
             "--smoothing-sigmas", "2x1x0vox"]
    args = ["--dimensionality", "3", "--float", "1",
            "--output", f"[{prefix},{prefix}warped.nii.gz]",
            "--interpolation", "Linear",
            "--initial-moving-transform", f"[{fixed},{moving},1]",
            "--transform", "Affine[0.1]",
            "--metric", f"MI[{fixed},{moving},1,32,Regular,0.25]", *stage,
            "--transform", "SyN[0.1,3,0]",
            "--metric", f"MI[{fixed},{moving},1,32]", *stage]
    ants.registration(args, None)
    warped = ants.apply_transforms(
        fixed=ants.image_read(fixed), moving=ants.image_read(labels),
        transformlist=[f"{prefix}1Warp.nii.gz", f"{prefix}0GenericAffine.mat"],
        interpolator=label_interpolator)
    ants.image_write(warped, f"{prefix}warped_labels.nii.gz")


if __name__ == "__main__":
    main()
