//! Winograd kernels against the f64 reference, across kernels, block sizes and thread counts.

use super::forward::conv_fwd_blocked;
use super::weight_grad::conv_wgrad_blocked;
use super::*;
use crate::labs::segmentation::conv::flip;
use crate::labs::segmentation::conv_check::{AWKWARD_SHAPES, assert_close, reference, vec_of};
use crate::labs::segmentation::wgrad::Kernel;

/// Block sizes: one tile row per block (a block never spans images), a few rows (blocks start
/// mid-image and span images), and the default.
const BLOCKS: [usize; 3] = [1, 12000, forward::BLOCK_FLOATS];

#[test]
fn forward_input_and_weight_gradients_match_f64_reference() {
    // The awkward shapes, odd and even sizes (partial tiles), and many tile rows.
    let more = [
        (2, 4, 3, 7, 9),
        (3, 5, 9, 9, 30),
        (3, 2, 5, 11, 2),
        (4, 3, 2, 2, 3),
    ];
    for (i, &s) in AWKWARD_SHAPES.iter().chain(&more).enumerate() {
        let (b, cin, cout, h, w) = s;
        let x = vec_of(&[b, cin, h, w], 30 + i as u64);
        let wt = vec_of(&[cout, cin * 9], 40 + i as u64);
        let r = vec_of(&[b, cout, h, w], 50 + i as u64);
        let (ry, rdx, rdw) = reference(&x, &wt, &r, s);
        let flipped = flip(&wt, cout, cin);
        for kernel in Kernel::available() {
            for floats in BLOCKS {
                let what = |t: &str| format!("{t} {kernel:?} {s:?} blocks of {floats}");
                let y = conv_fwd_blocked(&x, s, &wt, kernel, floats);
                assert_close(&y, &ry, 1e-5, &what("forward"));
                let dx = conv_fwd_blocked(&r, (b, cout, cin, h, w), &flipped, kernel, floats);
                assert_close(&dx, &rdx, 1e-5, &what("dx"));
                let dw = conv_wgrad_blocked(&x, &r, s, kernel, floats);
                assert_close(&dw, &rdw, 1e-5, &what("dw"));
            }
        }
        let dx = conv_fwd_winograd(&r, b, cout, h, w, &flip(&wt, cout, cin), cin);
        assert_close(
            &dx,
            &rdx,
            1e-5,
            &format!("dx by conv_fwd_winograd of the flipped kernel {s:?}"),
        );
        let dw = conv_wgrad_winograd(&x, &r, b, cin, cout, h, w);
        assert_close(&dw, &rdw, 1e-5, &format!("conv_wgrad_winograd {s:?}"));
    }
}

#[test]
fn matches_candle_conv2d_on_a_unet_layer() {
    use candle_core::{Device, Tensor};
    let s = (2, 16, 24, 20, 37);
    let (b, cin, cout, h, w) = s;
    let x = vec_of(&[b, cin, h, w], 11);
    let wt = vec_of(&[cout, cin * 9], 12);
    let xt = Tensor::from_vec(x.clone(), (b, cin, h, w), &Device::Cpu).unwrap();
    let wt4 = Tensor::from_vec(wt.clone(), (cout, cin, 3, 3), &Device::Cpu).unwrap();
    let theirs: Vec<f32> = xt
        .conv2d(&wt4, 1, 1, 1, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let theirs: Vec<f64> = theirs.into_iter().map(f64::from).collect();
    for kernel in Kernel::available() {
        assert_close(
            &conv_fwd_with(&x, s, &wt, kernel),
            &theirs,
            1e-5,
            &format!("{kernel:?}"),
        );
    }
}

/// The gradients by central differences of L = sum(conv(x, w) * r) in f64 arithmetic on the
/// f32 inputs: dW[k] = (L(w + e_k) - L(w - e_k)) / 2e, the same for x.
#[test]
fn gradients_match_finite_differences() {
    let s = (1, 3, 2, 5, 4);
    let (b, cin, cout, h, w) = s;
    let x = vec_of(&[b, cin, h, w], 21);
    let wt = vec_of(&[cout, cin * 9], 22);
    let r = vec_of(&[b, cout, h, w], 23);
    let loss = |x: &[f32], wt: &[f32]| -> f64 {
        let y = conv_fwd_with(x, s, wt, Kernel::detect());
        y.iter().zip(&r).map(|(a, b)| *a as f64 * *b as f64).sum()
    };
    let eps = 1e-2f32;
    let fd = |v: &[f32], k: usize, of: &dyn Fn(&[f32]) -> f64| {
        let (mut up, mut down) = (v.to_vec(), v.to_vec());
        up[k] += eps;
        down[k] -= eps;
        (of(&up) - of(&down)) / (2.0 * eps as f64)
    };
    let dw = conv_wgrad_winograd(&x, &r, b, cin, cout, h, w);
    for (k, &got) in dw.iter().enumerate() {
        let want = fd(&wt, k, &|v| loss(&x, v));
        assert!(
            (got as f64 - want).abs() < 1e-2 * want.abs().max(1.0),
            "dW[{k}] {got} vs {want}"
        );
    }
    let dx = conv_fwd_winograd(&r, b, cout, h, w, &flip(&wt, cout, cin), cin);
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
    let s = (20, 5, 6, 9, 13);
    let (b, cin, cout, h, w) = s;
    let x = vec_of(&[b, cin, h, w], 7);
    let g = vec_of(&[b, cout, h, w], 8);
    let wt = vec_of(&[cout, cin * 9], 9);
    let scalar = (
        conv_fwd_with(&x, s, &wt, Kernel::Scalar),
        conv_wgrad_with(&x, &g, s, Kernel::Scalar),
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
                            conv_fwd_blocked(&x, s, &wt, kernel, floats),
                            conv_wgrad_blocked(&x, &g, s, kernel, floats),
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

/// Median ms of 15 runs.
fn median_ms(f: &dyn Fn() -> Vec<f32>) -> f64 {
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[7]
}

/// `cargo test --release --lib winograd -- --ignored --nocapture`: the U-Net's layer shapes.
#[test]
#[ignore]
fn time_against_direct() {
    crate::labs::segmentation::alloc::keep_freed_buffers();
    for (b, cin, cout, h, w) in [
        (8, 16, 16, 128, 128),
        (8, 32, 16, 128, 128),
        (8, 16, 32, 64, 64),
        (8, 32, 32, 64, 64),
        (8, 64, 32, 64, 64),
        (8, 32, 64, 32, 32),
        (8, 64, 64, 32, 32),
        (8, 128, 64, 32, 32),
        (8, 64, 128, 16, 16),
        (8, 128, 128, 16, 16),
        (1, 16, 16, 512, 512),
    ] {
        let x = vec_of(&[b, cin, h, w], 1);
        let g = vec_of(&[b, cout, h, w], 3);
        let wt = vec_of(&[cout, cin * 9], 2);
        use crate::labs::segmentation::{direct, wgrad};
        let df = median_ms(&|| direct::conv_fwd_direct(&x, b, cin, h, w, &wt, cout));
        let wf = median_ms(&|| conv_fwd_winograd(&x, b, cin, h, w, &wt, cout));
        let dw = median_ms(&|| wgrad::conv_wgrad_direct(&x, &g, b, cin, cout, h, w));
        let ww = median_ms(&|| conv_wgrad_winograd(&x, &g, b, cin, cout, h, w));
        eprintln!(
            "{b}x{cin}->{cout} {h}x{w}: forward direct {df:.2} ms, winograd {wf:.2} ms; dW direct {dw:.2} ms, winograd {ww:.2} ms"
        );
    }
}

/// `SHAPE=b,cin,cout,h,w [WG=1] cargo test --release --lib prof_loop -- --ignored --nocapture`
/// under `perf record`: one kernel in a loop.
#[test]
#[ignore]
fn prof_loop() {
    let Ok(shape) = std::env::var("SHAPE") else {
        return;
    };
    let v: Vec<usize> = shape.split(',').map(|s| s.parse().unwrap()).collect();
    let (b, cin, cout, h, w) = (v[0], v[1], v[2], v[3], v[4]);
    crate::labs::segmentation::alloc::keep_freed_buffers();
    let x = vec_of(&[b, cin, h, w], 1);
    let g = vec_of(&[b, cout, h, w], 3);
    let wt = vec_of(&[cout, cin * 9], 2);
    let ms = if std::env::var("WG").is_ok() {
        median_ms(&|| conv_wgrad_winograd(&x, &g, b, cin, cout, h, w))
    } else {
        median_ms(&|| conv_fwd_winograd(&x, b, cin, h, w, &wt, cout))
    };
    eprintln!("{ms:.3} ms median");
}
