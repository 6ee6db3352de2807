//! The 3x3 convolution (stride 1, zero padding 1, no bias), and which kernel each layer shape of
//! a training step or inference uses.
//!
//! Winograd F(2x2, 3x3) ([`winograd`]) does 2.25x fewer multiplications but moves 4x more data
//! through its transforms, so it wins where the channel counts are large enough for the
//! products to dominate. Measured on the U-Net's shapes (`cargo bench -p gradlab-kernels --
//! winograd`, Zen 4, 2 threads): the forward takes 0.6-0.85x the direct kernel's time from 16
//! input channels up; the weight gradient 0.6-0.9x from 32 input channels up, but 1.05-1.2x
//! with 16.
//!
//! The kernels: [`gemm`] (banded im2col + gemm, and a weight gradient of per-tap gemms),
//! [`direct`] (register-blocked forward), [`wgrad`] (register-blocked weight gradient),
//! [`winograd`] (forward and weight gradient). The input gradient of each is its forward with
//! the kernel [`flip`]ped, on the [`ConvShape::transposed`] shape.

pub mod direct;
pub mod gemm;
pub mod wgrad;
pub mod winograd;

use crate::{ConvShape, Kernel};

/// Whether the forward of `cin` input channels goes through Winograd. Without AVX-512VL its
/// products hold only 4 output channels in registers, and at 128 input channels it took 1.18x
/// the gemm path's time (7.17 vs 6.06 ms for 8 x 128 -> 64 x 32 x 32; 0.76x at 16 -> 16,
/// 0.95x at 64 -> 64; the AVX2 kernels timed on the same Zen 4).
pub fn winograd_forward(cin: usize) -> bool {
    cin >= 8 && (cin <= 64 || Kernel::detect() == Kernel::Avx512Vl)
}

/// Whether the weight gradient of `cin` -> `cout` channels goes through Winograd.
pub fn winograd_weight_grad(cin: usize, _cout: usize) -> bool {
    cin >= 32
}

/// y `[batch, cout, h, w]` = conv3x3(x `[batch, cin, h, w]`, wt `[cout, cin*9]`), by the kernel
/// this shape and CPU run fastest.
pub fn forward(x: &[f32], wt: &[f32], s: ConvShape) -> Vec<f32> {
    debug_assert!(
        x.len() >= s.input_len() && wt.len() >= s.weight_len(),
        "{s}"
    );
    if winograd_forward(s.cin) {
        winograd::forward(x, wt, s)
    } else {
        direct::forward(x, wt, s)
    }
}

/// Input gradient `[batch, cin, h, w]` from the output gradient `g` `[batch, cout, h, w]` and
/// the weights `wt` `[cout, cin*9]`: the forward of the transposed shape with the kernel
/// flipped.
pub fn backward_data(g: &[f32], wt: &[f32], s: ConvShape) -> Vec<f32> {
    forward(g, &flip(wt, s), s.transposed())
}

/// dW `[cout, cin*9]` from the input x `[batch, cin, h, w]` and the output gradient g
/// `[batch, cout, h, w]`.
pub fn weight_grad(x: &[f32], g: &[f32], s: ConvShape) -> Vec<f32> {
    debug_assert!(x.len() >= s.input_len() && g.len() >= s.output_len(), "{s}");
    if winograd_weight_grad(s.cin, s.cout) {
        winograd::weight_grad(x, g, s)
    } else {
        wgrad::weight_grad(x, g, s)
    }
}

/// `[cout, cin*9]` -> `[cin, cout*9]` flipped in space: the kernel of the input gradient.
pub fn flip(wt: &[f32], s: ConvShape) -> Vec<f32> {
    let (cout, cin) = (s.cout, s.cin);
    let mut out = vec![0f32; cout * cin * 9];
    for o in 0..cout {
        for c in 0..cin {
            for t in 0..9 {
                out[(c * cout + o) * 9 + (8 - t)] = wt[(o * cin + c) * 9 + t];
            }
        }
    }
    out
}

/// The bands of all images: (image, first row, rows), `rows` rows each (fewer at the bottom).
pub(crate) fn bands(b: usize, h: usize, rows: usize) -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    for bi in 0..b {
        let mut r0 = 0;
        while r0 < h {
            let n = rows.min(h - r0);
            v.push((bi, r0, n));
            r0 += n;
        }
    }
    v
}

/// Rows `r0 - 1 .. r0 + n + 1` of one `h x w` plane into `dst` at row pitch w + 2, zero-padded
/// (a zero column each side, zero rows outside the plane), and zeros after them to the end of
/// `dst`: the scratch of the direct kernels, where tap (ky, kx) is a constant offset.
pub(crate) fn padded_rows(
    src: &[f32],
    (h, w): (usize, usize),
    r0: usize,
    n: usize,
    dst: &mut [f32],
) {
    let wp = w + 2;
    for j in 0..n + 2 {
        let row = &mut dst[j * wp..(j + 1) * wp];
        match (r0 + j).checked_sub(1).filter(|&sy| sy < h) {
            None => row.fill(0.0),
            Some(sy) => {
                row[0] = 0.0;
                row[1..=w].copy_from_slice(&src[sy * w..(sy + 1) * w]);
                row[w + 1] = 0.0;
            }
        }
    }
    dst[(n + 2) * wp..].fill(0.0);
}
