//! Winograd kernels against the f64 reference, across kernels, block sizes and thread counts.

use super::forward::forward_blocked;
use super::weight_grad::weight_grad_blocked;
use super::*;
use crate::conv::flip;
use crate::reference::{AWKWARD_SHAPES, assert_close, conv3x3, normal};
use crate::{ConvShape, Kernel};

/// Block sizes: one tile row per block (a block never spans images), a few rows (blocks start
/// mid-image and span images), and the default.
const BLOCKS: [usize; 3] = [1, 12000, forward::BLOCK_FLOATS];

#[test]
fn forward_input_and_weight_gradients_match_f64_reference() {
    // The awkward shapes, odd and even sizes (partial tiles), and many tile rows.
    let more = [
        ConvShape::new(2, 4, 3, 7, 9),
        ConvShape::new(3, 5, 9, 9, 30),
        ConvShape::new(3, 2, 5, 11, 2),
        ConvShape::new(4, 3, 2, 2, 3),
    ];
    for (i, &s) in AWKWARD_SHAPES.iter().chain(&more).enumerate() {
        let x = normal(s.input_len(), 30 + i as u64);
        let wt = normal(s.weight_len(), 40 + i as u64);
        let r = normal(s.output_len(), 50 + i as u64);
        let (ry, rdx, rdw) = conv3x3(&x, &wt, &r, s);
        let flipped = flip(&wt, s);
        for kernel in Kernel::available() {
            for floats in BLOCKS {
                let what = |t: &str| format!("{t} {kernel:?} {s} blocks of {floats}");
                let y = forward_blocked(&x, &wt, s, kernel, floats);
                assert_close(&y, &ry, 1e-5, &what("forward"));
                let dx = forward_blocked(&r, &flipped, s.transposed(), kernel, floats);
                assert_close(&dx, &rdx, 1e-5, &what("dx"));
                let dw = weight_grad_blocked(&x, &r, s, kernel, floats);
                assert_close(&dw, &rdw, 1e-5, &what("dw"));
            }
        }
        let dx = forward(&r, &flipped, s.transposed());
        let what = format!("dx by the Winograd forward of the flipped kernel {s}");
        assert_close(&dx, &rdx, 1e-5, &what);
        let dw = weight_grad(&x, &r, s);
        assert_close(&dw, &rdw, 1e-5, &format!("winograd::weight_grad {s}"));
    }
}

#[test]
fn matches_the_gemm_convolution_on_a_unet_layer() {
    // (The app's tests also compare the training step, Winograd included, with candle's conv2d.)
    let s = ConvShape::new(2, 16, 24, 20, 37);
    let x = normal(s.input_len(), 11);
    let wt = normal(s.weight_len(), 12);
    let theirs: Vec<f64> = crate::conv::gemm::forward(&x, &wt, s)
        .into_iter()
        .map(f64::from)
        .collect();
    for kernel in Kernel::available() {
        let ours = forward_with(&x, &wt, s, kernel);
        assert_close(&ours, &theirs, 1e-5, &format!("{kernel:?}"));
    }
}

/// The gradients by central differences of L = sum(conv(x, w) * r) in f64 arithmetic on the
/// f32 inputs: dW[k] = (L(w + e_k) - L(w - e_k)) / 2e, the same for x.
#[test]
fn gradients_match_finite_differences() {
    let s = ConvShape::new(1, 3, 2, 5, 4);
    let x = normal(s.input_len(), 21);
    let wt = normal(s.weight_len(), 22);
    let r = normal(s.output_len(), 23);
    let loss = |x: &[f32], wt: &[f32]| -> f64 {
        let y = forward_with(x, wt, s, Kernel::detect());
        y.iter().zip(&r).map(|(a, b)| *a as f64 * *b as f64).sum()
    };
    let eps = 1e-2f32;
    let fd = |v: &[f32], k: usize, of: &dyn Fn(&[f32]) -> f64| {
        let (mut up, mut down) = (v.to_vec(), v.to_vec());
        up[k] += eps;
        down[k] -= eps;
        (of(&up) - of(&down)) / (2.0 * eps as f64)
    };
    let dw = weight_grad(&x, &r, s);
    for (k, &got) in dw.iter().enumerate() {
        let want = fd(&wt, k, &|v| loss(&x, v));
        assert!(
            (got as f64 - want).abs() < 1e-2 * want.abs().max(1.0),
            "dW[{k}] {got} vs {want}"
        );
    }
    let dx = forward(&r, &flip(&wt, s), s.transposed());
    for (k, &got) in dx.iter().enumerate() {
        let want = fd(&x, k, &|v| loss(v, &wt));
        assert!(
            (got as f64 - want).abs() < 1e-2 * want.abs().max(1.0),
            "dx[{k}] {got} vs {want}"
        );
    }
}

#[test]
fn small_blocks_really_split_the_work() {
    // The shapes above only test blocks if the sizes make several of them.
    let rows = |floats, ca, cb, rp, total| tiles::rows_per_block(floats, (ca, cb), rp, total);
    assert_eq!(rows(1, 5, 16, 16, 15), 1);
    let per = rows(12000, 5, 16, 16, 15);
    assert!(
        per > 1 && per < 5 && 15 % per != 0,
        "{per} tile rows per block"
    );
    assert_eq!(rows(forward::BLOCK_FLOATS, 5, 16, 16, 15), 15);
}

#[test]
fn bit_identical_across_thread_counts_and_simd_close_to_scalar() {
    let s = ConvShape::new(20, 5, 6, 9, 13);
    let x = normal(s.input_len(), 7);
    let g = normal(s.output_len(), 8);
    let wt = normal(s.weight_len(), 9);
    let scalar = (
        forward_with(&x, &wt, s, Kernel::Scalar),
        weight_grad_with(&x, &g, s, Kernel::Scalar),
    );
    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits());
    for kernel in Kernel::available() {
        for floats in [12000, forward::BLOCK_FLOATS] {
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        (
                            forward_blocked(&x, &wt, s, kernel, floats),
                            weight_grad_blocked(&x, &g, s, kernel, floats),
                        )
                    })
            };
            let first = run(2);
            for threads in [1, 3] {
                let again = run(threads);
                assert!(
                    same(&first.0, &again.0),
                    "{kernel:?} forward: {threads} threads differ"
                );
                assert!(
                    same(&first.1, &again.1),
                    "{kernel:?} dw: {threads} threads differ"
                );
            }
            for (ours, theirs) in [(&first.0, &scalar.0), (&first.1, &scalar.1)] {
                let scale = theirs.iter().fold(1f32, |m, v| m.max(v.abs()));
                for (a, t) in ours.iter().zip(theirs) {
                    assert!(
                        (a - t).abs() <= 1e-5 * scale,
                        "{kernel:?} {a} vs scalar {t}"
                    );
                }
            }
        }
    }
}
