//! The plainest 3x3 convolution there is, a full im2col matrix times the weights, against the
//! kernels the U-Net runs: what the banded gemm, direct and Winograd kernels optimise away
//! must not change the result.

use gradlab_kernels::reference::{assert_close, normal};
use gradlab_kernels::{ConvShape, conv};

/// `[cin, h, w]` -> `[cin*9, h*w]`, zero padding 1: row `c*9 + ky*3 + kx` holds the input
/// shifted by (ky - 1, kx - 1).
fn im2col(x: &[f32], cin: usize, h: usize, w: usize) -> Vec<f32> {
    let mut cols = vec![0f32; cin * 9 * h * w];
    for c in 0..cin {
        for t in 0..9 {
            let (dy, dx) = (t as isize / 3 - 1, t as isize % 3 - 1);
            let row = &mut cols[(c * 9 + t) * h * w..(c * 9 + t + 1) * h * w];
            for y in 0..h {
                for xx in 0..w {
                    let (sy, sx) = (y as isize + dy, xx as isize + dx);
                    if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w {
                        row[y * w + xx] = x[(c * h + sy as usize) * w + sx as usize];
                    }
                }
            }
        }
    }
    cols
}

/// y = wt `[cout, cin*9]` x im2col(x), image by image, summed in f64.
fn conv_im2col(x: &[f32], wt: &[f32], s: ConvShape) -> Vec<f64> {
    let (k, hw) = (s.cin * 9, s.h * s.w);
    let mut y = vec![0f64; s.output_len()];
    for bi in 0..s.batch {
        let cols = im2col(&x[bi * s.cin * hw..(bi + 1) * s.cin * hw], s.cin, s.h, s.w);
        for o in 0..s.cout {
            for p in 0..hw {
                y[(bi * s.cout + o) * hw + p] = (0..k)
                    .map(|r| wt[o * k + r] as f64 * cols[r * hw + p] as f64)
                    .sum();
            }
        }
    }
    y
}

#[test]
fn every_forward_path_matches_im2col_times_weights() {
    // Below and above the Winograd thresholds, odd sizes, and a gemm-only shape.
    for (i, s) in [
        ConvShape::new(2, 3, 4, 6, 5),
        ConvShape::new(1, 8, 5, 7, 9),
        ConvShape::new(2, 33, 7, 5, 6),
    ]
    .into_iter()
    .enumerate()
    {
        let x = normal(s.input_len(), 60 + i as u64);
        let wt = normal(s.weight_len(), 61 + i as u64);
        let want = conv_im2col(&x, &wt, s);
        assert_close(
            &conv::forward(&x, &wt, s),
            &want,
            1e-5,
            &format!("conv {s}"),
        );
        assert_close(
            &conv::gemm::forward(&x, &wt, s),
            &want,
            1e-5,
            &format!("gemm {s}"),
        );
        let direct = conv::direct::forward(&x, &wt, s);
        assert_close(&direct, &want, 1e-5, &format!("direct {s}"));
        let winograd = conv::winograd::forward(&x, &wt, s);
        assert_close(&winograd, &want, 1e-5, &format!("winograd {s}"));
    }
}

#[test]
fn input_gradient_is_the_adjoint_of_the_forward() {
    // <conv(x), r> = <x, backward_data(r)> for every x and r.
    let s = ConvShape::new(2, 9, 6, 7, 11);
    let x = normal(s.input_len(), 70);
    let wt = normal(s.weight_len(), 71);
    let r = normal(s.output_len(), 72);
    let y = conv_im2col(&x, &wt, s);
    let lhs: f64 = y.iter().zip(&r).map(|(a, b)| a * *b as f64).sum();
    let dx = conv::backward_data(&r, &wt, s);
    let rhs: f64 = dx.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
    assert!(
        (lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0),
        "{lhs} vs {rhs}"
    );
}
