//! The 2x2 stride-2 transposed convolution (the U-Net's up-convolution; PyTorch's
//! `ConvTranspose2d(ci, co, 2, stride=2)`): a gemm per image gives the four sub-pixel planes of
//! each output channel, interleaved into the output.

use rayon::prelude::*;

/// 2x2 stride-2 transposed conv of `x` `[b, ci, h, w]` with `wt` `[ci, co*4]` (PyTorch's
/// `[ci, co, 2, 2]`) plus bias, written into channels `0..co` of `out` `[b, cc, 2h, 2w]`. One task
/// per image (its gemm on one thread): the matrices are too small to split well, and images
/// share nothing.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    x: &[f32],
    (b, ci, h, w): (usize, usize, usize, usize),
    wt: &[f32],
    bias: &[f32],
    co: usize,
    out: &mut [f32],
    cc: usize,
) {
    let (hw, co4) = (h * w, co * 4);
    out.par_chunks_mut(cc * 4 * hw)
        .take(b)
        .enumerate()
        .for_each(|(bi, img)| {
            let mut y4 = vec![0f32; co4 * hw];
            // SAFETY: y4 is [co4, hw]; lhs = wt^T (element (q, c) at c * co4 + q); rhs = x[bi]
            // [ci, hw].
            unsafe {
                gemm::gemm(
                    co4,
                    hw,
                    ci,
                    y4.as_mut_ptr(),
                    1,
                    hw as isize,
                    false,
                    wt.as_ptr(),
                    co4 as isize,
                    1,
                    x[bi * ci * hw..].as_ptr(),
                    1,
                    hw as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for (o, plane) in img[..co * 4 * hw].chunks_mut(4 * hw).enumerate() {
                let bo = bias[o];
                for dy in 0..2 {
                    // Sub-pixels (dy, 0) and (dy, 1) interleave into one output row: a pair
                    // at a time, which vectorises (one element at stride 2 does not).
                    let s0 = &y4[(o * 4 + 2 * dy) * hw..(o * 4 + 2 * dy + 1) * hw];
                    let s1 = &y4[(o * 4 + 2 * dy + 1) * hw..(o * 4 + 2 * dy + 2) * hw];
                    for i in 0..h {
                        let row = &mut plane[(2 * i + dy) * 2 * w..(2 * i + dy + 1) * 2 * w];
                        let (r0, r1) = (&s0[i * w..(i + 1) * w], &s1[i * w..(i + 1) * w]);
                        for ((pair, &a), &b2) in row.chunks_exact_mut(2).zip(r0).zip(r1) {
                            pair[0] = a + bo;
                            pair[1] = b2 + bo;
                        }
                    }
                }
            }
        });
}

/// Backward of [`forward`]: from `g` (channels `0..co` of `[b, cc, 2h, 2w]`) the input gradient
/// `[b, ci, h, w]`, the weight gradient `[ci, co*4]` and the bias gradient `[co]`. One task per
/// image; the per-image weight and bias gradients are added in image order (deterministic).
pub fn backward(
    x: &[f32],
    (b, ci, h, w): (usize, usize, usize, usize),
    wt: &[f32],
    co: usize,
    g: &[f32],
    cc: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (hw, co4) = (h * w, co * 4);
    let mut dx = vec![0f32; b * ci * hw];
    let parts: Vec<(Vec<f32>, Vec<f64>)> = dx
        .par_chunks_mut(ci * hw)
        .enumerate()
        .map(|(bi, dxi)| {
            let gi = &g[bi * cc * 4 * hw..(bi * cc + co) * 4 * hw];
            let mut d4 = vec![0f32; co4 * hw];
            let mut db = vec![0f64; co];
            for (o, d) in d4.chunks_mut(4 * hw).enumerate() {
                let plane = &gi[o * 4 * hw..(o + 1) * 4 * hw];
                // The bias gradient: the plane's sum, with lane accumulators.
                let mut lanes = [0f32; 16];
                let chunks = plane.chunks_exact(16);
                let tail: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
                for c in chunks {
                    for (a, &v) in lanes.iter_mut().zip(c) {
                        *a += v;
                    }
                }
                db[o] = lanes.iter().map(|&v| v as f64).sum::<f64>() + tail;
                for dy in 0..2 {
                    // One output row holds sub-pixels (dy, 0) and (dy, 1) interleaved.
                    let (d0, d1) = d[2 * dy * hw..(2 * dy + 2) * hw].split_at_mut(hw);
                    for i in 0..h {
                        let row = &plane[(2 * i + dy) * 2 * w..(2 * i + dy + 1) * 2 * w];
                        let (q0, q1) = (&mut d0[i * w..(i + 1) * w], &mut d1[i * w..(i + 1) * w]);
                        for ((pair, a), b2) in row.chunks_exact(2).zip(q0).zip(q1) {
                            *a = pair[0];
                            *b2 = pair[1];
                        }
                    }
                }
            }
            let xi = &x[bi * ci * hw..(bi + 1) * ci * hw];
            let mut dw = vec![0f32; ci * co4];
            // SAFETY: dx[bi] = wt [ci, co4] x d4 [co4, hw]; dw = x[bi] [ci, hw] x d4^T [hw, co4].
            unsafe {
                gemm::gemm(
                    ci,
                    hw,
                    co4,
                    dxi.as_mut_ptr(),
                    1,
                    hw as isize,
                    false,
                    wt.as_ptr(),
                    1,
                    co4 as isize,
                    d4.as_ptr(),
                    1,
                    hw as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
                gemm::gemm(
                    ci,
                    co4,
                    hw,
                    dw.as_mut_ptr(),
                    1,
                    co4 as isize,
                    false,
                    xi.as_ptr(),
                    1,
                    hw as isize,
                    d4.as_ptr(),
                    hw as isize,
                    1,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            (dw, db)
        })
        .collect();
    let mut dw = vec![0f32; ci * co4];
    let mut db = vec![0f64; co];
    for (pw, pb) in parts {
        dw.iter_mut().zip(&pw).for_each(|(a, v)| *a += v);
        db.iter_mut().zip(&pb).for_each(|(a, v)| *a += v);
    }
    (dx, dw, db.into_iter().map(|v| v as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::normal;

    #[test]
    fn forward_and_backward_match_the_definition() {
        // Output into the first 3 of 5 channels (the decoder buffer holds the skip beside it).
        let (b, ci, h, w, co, cc) = (2, 3, 3, 5, 3, 5);
        let x = normal(b * ci * h * w, 1);
        let wt = normal(ci * co * 4, 2);
        let bias = normal(co, 3);
        let g = normal(b * cc * 4 * h * w, 4);
        let mut out = vec![7f32; b * cc * 4 * h * w];
        forward(&x, (b, ci, h, w), &wt, &bias, co, &mut out, cc);
        let (dx, dw, db) = backward(&x, (b, ci, h, w), &wt, co, &g, cc);
        let (mut rdx, mut rdw, mut rdb) = (vec![0f64; dx.len()], vec![0f64; dw.len()], [0f64; 3]);
        let at = |bi: usize, o: usize, y: usize, x: usize| ((bi * cc + o) * 2 * h + y) * 2 * w + x;
        for bi in 0..b {
            for o in 0..cc {
                for y in 0..2 * h {
                    for xx in 0..2 * w {
                        let got = out[at(bi, o, y, xx)];
                        if o >= co {
                            assert_eq!(got, 7.0, "channel {o} is not the up-conv's");
                            continue;
                        }
                        let (i, j, q) = (y / 2, xx / 2, (y % 2) * 2 + xx % 2);
                        let gv = g[at(bi, o, y, xx)] as f64;
                        rdb[o] += gv;
                        let mut want = bias[o] as f64;
                        for c in 0..ci {
                            let xi = ((bi * ci + c) * h + i) * w + j;
                            let wi = c * co * 4 + o * 4 + q;
                            want += x[xi] as f64 * wt[wi] as f64;
                            rdx[xi] += wt[wi] as f64 * gv;
                            rdw[wi] += x[xi] as f64 * gv;
                        }
                        assert!((got as f64 - want).abs() < 1e-5, "y {got} vs {want}");
                    }
                }
            }
        }
        for (what, ours, want) in [
            ("dx", &dx, &rdx),
            ("dw", &dw, &rdw),
            ("db", &db, &rdb.to_vec()),
        ] {
            for (a, r) in ours.iter().zip(want.iter()) {
                assert!((*a as f64 - r).abs() < 1e-4, "{what}: {a} vs {r}");
            }
        }
    }
}
