//! The weight gradient of the 3x3 convolution (stride 1, zero padding 1) as a direct kernel. A
//! training step uses it below 32 input channels, where Winograd's transforms cost more than
//! they save (`conv/mod.rs`).
//!
//! dW `[cout, cin*9]` is a `cout x cin x 9` set of dot products of length b h w: as a gemm its
//! m and n are tiny (16 x 16 at full resolution) and its k huge, so gemm spends its time packing.
//! Here the image is cut into blocks of rows; each block's input rows (zero-padded, row pitch
//! w + 2) and output-gradient rows (same pitch, the two extra columns zero) are copied into a
//! small scratch that stays in cache, where tap (ky, kx) is the input read at the constant offset
//! ky (w + 2) + kx. A micro-kernel then keeps 4 output channels x 3 taps of one input channel in
//! 12 vector registers (8 x 3 in 24 with AVX-512VL) over the whole block, sums their lanes in a
//! fixed order and adds them to the group's partial.
//!
//! Determinism: the blocks are split into [`PARTS`] fixed consecutive groups whatever the thread
//! count; each group sums its blocks in order, and the groups are added in index order.

use rayon::prelude::*;

use super::{bands, padded_rows};
use crate::{ConvShape, Kernel};

/// Fixed number of partial sums (a static split: the bits do not depend on the thread count).
const PARTS: usize = 8;

/// Vector width of the accumulators (AVX2: 8 f32).
const LANES: usize = 8;

/// Most output channels per micro-kernel call (the gradient rows held in registers).
const MAX_OB: usize = 8;

/// Floats of one block's gradient row the micro-kernel streams (its 4 rows and the input row
/// must stay in L1 across the 3 vertical taps).
const ROW_FLOATS: usize = 1200;

/// Floats of one block's scratch (input and gradient rows of every channel), to stay in L2.
const BLOCK_FLOATS: usize = 128 * 1024;

/// Rows per block for `cin` + `cout` channels of row pitch `wp`.
fn block_rows(cin: usize, cout: usize, h: usize, wp: usize) -> usize {
    let by_l1 = ROW_FLOATS / wp;
    let by_l2 = (BLOCK_FLOATS / ((cin + cout) * wp)).saturating_sub(2);
    by_l1.min(by_l2).clamp(1, h.max(1))
}

/// The blocks (image, first row, rows) of `s`'s input and output gradient (tests check that
/// they span several).
pub(crate) fn blocks(s: ConvShape) -> Vec<(usize, usize, usize)> {
    bands(s.batch, s.h, block_rows(s.cin, s.cout, s.h, s.w + 2))
}

/// dW `[cout, cin*9]` of y = conv3x3(x `[batch, cin, h, w]`) from the output gradient g
/// `[batch, cout, h, w]`, with the fastest kernel of this CPU.
pub fn weight_grad(x: &[f32], g: &[f32], s: ConvShape) -> Vec<f32> {
    weight_grad_with(x, g, s, Kernel::detect())
}

/// [`weight_grad`] with a chosen kernel (tests and benches compare them; `kernel` must be one
/// of [`Kernel::available`]).
pub fn weight_grad_with(x: &[f32], g: &[f32], s: ConvShape, kernel: Kernel) -> Vec<f32> {
    assert!(kernel.supported(), "{kernel:?} on a CPU without it");
    let ConvShape {
        batch: b,
        cin,
        cout,
        h,
        w,
    } = s;
    let k = cin * 9;
    if b * h * w == 0 || cin == 0 || cout == 0 {
        return vec![0f32; cout * k];
    }
    let all = blocks(s);
    let per = all.len().div_ceil(PARTS);
    let partials: Vec<Vec<f32>> = all
        .par_chunks(per)
        .map(|group| part(x, g, (cin, cout, h, w), group, kernel))
        .collect();
    let mut it = partials.into_iter();
    let mut sum = it.next().unwrap_or_else(|| vec![0f32; cout * k]);
    for p in it {
        sum.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
    sum
}

/// One group's partial dW `[cout, cin*9]`: its blocks summed in order into per-lane
/// accumulators, whose lanes are then added in a fixed order.
fn part(
    x: &[f32],
    g: &[f32],
    (cin, cout, h, w): (usize, usize, usize, usize),
    group: &[(usize, usize, usize)],
    kernel: Kernel,
) -> Vec<f32> {
    let wp = w + 2;
    let hw = h * w;
    let obn = kernel.ob();
    let cout4 = cout.div_ceil(obn) * obn;
    let rows = group.iter().map(|t| t.2).max().unwrap_or(1);
    // Gradient rows: rounded up to whole vectors; input rows: 2 more rows (the vertical taps)
    // and room for the last vector's horizontal taps.
    let gl_max = (rows * wp).div_ceil(LANES) * LANES;
    let xl = (rows + 2) * wp + LANES + 2;
    let mut xs = vec![0f32; cin * xl];
    // Planes cout..cout4 stay zero: their results are dropped.
    let mut gs = vec![0f32; cout4 * gl_max];
    let mut acc = vec![0f32; cout4 * cin * 9];
    for &(bi, r0, n) in group {
        let gl = (n * wp).div_ceil(LANES) * LANES;
        for c in 0..cin {
            let src = &x[(bi * cin + c) * hw..(bi * cin + c + 1) * hw];
            let dst = &mut xs[c * xl..(c + 1) * xl];
            padded_rows(src, (h, w), r0, n, dst);
        }
        for o in 0..cout {
            let src = &g[(bi * cout + o) * hw..(bi * cout + o + 1) * hw];
            let dst = &mut gs[o * gl_max..o * gl_max + gl];
            for j in 0..n {
                let row = &mut dst[j * wp..(j + 1) * wp];
                row[..w].copy_from_slice(&src[(r0 + j) * w..(r0 + j + 1) * w]);
                row[w..].fill(0.0);
            }
            dst[n * wp..].fill(0.0);
        }
        for ob in (0..cout4).step_by(obn) {
            let grows: Vec<&[f32]> = (0..obn)
                .map(|i| &gs[(ob + i) * gl_max..(ob + i) * gl_max + gl])
                .collect();
            for c in 0..cin {
                for ky in 0..3 {
                    let xrow = &xs[c * xl + ky * wp..c * xl + ky * wp + gl + 2];
                    let sums = micro(kernel, &grows, [xrow, &xrow[1..], &xrow[2..]]);
                    for (i, s3) in sums[..3 * obn].chunks_exact(3).enumerate() {
                        let a = ((ob + i) * cin + c) * 9 + ky * 3;
                        for (d, v) in acc[a..a + 3].iter_mut().zip(s3) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
    acc.truncate(cout * cin * 9);
    acc
}

/// [3 i + k] = sum over p of g[i][p] x[k][p], for p < g[i].len() (a multiple of [`LANES`]),
/// summed per lane and then across lanes in a fixed order; g has `kernel.ob()` rows. (Here the
/// three x rows are one input row shifted by the taps kx; `winograd/` passes three channels.)
/// `kernel` must be supported: the callers' entry points assert it.
pub(super) fn micro(kernel: Kernel, g: &[&[f32]], x: [&[f32]; 3]) -> [f32; MAX_OB * 3] {
    let len = g[0].len();
    assert!(len.is_multiple_of(LANES) && x.iter().all(|r| r.len() >= len));
    assert!(g.len() == kernel.ob() && g.iter().all(|r| r.len() == len));
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the entry points assert that the CPU runs the kernel (AVX2 and FMA); the
        // lengths are checked above.
        Kernel::Avx2 => unsafe { micro_avx2(g.try_into().expect("4 rows"), x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX-512F and VL.
        Kernel::Avx512Vl => unsafe { micro_avx512vl(g.try_into().expect("8 rows"), x) },
        _ => micro_scalar(g, x),
    }
}

fn micro_scalar(g: &[&[f32]], x: [&[f32]; 3]) -> [f32; MAX_OB * 3] {
    let len = g[0].len();
    let mut acc = [[0f32; LANES]; MAX_OB * 3];
    for p0 in (0..len).step_by(LANES) {
        for (i, gr) in g.iter().enumerate() {
            let gv = &gr[p0..p0 + LANES];
            for kx in 0..3 {
                let xv = &x[kx][p0..p0 + LANES];
                let o = &mut acc[3 * i + kx];
                for l in 0..LANES {
                    o[l] += gv[l] * xv[l];
                }
            }
        }
    }
    acc.map(|l| ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn micro_avx2(g: &[&[f32]; 4], x: [&[f32]; 3]) -> [f32; MAX_OB * 3] {
    micro_simd(g, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn micro_avx512vl(g: &[&[f32]; 8], x: [&[f32]; 3]) -> [f32; MAX_OB * 3] {
    micro_simd(g, x)
}

/// N output channels x 3 taps in 3 N accumulators (N = 4 or 8: 3 N is a multiple of 4).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn micro_simd<const N: usize>(g: &[&[f32]; N], x: [&[f32]; 3]) -> [f32; MAX_OB * 3] {
    use std::arch::x86_64::*;
    let len = g[0].len();
    let gp: [*const f32; N] = std::array::from_fn(|i| g[i].as_ptr());
    let xp = x.map(|r| r.as_ptr());
    let mut out = [0f32; MAX_OB * 3];
    // SAFETY: every load reads p..p+8 of a g or x row (p + 8 <= len <= every row's length),
    // checked by the caller; the stores write 4 floats at 4 q < 3 N.
    unsafe {
        let z = _mm256_setzero_ps();
        let mut a = [[z; 3]; N];
        let mut p = 0;
        while p < len {
            let x0 = _mm256_loadu_ps(xp[0].add(p));
            let x1 = _mm256_loadu_ps(xp[1].add(p));
            let x2 = _mm256_loadu_ps(xp[2].add(p));
            for i in 0..N {
                let v = _mm256_loadu_ps(gp[i].add(p));
                a[i][0] = _mm256_fmadd_ps(v, x0, a[i][0]);
                a[i][1] = _mm256_fmadd_ps(v, x1, a[i][1]);
                a[i][2] = _mm256_fmadd_ps(v, x2, a[i][2]);
            }
            p += LANES;
        }
        // Four vectors to their four lane sums: two rounds of pairwise hadd, then the halves.
        let f = |j: usize| a[j / 3][j % 3];
        for q in 0..3 * N / 4 {
            let h01 = _mm256_hadd_ps(f(4 * q), f(4 * q + 1));
            let h23 = _mm256_hadd_ps(f(4 * q + 2), f(4 * q + 3));
            let h = _mm256_hadd_ps(h01, h23);
            let s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            _mm_storeu_ps(out.as_mut_ptr().add(4 * q), s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{AWKWARD_SHAPES, assert_close, conv3x3, normal};

    #[test]
    fn matches_f64_reference_on_awkward_shapes_with_every_kernel() {
        // And several blocks (w = 300).
        let shapes: Vec<_> = AWKWARD_SHAPES
            .into_iter()
            .chain([
                ConvShape::new(3, 2, 9, 10, 300),
                ConvShape::new(9, 3, 4, 3, 5),
            ])
            .collect();
        for (i, &s) in shapes.iter().enumerate() {
            let x = normal(s.input_len(), 100 + i as u64);
            let g = normal(s.output_len(), 200 + i as u64);
            // dW does not depend on the weights: any of the right length will do.
            let (_, _, want) = conv3x3(&x, &vec![0.0; s.weight_len()], &g, s);
            for kernel in Kernel::available() {
                let dw = weight_grad_with(&x, &g, s, kernel);
                assert_close(&dw, &want, 1e-5, &format!("{kernel:?} {s}"));
            }
        }
        // 3 rows per block at w = 300: 4 blocks per image.
        assert_eq!(blocks(ConvShape::new(3, 2, 9, 10, 300)).len(), 12);
    }

    #[test]
    fn matches_the_gemm_weight_gradient_on_a_unet_layer() {
        let s = ConvShape::new(2, 16, 16, 24, 40);
        let x = normal(s.input_len(), 1);
        let g = normal(s.output_len(), 2);
        let ours = weight_grad(&x, &g, s);
        let theirs = super::super::gemm::weight_grad(&x, &g, s);
        let d = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let scale = theirs.iter().fold(1f32, |m, v| m.max(v.abs()));
        assert!(d <= 1e-5 * scale, "off by {d} (scale {scale})");
    }

    #[test]
    fn simd_and_scalar_kernels_agree() {
        let s = ConvShape::new(3, 7, 10, 13, 21);
        let x = normal(s.input_len(), 5);
        let g = normal(s.output_len(), 6);
        let scalar = weight_grad_with(&x, &g, s, Kernel::Scalar);
        let scale = scalar.iter().fold(1f32, |m, v| m.max(v.abs()));
        for kernel in Kernel::available() {
            let simd = weight_grad_with(&x, &g, s, kernel);
            for (a, b) in scalar.iter().zip(&simd) {
                assert!((a - b).abs() <= 1e-5 * scale, "{kernel:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn bit_identical_across_runs_and_thread_counts() {
        // 20 images: more blocks than parts, so groups hold several blocks.
        let s = ConvShape::new(20, 3, 5, 9, 7);
        assert!(blocks(s).len() > PARTS);
        let x = normal(s.input_len(), 7);
        let g = normal(s.output_len(), 8);
        for kernel in Kernel::available() {
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| weight_grad_with(&x, &g, s, kernel))
            };
            let first = run(2);
            for threads in [2, 1, 3] {
                let again = run(threads);
                assert!(
                    first
                        .iter()
                        .zip(&again)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{kernel:?}: {threads} threads gave different bits"
                );
            }
        }
    }
}
