#!/usr/bin/env python3
"""Joint label fusion with antsJointFusion at the command line's defaults, passed explicitly
(antspyx's joint_label_fusion defaults differ: beta 4, rho 0.01): beta 2, alpha 0.1, patch
radius 2, search radius 3.

usage: ants_fuse.py TARGET OUT --images I1 I2 ... --labels L1 L2 ... [--mask M]
                    [--truth T --atlasperf EXE]

With --mask, antsJointFusion fuses only where M is non-zero (its -x).

With --truth, the fused segmentation's mean Dice against T is printed as `mean Dice X` (by
`atlasperf eval dice`), the line atlasperf's reports read from a fusion job's output.
"""
import argparse
import json
import subprocess
import sys

from ants.internal import get_lib_fn, process_arguments


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("out")
    ap.add_argument("--images", nargs="+", required=True)
    ap.add_argument("--labels", nargs="+", required=True)
    ap.add_argument("--mask")
    ap.add_argument("--truth")
    ap.add_argument("--atlasperf")
    a = ap.parse_args()
    if len(a.images) != len(a.labels):
        sys.exit(f"{len(a.images)} images but {len(a.labels)} label maps")
    args = ["-d", "3", "-t", a.target, "-b", "2", "-a", "0.1", "-p", "2x2x2", "-s", "3x3x3",
            "-o", a.out]
    if a.mask:
        args += ["-x", a.mask]
    for image, labels in zip(a.images, a.labels):
        args += ["-g", image, "-l", labels]
    code = get_lib_fn("antsJointFusion")(process_arguments(args))
    if code != 0:
        sys.exit(f"antsJointFusion failed with exit code {code}")
    if a.truth and a.atlasperf:
        out = subprocess.run([a.atlasperf, "eval", "dice", "--json", a.truth, a.out],
                             check=True, capture_output=True, text=True).stdout
        print(f"mean Dice {json.loads(out)['mean_dice']:.4f}")


if __name__ == "__main__":
    main()
