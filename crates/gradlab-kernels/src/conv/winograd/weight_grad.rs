//! The weight gradient `dW = G^T [Σ_t (A dY_t A^T) ⊙ V_t] G`.
//!
//! The tiles are reduced over, so a block is a run of tile rows that may span several images
//! (at 16 x 16 an image has only 72 tiles), processed one after another; inside a block the
//! transforms are split across threads by channel and the products by (point, group of output
//! channels), so every sum has one owner and a fixed order whatever the thread count. The
//! products use the `conv/wgrad.rs` micro-kernel, its three x rows taken from three input channels.

use rayon::prelude::*;

use super::tiles::{self, Channel, Geom, Of};
use crate::{ConvShape, Kernel};

/// Vector width of the accumulators.
const LANES: usize = 8;

/// Floats of one block's transforms (all 16 points; the products of one point then read a
/// sixteenth of them).
pub(super) const BLOCK_FLOATS: usize = 2 * 1024 * 1024;

/// Tiles per micro-kernel call (its gradient rows stay in L1).
const CHUNK: usize = 256;

/// dW `[cout, cin*9]` of y = conv3x3(x `[batch, cin, h, w]`) from the output gradient g
/// `[batch, cout, h, w]`, with the fastest kernel of this CPU.
pub fn weight_grad(x: &[f32], g: &[f32], s: ConvShape) -> Vec<f32> {
    weight_grad_with(x, g, s, Kernel::detect())
}

/// [`weight_grad`] with a chosen kernel (tests and benches compare them; `kernel` must be one
/// of [`Kernel::available`]).
pub fn weight_grad_with(x: &[f32], g: &[f32], s: ConvShape, kernel: Kernel) -> Vec<f32> {
    weight_grad_blocked(x, g, s, kernel, BLOCK_FLOATS)
}

/// [`weight_grad_with`] with blocks of at most about `floats` floats (tests use small ones).
pub(super) fn weight_grad_blocked(
    x: &[f32],
    g: &[f32],
    s: ConvShape,
    kernel: Kernel,
    floats: usize,
) -> Vec<f32> {
    assert!(kernel.supported(), "{kernel:?} on a CPU without it");
    let ConvShape {
        batch: b,
        cin,
        cout,
        h,
        w,
    } = s;
    if b * h * w == 0 || cin == 0 || cout == 0 {
        return vec![0f32; cout * cin * 9];
    }
    let obn = kernel.ob();
    let (cin3, cout_pad) = (cin.div_ceil(3) * 3, cout.div_ceil(obn) * obn);
    let geom = Geom::new(h, w);
    let total = b * geom.th;
    let per = tiles::rows_per_block(floats, (cin3, cout_pad), geom.rp, total);
    let tp_max = (per * geom.rp).div_ceil(LANES) * LANES;
    BUFFERS.with_borrow_mut(|(v, gt)| {
        // Every float a block reads is written first (transforms, then zero_past).
        grow(v, cin3 * 16 * tp_max);
        grow(gt, cout_pad * 16 * tp_max);
        sum_blocks(x, g, (b, cin, cout), geom, kernel, per, v, gt)
    })
}

thread_local! {
    /// The calling thread's transform buffers, kept across calls: zero-filling fresh ones cost
    /// up to 0.5 ms a call.
    static BUFFERS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = Default::default();
}

fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

/// S summed block after block, then `dW = G^T S G`.
#[allow(clippy::too_many_arguments)]
fn sum_blocks(
    x: &[f32],
    g: &[f32],
    (b, cin, cout): (usize, usize, usize),
    geom: Geom,
    kernel: Kernel,
    per: usize,
    v: &mut [f32],
    gt: &mut [f32],
) -> Vec<f32> {
    let obn = kernel.ob();
    let (cin3, cout_pad) = (cin.div_ceil(3) * 3, cout.div_ceil(obn) * obn);
    let total = b * geom.th;
    // S [16][cout_pad][cin3]: the products summed over every tile, per point.
    let mut s = vec![0f32; 16 * cout_pad * cin3];
    for g0 in (0..total).step_by(per) {
        let g1 = (g0 + per).min(total);
        let segs = tiles::segments(g0, g1, geom.th);
        let len = (g1 - g0) * geom.rp;
        let tp = len.div_ceil(LANES) * LANES;
        // [channel][16][tp]: each channel's transforms are one chunk, so threads split them.
        // The padding channels and tiles must add nothing.
        let transform = |buf: &mut [f32], src: &[f32], channels: usize, padded: usize, of: Of| {
            buf[..padded * 16 * tp]
                .par_chunks_mut(16 * tp)
                .enumerate()
                .for_each_init(Vec::new, |t, (c, out)| {
                    if c < channels {
                        let ch = Channel { src, c, channels };
                        tiles::segments_of((kernel, of), ch, geom, &segs, t, (out, tp));
                    }
                    zero_past(out, if c < channels { len } else { 0 }, tp);
                });
        };
        transform(v, x, cin, cin3, Of::Input);
        transform(gt, g, cout, cout_pad, Of::Gradient);
        let groups = cout_pad / obn;
        let (v, gt) = (&*v, &*gt);
        s.par_chunks_mut(obn * cin3)
            .enumerate()
            .for_each(|(k, sk)| {
                let (xi, ob) = (k / groups, (k % groups) * obn);
                for t0 in (0..tp).step_by(CHUNK) {
                    let n = CHUNK.min(tp - t0);
                    let at = |ch: usize| (ch * 16 + xi) * tp + t0;
                    let rows: Vec<&[f32]> = (0..obn).map(|i| &gt[at(ob + i)..][..n]).collect();
                    for c in (0..cin3).step_by(3) {
                        let vr = |q: usize| &v[at(c + q)..][..n];
                        let sums = crate::conv::wgrad::micro(kernel, &rows, [vr(0), vr(1), vr(2)]);
                        for (i, s3) in sums[..3 * obn].chunks_exact(3).enumerate() {
                            let d = &mut sk[i * cin3 + c..i * cin3 + c + 3];
                            d.iter_mut().zip(s3).for_each(|(a, v)| *a += v);
                        }
                    }
                }
            });
    }
    tiles::weights_back(&s, cin, cout, (cin3, cout_pad))
}

/// Zeroes tiles `len..tp` of each of the 16 points of `out` `[16][tp]`.
fn zero_past(out: &mut [f32], len: usize, tp: usize) {
    for xi in 0..16 {
        out[xi * tp + len..(xi + 1) * tp].fill(0.0);
    }
}
