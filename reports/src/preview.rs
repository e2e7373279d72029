//! Slice previews: three orthogonal slices of a volume (axial and coronal through the centre,
//! sagittal through the left hemisphere), grey-scale, next to its label
//! map in colour, one row per subject. Volumes arrive as flat buffers in NIfTI memory order
//! (`i` fastest) with their dimensions.

use std::path::Path;

use plotters::prelude::*;

use crate::{ReportError, Result};

/// One subject to preview.
pub struct PreviewSubject<'a> {
    /// Intensities, `i` fastest.
    pub image: &'a [f32],
    /// Labels on the same grid.
    pub labels: &'a [u16],
    /// Grid size.
    pub dims: [usize; 3],
}

/// Distinct colours for labels 1.. (label 0 is black).
const PALETTE: [RGBColor; 15] = [
    RGBColor(230, 190, 140),
    RGBColor(240, 240, 240),
    RGBColor(60, 120, 230),
    RGBColor(200, 70, 70),
    RGBColor(230, 120, 60),
    RGBColor(250, 250, 180),
    RGBColor(200, 230, 120),
    RGBColor(40, 200, 220),
    RGBColor(60, 90, 200),
    RGBColor(0, 150, 70),
    RGBColor(120, 220, 110),
    RGBColor(170, 60, 200),
    RGBColor(230, 130, 230),
    RGBColor(240, 200, 0),
    RGBColor(160, 110, 40),
];

fn label_colour(l: u16) -> RGBColor {
    if l == 0 {
        BLACK
    } else {
        PALETTE[(l as usize - 1) % PALETTE.len()]
    }
}

/// Maps in-slice coordinates `(u, v)`, v upwards, to a flat voxel offset.
type SliceLookup = Box<dyn Fn(usize, usize) -> usize>;

/// The three slices: width, height and lookup.
fn views(dims: [usize; 3]) -> [(usize, usize, SliceLookup); 3] {
    let [nx, ny, nz] = dims;
    let off = move |i: usize, j: usize, k: usize| i + nx * (j + ny * k);
    [
        (nx, ny, Box::new(move |u, v| off(u, v, nz / 2))),
        (nx, nz, Box::new(move |u, v| off(u, ny / 2, v))),
        (ny, nz, Box::new(move |u, v| off(nx * 3 / 8, u, v))),
    ]
}

/// Writes a PNG with, per subject, the axial, coronal and sagittal mid-slices of the image and
/// of the labels, each voxel drawn as `zoom`×`zoom` pixels.
///
/// # Errors
/// Inconsistent buffer sizes, or the PNG cannot be written.
pub fn write_slices_png(path: &Path, subjects: &[PreviewSubject<'_>], zoom: u32) -> Result<()> {
    let first = subjects
        .first()
        .ok_or_else(|| ReportError::Input("no subject to preview".into()))?;
    let dims = first.dims;
    for s in subjects {
        let n = s.dims.iter().product::<usize>();
        if s.dims != dims || s.image.len() != n || s.labels.len() != n {
            return Err(ReportError::Input(format!(
                "preview subjects must share one grid {dims:?} with matching buffers"
            )));
        }
    }
    let gap = 4u32;
    let panel_w: Vec<u32> = views(dims).iter().map(|v| v.0 as u32 * zoom).collect();
    let row_h = dims[1].max(dims[2]) as u32 * zoom;
    let width = 2 * panel_w.iter().sum::<u32>() + gap * 7;
    let height = subjects.len() as u32 * (row_h + gap) + gap;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&RGBColor(20, 20, 20))
        .map_err(|e| ReportError::draw(path, e))?;
    for (row, s) in subjects.iter().enumerate() {
        let mut sorted: Vec<f32> = s.image.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f32::total_cmp);
        let hi = sorted
            .get(sorted.len() * 995 / 1000)
            .copied()
            .unwrap_or(1.0)
            .max(1e-6);
        let y0 = gap + row as u32 * (row_h + gap);
        let mut x0 = gap;
        for (w, h, at) in views(dims) {
            for show_labels in [false, true] {
                for v in 0..h {
                    for u in 0..w {
                        let o = at(u, v);
                        let colour = if show_labels {
                            label_colour(s.labels[o])
                        } else {
                            let g = (s.image[o] / hi).clamp(0.0, 1.0) * 255.0;
                            RGBColor(g as u8, g as u8, g as u8)
                        };
                        let px = x0 + u as u32 * zoom;
                        let py = y0 + row_h - (v as u32 + 1) * zoom;
                        for dy in 0..zoom {
                            for dx in 0..zoom {
                                root.draw_pixel(((px + dx) as i32, (py + dy) as i32), &colour)
                                    .map_err(|e| ReportError::draw(path, e))?;
                            }
                        }
                    }
                }
                x0 += w as u32 * zoom + gap;
            }
        }
    }
    root.present().map_err(|e| ReportError::draw(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_of_the_expected_size() {
        let dims = [6, 5, 4];
        let image: Vec<f32> = (0..120).map(|v| v as f32).collect();
        let labels: Vec<u16> = (0..120).map(|v| (v % 7) as u16).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.png");
        let s = PreviewSubject {
            image: &image,
            labels: &labels,
            dims,
        };
        write_slices_png(&p, &[s], 2).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // IHDR width and height (big-endian) at offsets 16 and 20.
        let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        assert_eq!(w, 2 * (6 + 6 + 5) * 2 + 4 * 7);
        assert_eq!(h, 5 * 2 + 8);
    }

    #[test]
    fn mismatched_buffers_are_rejected() {
        let s = PreviewSubject {
            image: &[0.0; 3],
            labels: &[0; 4],
            dims: [2, 2, 1],
        };
        assert!(write_slices_png(Path::new("/nonexistent/x.png"), &[s], 1).is_err());
    }
}
