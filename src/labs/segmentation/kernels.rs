//! Which 3x3 convolution each layer shape of a training step or inference uses.
//!
//! Winograd F(2x2, 3x3) (`winograd/`) does 2.25x fewer multiplications but moves 4x more data
//! through its transforms, so it wins where the channel counts are large enough for the
//! products to dominate. Measured on the U-Net's shapes (`cargo test --release --lib
//! winograd::tests::time_against_direct -- --ignored --nocapture --test-threads=1`, Zen 4,
//! 2 threads): the forward takes 0.6-0.85x the direct kernel's time from 16 input channels up;
//! the weight gradient 0.6-0.9x from 32 input channels up, but 1.05-1.2x with 16.

use super::direct::conv_fwd_direct;
use super::wgrad::{Kernel, conv_wgrad_direct};
use super::winograd::{conv_fwd_winograd, conv_wgrad_winograd};

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

/// y `[b, cout, h, w]` = conv3x3(x `[b, cin, h, w]`, wt `[cout, cin*9]`).
pub fn conv_fwd(
    x: &[f32],
    b: usize,
    cin: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    cout: usize,
) -> Vec<f32> {
    if winograd_forward(cin) {
        conv_fwd_winograd(x, b, cin, h, w, wt, cout)
    } else {
        conv_fwd_direct(x, b, cin, h, w, wt, cout)
    }
}

/// Input gradient `[b, cin, h, w]` from the output gradient `g` `[b, cout, h, w]`.
pub fn conv_dx(
    g: &[f32],
    b: usize,
    cout: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    cin: usize,
) -> Vec<f32> {
    conv_fwd(g, b, cout, h, w, &super::conv::flip(wt, cout, cin), cin)
}

/// dW `[cout, cin*9]` from the input x `[b, cin, h, w]` and the output gradient g
/// `[b, cout, h, w]`.
pub fn conv_wgrad(
    x: &[f32],
    g: &[f32],
    b: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
    if winograd_weight_grad(cin, cout) {
        conv_wgrad_winograd(x, g, b, cin, cout, h, w)
    } else {
        conv_wgrad_direct(x, g, b, cin, cout, h, w)
    }
}
