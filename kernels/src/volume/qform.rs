//! The NIfTI-1 qform: quaternion + voxel sizes + offset, converted to and from the affine as
//! nifti1_io's `quatern_to_mat44` and `mat44_to_quatern` do.

use nifti::NiftiHeader;

use super::Geometry;

/// nifti1_io's quatern_to_mat44.
pub(super) fn qform_geometry(h: &NiftiHeader) -> Geometry {
    let (mut b, mut c, mut d) = (
        f64::from(h.quatern_b),
        f64::from(h.quatern_c),
        f64::from(h.quatern_d),
    );
    let mut a = 1.0 - (b * b + c * c + d * d);
    if a < 1e-7 {
        let n = (b * b + c * c + d * d).sqrt();
        (b, c, d) = (b / n, c / n, d / n);
        a = 0.0;
    } else {
        a = a.sqrt();
    }
    let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let s = [h.pixdim[1], h.pixdim[2], h.pixdim[3]].map(|v| f64::from(v.abs()));
    let r = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    let t = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
    Geometry {
        affine: std::array::from_fn(|row| {
            [
                r[row][0] * s[0],
                r[row][1] * s[1],
                r[row][2] * s[2] * qfac,
                t[row],
            ]
        }),
    }
}

/// nifti1_io's mat44_to_quatern for an orthonormal direction; `None` when not orthonormal.
pub(super) fn qform_params(g: &Geometry) -> Option<([f32; 3], f32)> {
    let dir = g.direction();
    // Columns must be orthonormal within a tolerance, or the qform cannot represent the affine.
    for p in 0..3 {
        for q in (p + 1)..3 {
            let dot: f64 = (0..3).map(|r| dir[p][r] * dir[q][r]).sum();
            if dot.abs() > 1e-4 {
                return None;
            }
        }
    }
    // r[row][col] with column c = direction of index axis c.
    let mut r: [[f64; 3]; 3] = std::array::from_fn(|row| std::array::from_fn(|col| dir[col][row]));
    let qfac = if super::geometry::det3(r) < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
    let (mut a, mut b, mut c, mut d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r[2][1] - r[1][2]) / a;
        c = 0.25 * (r[0][2] - r[2][0]) / a;
        d = 0.25 * (r[1][0] - r[0][1]) / a;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r[0][1] + r[1][0]) / b;
            d = 0.25 * (r[0][2] + r[2][0]) / b;
            a = 0.25 * (r[2][1] - r[1][2]) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r[0][1] + r[1][0]) / c;
            d = 0.25 * (r[1][2] + r[2][1]) / c;
            a = 0.25 * (r[0][2] - r[2][0]) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r[0][2] + r[2][0]) / d;
            c = 0.25 * (r[1][2] + r[2][1]) / d;
            a = 0.25 * (r[1][0] - r[0][1]) / d;
        }
        if a < 0.0 {
            (a, b, c, d) = (-a, -b, -c, -d);
        }
    }
    let _ = a;
    Some(([b as f32, c as f32, d as f32], qfac as f32))
}
