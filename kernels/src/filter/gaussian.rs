//! Separable Gaussian smoothing with replicated (zero-flux Neumann) boundaries, as ITK's
//! discrete Gaussian filter treats image edges. The kernel is the sampled Gaussian truncated
//! at ⌈3σ⌉ and normalised to sum 1.

use rayon::prelude::*;

/// Normalised sampled Gaussian of standard deviation `sigma` (voxels), radius ⌈3σ⌉.
/// `sigma <= 0` gives the identity kernel `[1]`.
pub fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return vec![1.0];
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|t| (-(t * t) as f64 / (2.0 * f64::from(sigma) * f64::from(sigma))).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// `out[i] += w · src[i]` over the shorter of the two: the convolutions' one inner loop,
/// compiled for AVX-512 and AVX2 besides the baseline and chosen at run time (a multiply and
/// an add, never fused, so every build gives the same bits).
#[multiversion::multiversion(
    targets(
        "x86_64+avx512f+avx512vl+avx512dq+avx512bw+avx2+fma+bmi1+bmi2+lzcnt+popcnt",
        "x86_64+avx2+fma+bmi1+bmi2+lzcnt+popcnt"
    ),
    dispatcher = "direct"
)]
fn add_scaled(out: &mut [f32], w: f32, src: &[f32]) {
    let n = out.len().min(src.len());
    let (out, src) = (&mut out[..n], &src[..n]);
    for i in 0..n {
        out[i] += w * src[i];
    }
}

/// Convolves `src` along `axis` with a centred odd-length `kernel` into `dst`.
pub fn convolve_axis(src: &[f32], dst: &mut [f32], dims: [usize; 3], axis: usize, kernel: &[f32]) {
    let [nx, ny, nz] = dims;
    let r = (kernel.len() / 2) as isize;
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    match axis {
        // Each line is copied into a buffer padded with its edge values, so the taps need no
        // clamping; the buffer is reused across the lines a worker handles.
        0 => dst.par_chunks_mut(nx).enumerate().for_each_init(
            || vec![0.0f32; nx + kernel.len()],
            |pad, (line, out)| {
                let row = &src[line * nx..(line + 1) * nx];
                let r = r as usize;
                pad[..r].fill(row[0]);
                pad[r..r + nx].copy_from_slice(row);
                pad[r + nx..].fill(row[nx - 1]);
                // Taps outside, voxels inside: the inner loop runs over contiguous voxels
                // and vectorises.
                out.fill(0.0);
                for (t, w) in kernel.iter().enumerate() {
                    add_scaled(out, *w, &pad[t..t + nx]);
                }
            },
        ),
        1 => dst
            .par_chunks_mut(nx * ny)
            .enumerate()
            .for_each(|(k, slab)| {
                let base = k * nx * ny;
                for j in 0..ny {
                    let out = &mut slab[j * nx..(j + 1) * nx];
                    out.fill(0.0);
                    for (t, w) in kernel.iter().enumerate() {
                        let jj = clamp(j as isize + t as isize - r, ny);
                        add_scaled(out, *w, &src[base + jj * nx..base + (jj + 1) * nx]);
                    }
                }
            }),
        _ => dst
            .par_chunks_mut(nx * ny)
            .enumerate()
            .for_each(|(k, out)| {
                out.fill(0.0);
                for (t, w) in kernel.iter().enumerate() {
                    let kk = clamp(k as isize + t as isize - r, nz);
                    add_scaled(out, *w, &src[kk * nx * ny..(kk + 1) * nx * ny]);
                }
            }),
    }
}

/// Smooths `data` in place with per-axis standard deviations `sigma` (voxels), using
/// `scratch` (resized as needed) as the only extra buffer.
pub fn smooth(data: &mut [f32], dims: [usize; 3], sigma: [f32; 3], scratch: &mut Vec<f32>) {
    scratch.resize(data.len(), 0.0);
    // Passes alternate between `data` and `scratch`; one copy at the end when an odd number
    // of passes left the result in `scratch`.
    let mut in_scratch = false;
    for (axis, s) in sigma.iter().enumerate() {
        if *s <= 0.0 || dims[axis] < 2 {
            continue;
        }
        let kernel = gaussian_kernel(*s);
        if in_scratch {
            convolve_axis(scratch, data, dims, axis, &kernel);
        } else {
            convolve_axis(data, scratch, dims, axis, &kernel);
        }
        in_scratch = !in_scratch;
    }
    if in_scratch {
        data.copy_from_slice(scratch);
    }
}

/// Plain 3-D convolution with the outer product of the three 1-D kernels: the reference the
/// separable [`smooth`] is tested against. O(voxels × kernel³); for small volumes only.
pub fn smooth_reference(data: &[f32], dims: [usize; 3], sigma: [f32; 3]) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let ks: Vec<Vec<f32>> = sigma
        .iter()
        .enumerate()
        .map(|(a, s)| {
            if dims[a] < 2 {
                vec![1.0]
            } else {
                gaussian_kernel(*s)
            }
        })
        .collect();
    let r: Vec<isize> = ks.iter().map(|k| (k.len() / 2) as isize).collect();
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut out = vec![0.0f32; data.len()];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let mut acc = 0.0f64;
                for (c, wz) in ks[2].iter().enumerate() {
                    let kk = clamp(k as isize + c as isize - r[2], nz);
                    for (b, wy) in ks[1].iter().enumerate() {
                        let jj = clamp(j as isize + b as isize - r[1], ny);
                        for (a, wx) in ks[0].iter().enumerate() {
                            let ii = clamp(i as isize + a as isize - r[0], nx);
                            acc +=
                                f64::from(wz * wy * wx) * f64::from(data[ii + nx * (jj + ny * kk)]);
                        }
                    }
                }
                out[i + nx * (j + ny * k)] = acc as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_volume(dims: [usize; 3], seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..dims.iter().product::<usize>())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect()
    }

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        for s in [0.5f32, 1.0, 2.0, 3.3] {
            let k = gaussian_kernel(s);
            assert_eq!(k.len() % 2, 1);
            assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            for t in 0..k.len() / 2 {
                assert_eq!(k[t], k[k.len() - 1 - t]);
            }
        }
        assert_eq!(gaussian_kernel(0.0), vec![1.0]);
    }

    #[test]
    fn separable_matches_reference() {
        let seed = 7;
        let dims = [13, 11, 9];
        let src = random_volume(dims, seed);
        let want = smooth_reference(&src, dims, [1.0, 1.5, 0.7]);
        let mut got = src.clone();
        smooth(&mut got, dims, [1.0, 1.5, 0.7], &mut Vec::new());
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-5, "seed {seed}: max abs difference {max}");
    }

    #[test]
    fn parallel_equals_serial_bitwise() {
        let dims = [40, 30, 20];
        let src = random_volume(dims, 11);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut v = src.clone();
            pool.install(|| smooth(&mut v, dims, [2.0, 1.0, 1.5], &mut Vec::new()));
            v
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn constant_stays_constant() {
        let dims = [8, 9, 10];
        let mut v = vec![3.5f32; 720];
        smooth(&mut v, dims, [2.0, 2.0, 2.0], &mut Vec::new());
        assert!(v.iter().all(|x| (x - 3.5).abs() < 1e-5));
    }
}
