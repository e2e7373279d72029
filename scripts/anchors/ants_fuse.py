#!/usr/bin/env python3
"""Joint label fusion with antsJointFusion at the command line's defaults, passed explicitly
(antspyx's joint_label_fusion defaults differ: beta 4, rho 0.01): beta 2, alpha 0.1, patch
radius 2, search radius 3.

usage: ants_fuse.py TARGET OUT IMAGE1 LABELS1 [IMAGE2 LABELS2 ...]
"""
import sys

from ants.internal import get_lib_fn, process_arguments


def main():
    target, out, *pairs = sys.argv[1:]
    if len(pairs) < 2 or len(pairs) % 2:
        sys.exit("usage: ants_fuse.py TARGET OUT IMAGE1 LABELS1 [IMAGE2 LABELS2 ...]")
    args = ["-d", "3", "-t", target, "-b", "2", "-a", "0.1", "-p", "2x2x2", "-s", "3x3x3", "-o", out]
    for image, labels in zip(pairs[::2], pairs[1::2]):
        args += ["-g", image, "-l", labels]
    code = get_lib_fn("antsJointFusion")(process_arguments(args))
    if code != 0:
        sys.exit(f"antsJointFusion failed with exit code {code}")


if __name__ == "__main__":
    main()
