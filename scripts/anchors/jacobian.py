#!/usr/bin/env python3
"""Smallest Jacobian determinant of an ITK/ANTs warp and how many voxels fold (determinant
<= 0), computed by ANTs from the displacement field on the reference grid.

usage: jacobian.py REFERENCE WARP     prints "MIN FOLDED"
"""
import sys

import ants


def main():
    ref, warp = sys.argv[1:3]
    j = ants.create_jacobian_determinant_image(ants.image_read(ref), warp).numpy()
    print(f"{j.min()} {int((j <= 0).sum())}")


if __name__ == "__main__":
    main()
