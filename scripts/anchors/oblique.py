"""Gives a cohort's subjects oblique orientations, as scanners write them when the slices are
tilted to the head: each subject's image and labels get their grid turned about the grid's
centre by a rotation of that subject's own (the voxels are unchanged), so the header's
direction cosines are oblique and the moving subjects sit rotated against the fixed one.

usage: oblique.py COHORT_DIR    (rewrites subNN_t1.nii.gz and subNN_labels.nii.gz in place)
"""
import glob
import math
import os
import sys

import numpy as np
import SimpleITK as sitk


def rotation(ax, ay, az):
    """Rotation about x, then y, then z (degrees)."""
    x, y, z = (math.radians(a) for a in (ax, ay, az))
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


# The fixed subject tilted as an AC-PC-aligned acquisition is; each moving subject by a
# tilt and turn of its own, 9-12 degrees away from the fixed one's.
ANGLES = [(12.0, 0.0, 4.0), (2.0, 3.0, 0.0), (6.0, -5.0, 8.0), (20.0, 4.0, -3.0), (12.0, 0.0, -6.0)]


def turn(path, r):
    im = sitk.ReadImage(path)
    d = np.array(im.GetDirection()).reshape(3, 3)
    size = np.array(im.GetSize(), dtype=float)
    centre = np.array(im.TransformContinuousIndexToPhysicalPoint(((size - 1) / 2).tolist()))
    nd = r @ d
    spacing = np.array(im.GetSpacing())
    origin = centre - nd @ (spacing * (size - 1) / 2)
    im.SetDirection(nd.flatten().tolist())
    im.SetOrigin(origin.tolist())
    sitk.WriteImage(im, path + ".tmp.nii.gz")
    os.replace(path + ".tmp.nii.gz", path)


def main():
    cohort = sys.argv[1]
    images = sorted(glob.glob(os.path.join(cohort, "sub*_t1.nii.gz")))
    if not images:
        sys.exit(f"{cohort}: no subNN_t1.nii.gz")
    for n, image in enumerate(images):
        r = rotation(*ANGLES[n % len(ANGLES)])
        turn(image, r)
        turn(image.replace("_t1.nii.gz", "_labels.nii.gz"), r)


if __name__ == "__main__":
    main()
