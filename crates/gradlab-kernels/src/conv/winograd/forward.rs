//! The forward (and, with the kernel flipped, the input gradient): per block of tile rows,
//! transform the input, multiply per point (`M[ξ] = U[ξ] V[ξ]`), transform back into y. A block
//! belongs to one thread; its transforms and products are sized to about L2 ([`BLOCK_FLOATS`],
//! the best of 32 K - 512 K floats on the U-Net's shapes).

use rayon::prelude::*;

use super::tiles::{self, Geom, Seg};
use crate::{ConvShape, Kernel, SendPtr};

/// Tiles per micro-kernel call (3 vectors of 8).
const PT: usize = 24;

/// Most output channels per micro-kernel call.
const MAX_OB: usize = 8;

/// Floats of input a chunk of tiles may read (every channel), to stay in L1.
const L1_FLOATS: usize = 4 * 1024;

/// Floats of one block's transformed input and products (16 points each).
pub(super) const BLOCK_FLOATS: usize = 256 * 1024;

/// y `[batch, cout, h, w]` = conv3x3(x `[batch, cin, h, w]`, wt `[cout, cin*9]`) with the
/// fastest kernel of this CPU.
pub fn forward(x: &[f32], wt: &[f32], s: ConvShape) -> Vec<f32> {
    forward_with(x, wt, s, Kernel::detect())
}

/// [`forward`] with a chosen kernel (tests and benches compare them; `kernel` must be one of
/// [`Kernel::available`]).
pub fn forward_with(x: &[f32], wt: &[f32], s: ConvShape, kernel: Kernel) -> Vec<f32> {
    forward_blocked(x, wt, s, kernel, BLOCK_FLOATS)
}

thread_local! {
    /// Each thread's block scratch, kept across blocks and calls: a fresh one per call was
    /// zero-filled and page-faulted in every time (about 1 MB a block).
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Scratch of one block.
#[derive(Default)]
struct Scratch {
    t: Vec<f32>,
    v: Vec<f32>,
    m: Vec<f32>,
}

/// What every block reads, and where it writes.
struct Fwd<'a> {
    x: &'a [f32],
    u: &'a [f32],
    cin: usize,
    cout: usize,
    cout_pad: usize,
    geom: Geom,
    kernel: Kernel,
    y: SendPtr,
}

/// [`forward_with`] with blocks of at most about `floats` floats (tests use small ones).
pub(super) fn forward_blocked(
    x: &[f32],
    wt: &[f32],
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
    let hw = h * w;
    let len = b * cout * hw;
    if len == 0 || cin == 0 {
        return vec![0f32; len];
    }
    let obn = kernel.ob();
    let cout_pad = cout.div_ceil(obn) * obn;
    let u = tiles::weights(wt, cin, cout, obn);
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let geom = Geom::new(h, w);
    let f = Fwd {
        x,
        u: &u,
        cin,
        cout,
        cout_pad,
        geom,
        kernel,
        y: SendPtr(y.as_mut_ptr()),
    };
    let total = b * geom.th;
    let per = tiles::rows_per_block(floats, (cin, cout_pad), geom.rp, total);
    (0..total.div_ceil(per)).into_par_iter().for_each(|k| {
        let segs = tiles::segments(k * per, ((k + 1) * per).min(total), geom.th);
        SCRATCH.with_borrow_mut(|s| match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: asserted above: the CPU runs the kernel, so it has AVX2 and FMA.
            Kernel::Avx2 | Kernel::Avx512Vl => unsafe { block_avx2(&f, s, &segs) },
            _ => block(&f, s, &segs, false),
        });
    });
    // SAFETY: the blocks cover every row of every plane, each written by `block`.
    unsafe { y.set_len(len) };
    y
}

/// [`block`] compiled with AVX2: its transforms then vectorise 8 wide (the default target has
/// only SSE2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn block_avx2(f: &Fwd<'_>, s: &mut Scratch, segs: &[Seg]) {
    block(f, s, segs, true)
}

/// One block of tile rows (`wide`: with the AVX2 transforms).
#[inline(always)]
fn block(f: &Fwd<'_>, s: &mut Scratch, segs: &[Seg], wide: bool) {
    let (cin, cout, cout_pad, g) = (f.cin, f.cout, f.cout_pad, f.geom);
    let (hw, rp, kernel, obn) = (g.h * g.w, g.rp, f.kernel, f.kernel.ob());
    let len: usize = segs.iter().map(|s| s.n * rp).sum();
    let tp = len.div_ceil(PT) * PT;
    // Tiles len..tp keep earlier blocks' (finite) values: their products are dropped.
    s.v.resize(16 * cin * tp, 0.0);
    s.m.resize(16 * cout_pad * tp, 0.0);
    for c in 0..cin {
        for sg in segs {
            let plane = &f.x[(sg.image * cin + c) * hw..][..hw];
            let out = &mut s.v[c * tp + sg.at * rp..];
            tiles::input(plane, g, (sg.ty0, sg.n), &mut s.t, out, (cin * tp, wide));
        }
    }
    let chunk = (L1_FLOATS / (PT * cin)).max(1) * PT;
    for xi in 0..16 {
        let vx = &s.v[xi * cin * tp..(xi + 1) * cin * tp];
        for c0 in (0..tp).step_by(chunk) {
            for ob in (0..cout_pad).step_by(obn) {
                let ub = &f.u[(xi * cout_pad + ob) * cin..(xi * cout_pad + ob + obn) * cin];
                for p in (c0..tp.min(c0 + chunk)).step_by(PT) {
                    let m = &mut s.m[(xi * cout_pad + ob) * tp..(xi * cout_pad + ob + obn) * tp];
                    micro(kernel, ub, (vx, tp), cin, p, m);
                }
            }
        }
    }
    for o in 0..cout {
        for sg in segs {
            let m = &s.m[o * tp + sg.at * rp..];
            let (top, bottom) = tiles::output(m, (cout_pad * tp, wide), sg.n * rp, &mut s.t);
            for ty in 0..sg.n {
                let row = 2 * (sg.ty0 + ty);
                for (k, src) in [top, bottom].into_iter().enumerate().take(g.h - row) {
                    let src = &src[2 * ty * rp..2 * ty * rp + g.w];
                    // SAFETY: row `row + k` < h of plane (image, o) belongs to this block alone
                    // and lies inside y's capacity b cout hw; src holds w floats.
                    unsafe {
                        let d = f.y.0.add((sg.image * cout + o) * hw + (row + k) * g.w);
                        std::ptr::copy_nonoverlapping(src.as_ptr(), d, g.w);
                    }
                }
            }
        }
    }
}

/// Rows i < `kernel.ob()` of `m` (`[ob][pitch]`), tiles p..p+24: the sum over c < cin of
/// ub[c ob + i] v[c pitch + p ..] (v and m have the same pitch).
fn micro(
    kernel: Kernel,
    ub: &[f32],
    (v, pitch): (&[f32], usize),
    cin: usize,
    p: usize,
    m: &mut [f32],
) {
    let obn = kernel.ob();
    assert!(ub.len() == cin * obn && cin >= 1 && p + PT <= pitch);
    assert!((cin - 1) * pitch + p + PT <= v.len() && m.len() == obn * pitch);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forward_blocked asserted that the CPU runs the kernel (AVX2 and FMA); the
        // bounds are checked above.
        Kernel::Avx2 => unsafe { micro_avx2(ub, v, (cin, pitch, p), m) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX-512F and VL.
        Kernel::Avx512Vl => unsafe { micro_avx512vl(ub, v, (cin, pitch, p), m) },
        _ => micro_scalar(ub, v, (cin, pitch, p), m),
    }
}

fn micro_scalar(ub: &[f32], v: &[f32], (cin, pitch, p): (usize, usize, usize), m: &mut [f32]) {
    let obn = ub.len() / cin;
    let mut acc = [[0f32; PT]; MAX_OB];
    for c in 0..cin {
        let xv = &v[c * pitch + p..c * pitch + p + PT];
        for (a, &wo) in acc.iter_mut().zip(&ub[c * obn..(c + 1) * obn]) {
            for (d, &x) in a.iter_mut().zip(xv) {
                *d += wo * x;
            }
        }
    }
    for (i, a) in acc[..obn].iter().enumerate() {
        m[i * pitch + p..i * pitch + p + PT].copy_from_slice(a);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn micro_avx2(ub: &[f32], v: &[f32], dims: (usize, usize, usize), m: &mut [f32]) {
    micro_simd::<4>(ub, v, dims, m)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn micro_avx512vl(ub: &[f32], v: &[f32], dims: (usize, usize, usize), m: &mut [f32]) {
    micro_simd::<8>(ub, v, dims, m)
}

/// N output channels x 24 tiles in 3 N accumulators, stored straight into m.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn micro_simd<const N: usize>(
    ub: &[f32],
    v: &[f32],
    (cin, pitch, p): (usize, usize, usize),
    m: &mut [f32],
) {
    use std::arch::x86_64::*;
    // SAFETY: reads v[c pitch + p .. + 24] and ub[c N .. + N] for c < cin, writes
    // m[i pitch + p .. + 24] for i < N: in bounds by the caller's checks.
    unsafe {
        let z = _mm256_setzero_ps();
        let mut a = [[z; 3]; N];
        for c in 0..cin {
            let xp = v.as_ptr().add(c * pitch + p);
            let x0 = _mm256_loadu_ps(xp);
            let x1 = _mm256_loadu_ps(xp.add(8));
            let x2 = _mm256_loadu_ps(xp.add(16));
            let wc = ub.as_ptr().add(c * N);
            for (i, ai) in a.iter_mut().enumerate() {
                let b = _mm256_broadcast_ss(&*wc.add(i));
                ai[0] = _mm256_fmadd_ps(b, x0, ai[0]);
                ai[1] = _mm256_fmadd_ps(b, x1, ai[1]);
                ai[2] = _mm256_fmadd_ps(b, x2, ai[2]);
            }
        }
        for (i, ai) in a.iter().enumerate() {
            let row = m.as_mut_ptr().add(i * pitch + p);
            for (q, v) in ai.iter().enumerate() {
                _mm256_storeu_ps(row.add(8 * q), *v);
            }
        }
    }
}
