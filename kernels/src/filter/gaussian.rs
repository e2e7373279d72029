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

simd_clones! {
/// `out[i] += w · src[i]` over the shorter of the two: the convolutions' one inner loop, with
/// SIMD clones chosen at run time (`simd_clones!`; a multiply and an add, never fused).
fn add_scaled(out: &mut [f32], w: f32, src: &[f32]) {
    let n = out.len().min(src.len());
    let (out, src) = (&mut out[..n], &src[..n]);
    for i in 0..n {
        out[i] += w * src[i];
    }
}
}

/// Copies `line` into the middle of `pad` (longer by the kernel's length less one) and its
/// end values into the margins, so a kernel's taps need no clamping.
fn pad_line(pad: &mut [f32], line: &[f32]) {
    let r = (pad.len() - line.len()) / 2;
    pad[..r].fill(line[0]);
    pad[r..r + line.len()].copy_from_slice(line);
    pad[r + line.len()..].fill(line[line.len() - 1]);
}

/// `out` = `kernel` run along a padded line: taps outside, voxels inside, so the inner loop
/// runs over contiguous voxels and vectorises.
fn convolve_padded(out: &mut [f32], pad: &[f32], kernel: &[f32]) {
    let n = out.len();
    out.fill(0.0);
    for (t, w) in kernel.iter().enumerate() {
        add_scaled(out, *w, &pad[t..t + n]);
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
                pad_line(pad, &src[line * nx..(line + 1) * nx]);
                convolve_padded(out, pad, kernel);
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

/// Smooths `data` in place with per-axis standard deviations `sigma` (voxels). Each pass
/// works from copies of only what it still needs (a line, a slab, or along z the last
/// ⌈3σ⌉ + 1 slabs of each worker's run and the ⌈3σ⌉ slabs beyond its ends), so the extra
/// memory is some slabs, not a second volume; the values are [`convolve_axis`]'s, bit for bit.
pub fn smooth(data: &mut [f32], dims: [usize; 3], sigma: [f32; 3]) {
    for (axis, s) in sigma.iter().enumerate() {
        if *s > 0.0 && dims[axis] >= 2 {
            convolve_axis_in_place(data, dims, axis, &gaussian_kernel(*s));
        }
    }
}

/// [`convolve_axis`] with `data` as both source and destination.
fn convolve_axis_in_place(data: &mut [f32], dims: [usize; 3], axis: usize, kernel: &[f32]) {
    let [nx, ny, nz] = dims;
    let r = kernel.len() / 2;
    let clamp = |v: usize, n: usize| (v.max(r) - r).min(n - 1);
    match axis {
        0 => data.par_chunks_mut(nx).for_each_init(
            || vec![0.0f32; nx + kernel.len()],
            |pad, row| {
                pad_line(pad, row);
                convolve_padded(row, pad, kernel);
            },
        ),
        1 => data.par_chunks_mut(nx * ny).for_each_init(
            || vec![0.0f32; nx * ny],
            |copy, slab| {
                copy.copy_from_slice(slab);
                for j in 0..ny {
                    let out = &mut slab[j * nx..(j + 1) * nx];
                    out.fill(0.0);
                    for (t, w) in kernel.iter().enumerate() {
                        let jj = clamp(j + t, ny);
                        add_scaled(out, *w, &copy[jj * nx..(jj + 1) * nx]);
                    }
                }
            },
        ),
        _ => {
            // Each worker walks a run of slabs in order: slab k's new values need the old
            // slabs k − r … k + r, and those up to k are overwritten by then, so the last r + 1
            // old slabs are kept in a ring. The r old slabs beyond each end of a run, which
            // the neighbouring run overwrites, are copied before any run starts.
            let s = nx * ny;
            let per_run = nz.div_ceil(rayon::current_num_threads().max(1)).max(r + 1);
            let halos: Vec<(Vec<f32>, Vec<f32>)> = (0..nz.div_ceil(per_run))
                .map(|run| {
                    let (k0, k1) = (run * per_run, ((run + 1) * per_run).min(nz));
                    let copy = |ks: std::ops::Range<usize>| {
                        ks.flat_map(|kk| data[kk * s..(kk + 1) * s].iter().copied())
                            .collect::<Vec<f32>>()
                    };
                    (copy(k0.saturating_sub(r)..k0), copy(k1..(k1 + r).min(nz)))
                })
                .collect();
            data.par_chunks_mut(per_run * s)
                .zip(halos.par_iter())
                .enumerate()
                .for_each(|(run, (chunk, (below, above)))| {
                    let k0 = run * per_run;
                    let k1 = k0 + chunk.len() / s;
                    let mut ring = vec![0.0f32; (r + 1) * s];
                    let mut out = vec![0.0f32; s];
                    for k in k0..k1 {
                        let slot = k % (r + 1);
                        let local = (k - k0) * s;
                        ring[slot * s..(slot + 1) * s].copy_from_slice(&chunk[local..local + s]);
                        out.fill(0.0);
                        for (t, w) in kernel.iter().enumerate() {
                            let kk = clamp(k + t, nz);
                            let src = if kk < k0 {
                                let at = (kk + r - k0) * s;
                                &below[at..at + s]
                            } else if kk >= k1 {
                                &above[(kk - k1) * s..(kk - k1 + 1) * s]
                            } else if kk <= k {
                                &ring[kk % (r + 1) * s..(kk % (r + 1) + 1) * s]
                            } else {
                                &chunk[(kk - k0) * s..(kk - k0 + 1) * s]
                            };
                            add_scaled(&mut out, *w, src);
                        }
                        chunk[local..local + s].copy_from_slice(&out);
                    }
                });
        }
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
        smooth(&mut got, dims, [1.0, 1.5, 0.7]);
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
            pool.install(|| smooth(&mut v, dims, [2.0, 1.0, 1.5]));
            v
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn in_place_passes_are_the_two_buffer_convolutions_bit_for_bit() {
        // A z extent shorter and longer than the kernel, a sigma whose radius exceeds the
        // grid along some axes, and runs of slabs for 1 to 3 workers.
        for (dims, sigma) in [
            ([17, 5, 23], [1.3, 2.0, 1.7]),
            ([6, 9, 4], [2.5, 0.8, 3.0]),
            ([5, 4, 40], [0.0, 0.0, 1.2]),
        ] {
            let src = random_volume(dims, 5);
            let mut want = src.clone();
            let mut other = vec![0.0; src.len()];
            for (axis, s) in sigma.iter().enumerate() {
                convolve_axis(&want, &mut other, dims, axis, &gaussian_kernel(*s));
                std::mem::swap(&mut want, &mut other);
            }
            for threads in 1..=3 {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut got = src.clone();
                pool.install(|| smooth(&mut got, dims, sigma));
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{dims:?}, {threads} threads");
            }
        }
    }

    #[test]
    fn constant_stays_constant() {
        let dims = [8, 9, 10];
        let mut v = vec![3.5f32; 720];
        smooth(&mut v, dims, [2.0, 2.0, 2.0]);
        assert!(v.iter().all(|x| (x - 3.5).abs() < 1e-5));
    }
}
