#!/usr/bin/env python3
"""Register MOVING to FIXED with greedy's usual settings: affine (NMI, 100x50x10) then
deformable (NCC 2x2x2, 100x50x10, smoothing 1.732/0.707 vox), then warp the image and
labels (LABEL interpolation).

usage: greedy_register.py FIXED MOVING MOVING_LABELS PREFIX THREADS
"""
import sys

from picsl_greedy import Greedy3D


def main():
    fixed, moving, labels, prefix, threads = sys.argv[1:6]
    g = Greedy3D()
    g.execute(f"-d 3 -threads {threads} -a -dof 12 -i {fixed} {moving} -o {prefix}affine.mat "
              f"-m NMI -n 100x50x10 -ia-image-centers")
    g.execute(f"-d 3 -threads {threads} -i {fixed} {moving} -it {prefix}affine.mat "
              f"-o {prefix}warp.nii.gz -m NCC 2x2x2 -n 100x50x10 -s 1.732vox 0.707vox")
    g.execute(f"-d 3 -threads {threads} -rf {fixed} -rm {moving} {prefix}warped.nii.gz "
              f"-ri LABEL 0.2vox -rm {labels} {prefix}warped_labels.nii.gz "
              f"-r {prefix}warp.nii.gz {prefix}affine.mat")


if __name__ == "__main__":
    main()
