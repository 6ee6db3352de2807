//! Kernel timings on the U-Net's layer shapes: medians in ms, the variants of each shape timed
//! in alternation (the machine is shared and its load drifts).
//!
//! `cargo bench -p gradlab-kernels [-- GROUP]`, GROUP one of `direct`, `wgrad`, `gemm`,
//! `winograd`, `bn` (all by default); `RUNS=n` times each variant n times (15).
//! `SHAPE=b,cin,cout,h,w [WG=1] cargo bench -p gradlab-kernels` runs one Winograd forward (or
//! weight gradient) in a loop instead, for `perf record`.

use std::hint::black_box;
use std::time::Instant;

use gradlab_kernels::bn::{bn_relu_apply, bn_relu_backward, channel_stats};
use gradlab_kernels::conv::{self, direct, gemm, wgrad, winograd};
use gradlab_kernels::reference::normal;
use gradlab_kernels::{ConvShape, Kernel};

/// A variant to time: its name, and a run (None where this CPU lacks the kernel).
type Variant<'a> = (&'a str, Option<Box<dyn Fn() + 'a>>);

fn runs() -> usize {
    std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median ms of each variant over `runs()` rounds, one run of each per round, after one warm-up.
fn medians(variants: &[Variant<'_>]) -> Vec<Option<f64>> {
    let mut times = vec![Vec::new(); variants.len()];
    for round in 0..=runs() {
        for ((_, f), t) in variants.iter().zip(&mut times) {
            let Some(f) = f else { continue };
            let start = Instant::now();
            f();
            if round > 0 {
                t.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    times
        .into_iter()
        .map(|t| (!t.is_empty()).then(|| median(t)))
        .collect()
}

/// One line: the shape, each variant's median and the GFLOP/s of the fastest.
fn report(s: ConvShape, variants: &[Variant<'_>]) {
    let ms = medians(variants);
    let mut line = format!("{s}:");
    for ((name, _), m) in variants.iter().zip(&ms) {
        match m {
            Some(m) => line += &format!(" {name} {m:.2} ms,"),
            None => line += &format!(" {name} -,"),
        }
    }
    let best = ms.iter().flatten().fold(f64::MAX, |a, &b| a.min(b));
    let gflop = 2.0 * (s.batch * s.cin * s.cout * 9 * s.h * s.w) as f64 / 1e9;
    println!("{line} best {:.0} GFLOP/s", gflop / (best / 1e3));
}

/// `f` with `kernel`, or None where this CPU does not run it.
fn with<'a>(kernel: Kernel, f: impl Fn(Kernel) -> Vec<f32> + 'a) -> Option<Box<dyn Fn() + 'a>> {
    kernel.supported().then(|| {
        Box::new(move || {
            black_box(f(kernel));
        }) as Box<dyn Fn() + 'a>
    })
}

fn boxed<'a>(f: impl Fn() -> Vec<f32> + 'a) -> Option<Box<dyn Fn() + 'a>> {
    Some(Box::new(move || {
        black_box(f());
    }))
}

const fn shape(batch: usize, cin: usize, cout: usize, h: usize, w: usize) -> ConvShape {
    ConvShape::new(batch, cin, cout, h, w)
}

/// The direct forward against the banded gemm.
fn bench_direct() {
    println!("forward: banded gemm vs the direct kernels");
    for s in [
        shape(8, 16, 16, 128, 128),
        shape(8, 32, 16, 128, 128),
        shape(8, 16, 32, 64, 64),
        shape(8, 32, 32, 64, 64),
        shape(8, 64, 64, 32, 32),
        shape(8, 128, 64, 32, 32),
        shape(8, 128, 128, 16, 16),
    ] {
        let (x, wt) = (normal(s.input_len(), 1), normal(s.weight_len(), 2));
        let direct = |k| direct::forward_with(&x, &wt, s, k);
        report(
            s,
            &[
                ("gemm", boxed(|| gemm::forward(&x, &wt, s))),
                ("AVX2", with(Kernel::Avx2, direct)),
                ("AVX-512VL", with(Kernel::Avx512Vl, direct)),
            ],
        );
    }
}

/// The direct weight gradient against the per-tap gemms.
fn bench_wgrad() {
    println!("weight gradient: per-tap gemm vs the direct kernels");
    for s in [
        shape(8, 16, 16, 128, 128),
        shape(8, 32, 16, 128, 128),
        shape(8, 32, 32, 64, 64),
        shape(8, 64, 64, 32, 32),
        shape(8, 128, 64, 32, 32),
        shape(8, 128, 128, 16, 16),
    ] {
        let (x, g) = (normal(s.input_len(), 1), normal(s.output_len(), 2));
        let direct = |k| wgrad::weight_grad_with(&x, &g, s, k);
        report(
            s,
            &[
                ("gemm", boxed(|| gemm::weight_grad(&x, &g, s))),
                ("AVX2", with(Kernel::Avx2, direct)),
                ("AVX-512VL", with(Kernel::Avx512Vl, direct)),
            ],
        );
    }
}

/// The two gemm weight gradients: banded im2col against per-tap.
fn bench_gemm() {
    println!("weight gradient: banded im2col + gemm vs per-tap gemm");
    for s in [
        shape(8, 16, 16, 128, 128),
        shape(8, 32, 16, 128, 128),
        shape(8, 64, 64, 32, 32),
        shape(8, 128, 128, 16, 16),
    ] {
        let (x, g) = (normal(s.input_len(), 1), normal(s.output_len(), 2));
        report(
            s,
            &[
                (
                    "banded",
                    boxed(|| gemm::weight_grad_banded(&x, &g, s, gemm::BAND_FLOATS)),
                ),
                ("per-tap", boxed(|| gemm::weight_grad(&x, &g, s))),
            ],
        );
    }
}

/// Winograd against the direct kernels, forward and weight gradient, and what a step picks.
fn bench_winograd() {
    println!("Winograd vs direct (forward, weight gradient); `conv::` is what a step runs");
    for s in [
        shape(8, 16, 16, 128, 128),
        shape(8, 32, 16, 128, 128),
        shape(8, 16, 32, 64, 64),
        shape(8, 32, 32, 64, 64),
        shape(8, 64, 32, 64, 64),
        shape(8, 32, 64, 32, 32),
        shape(8, 64, 64, 32, 32),
        shape(8, 128, 64, 32, 32),
        shape(8, 64, 128, 16, 16),
        shape(8, 128, 128, 16, 16),
        shape(1, 16, 16, 512, 512),
    ] {
        let x = normal(s.input_len(), 1);
        let g = normal(s.output_len(), 3);
        let wt = normal(s.weight_len(), 2);
        report(
            s,
            &[
                ("fwd direct", boxed(|| direct::forward(&x, &wt, s))),
                ("fwd winograd", boxed(|| winograd::forward(&x, &wt, s))),
                ("dW direct", boxed(|| wgrad::weight_grad(&x, &g, s))),
                ("dW winograd", boxed(|| winograd::weight_grad(&x, &g, s))),
            ],
        );
        println!(
            "  a step uses: forward {}, dW {}",
            if conv::winograd_forward(s.cin) {
                "Winograd"
            } else {
                "direct"
            },
            if conv::winograd_weight_grad(s.cin, s.cout) {
                "Winograd"
            } else {
                "direct"
            },
        );
    }
}

/// BatchNorm + ReLU on the U-Net's first layer, against a plain copy of the activations.
fn bench_bn() {
    println!("BatchNorm + ReLU, 8 x 16 x 128 x 128");
    let (b, c, hw) = (8, 16, 128 * 128);
    let x = normal(b * c * hw, 1);
    let g = normal(b * c * hw, 2);
    let (gamma, beta) = (vec![1.1f32; c], vec![0.1f32; c]);
    let stats = channel_stats(&x, b, c, hw);
    let y = bn_relu_apply(&x, c, hw, &gamma, &beta, &stats, 1e-5);
    let variants: [Variant<'_>; 4] = [
        (
            "statistics",
            boxed(|| {
                channel_stats(&x, b, c, hw)
                    .into_iter()
                    .map(|s| s.0)
                    .collect()
            }),
        ),
        (
            "forward",
            boxed(|| bn_relu_apply(&x, c, hw, &gamma, &beta, &stats, 1e-5)),
        ),
        (
            "backward",
            boxed(|| bn_relu_backward(&x, &y, &g, b, c, hw, &gamma, &beta, &stats, 1e-5).0),
        ),
        ("copy", boxed(|| x.clone())),
    ];
    let ms = medians(&variants);
    for ((name, _), m) in variants.iter().zip(ms) {
        println!("  {name}: {:.2} ms", m.unwrap_or(f64::NAN));
    }
}

/// `SHAPE=b,cin,cout,h,w [WG=1]`: one Winograd kernel in a loop, its median printed.
fn prof_loop(shape: &str) {
    let v: Vec<usize> = shape
        .split(',')
        .map(|s| s.trim().parse().expect("SHAPE=b,cin,cout,h,w"))
        .collect();
    let [b, cin, cout, h, w] = v[..] else {
        panic!("SHAPE=b,cin,cout,h,w");
    };
    let s = ConvShape::new(b, cin, cout, h, w);
    gradlab_kernels::alloc::keep_freed_buffers();
    let x = normal(s.input_len(), 1);
    let g = normal(s.output_len(), 3);
    let wt = normal(s.weight_len(), 2);
    let wg = std::env::var_os("WG").is_some();
    let variant: Variant<'_> = if wg {
        ("winograd dW", boxed(|| winograd::weight_grad(&x, &g, s)))
    } else {
        ("winograd forward", boxed(|| winograd::forward(&x, &wt, s)))
    };
    report(s, &[variant]);
}

fn main() {
    gradlab_kernels::alloc::keep_freed_buffers();
    if let Ok(shape) = std::env::var("SHAPE") {
        prof_loop(&shape);
        return;
    }
    // `cargo bench` passes `--bench`; anything else is a group name.
    let groups: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let on = |g: &str| groups.is_empty() || groups.iter().any(|a| a == g);
    println!(
        "{} rayon threads, best kernel {:?}, medians of {} runs",
        rayon::current_num_threads(),
        Kernel::detect(),
        runs()
    );
    let all: [(&str, fn()); 5] = [
        ("direct", bench_direct),
        ("wgrad", bench_wgrad),
        ("gemm", bench_gemm),
        ("winograd", bench_winograd),
        ("bn", bench_bn),
    ];
    for (name, f) in all {
        if on(name) {
            f();
        }
    }
}
