//! The Winograd transforms of input, gradient and weights, and how the tiles are grouped.
//!
//! Tiles are numbered `ty * rp + tx` with `rp = tw + 1`: each tile row has one extra tile, so a
//! whole run of tile rows is one contiguous loop (the extra tile mixes two rows; the forward
//! drops it, and its gradient is zero so the weight gradient adds nothing from it).

use rayon::prelude::*;

use crate::Kernel;

/// The tile grid of an `h x w` plane.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geom {
    pub h: usize,
    pub w: usize,
    /// Tile rows of one image.
    pub th: usize,
    /// Tiles per tile row, the extra one included (`ceil(w / 2) + 1`).
    pub rp: usize,
}

impl Geom {
    pub fn new(h: usize, w: usize) -> Self {
        Geom {
            h,
            w,
            th: h.div_ceil(2),
            rp: w.div_ceil(2) + 1,
        }
    }
}

/// A run of tile rows within one image: rows `ty0 .. ty0 + n` of `image`, starting at tile row
/// `at` of its block.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seg {
    pub image: usize,
    pub ty0: usize,
    pub n: usize,
    pub at: usize,
}

/// Global tile rows g0..g1 (`th` an image) as runs within one image.
pub(super) fn segments(g0: usize, g1: usize, th: usize) -> Vec<Seg> {
    let mut v = Vec::new();
    let mut g = g0;
    while g < g1 {
        let (image, ty0) = (g / th, g % th);
        let n = (th - ty0).min(g1 - g);
        v.push(Seg {
            image,
            ty0,
            n,
            at: g - g0,
        });
        g += n;
    }
    v
}

/// Tile rows per block: at most `floats` of transforms (16 points of `ca` + `cb` channels,
/// `rp` tiles a row), in blocks of near-equal size over `total` tile rows.
pub(super) fn rows_per_block(
    floats: usize,
    (ca, cb): (usize, usize),
    rp: usize,
    total: usize,
) -> usize {
    let total = total.max(1);
    let most = (floats / (16 * (ca + cb) * rp).max(1)).clamp(1, total);
    total.div_ceil(total.div_ceil(most))
}

/// Channel `c` of a `[b, channels, h, w]` tensor.
#[derive(Clone, Copy)]
pub(super) struct Channel<'a> {
    pub src: &'a [f32],
    pub c: usize,
    pub channels: usize,
}

impl<'a> Channel<'a> {
    fn plane(&self, image: usize, g: Geom) -> &'a [f32] {
        let hw = g.h * g.w;
        &self.src[(image * self.channels + self.c) * hw..][..hw]
    }
}

/// Which transform [`segments_of`] applies.
#[derive(Clone, Copy, Debug)]
pub(super) enum Of {
    /// [`input`]
    Input,
    /// [`gradient`]
    Gradient,
}

/// One channel's `of` transform over a block's segments into `out` (point stride `stride`),
/// with the AVX2 kernels when the kernel has AVX2.
pub(super) fn segments_of(
    (kernel, of): (Kernel, Of),
    ch: Channel<'_>,
    g: Geom,
    segs: &[Seg],
    s: &mut Vec<f32>,
    (out, stride): (&mut [f32], usize),
) {
    // The entry points assert that the CPU runs the kernel: Avx2 and Avx512Vl have AVX2.
    let wide = kernel != Kernel::Scalar;
    for sg in segs {
        let (src, rows, o) = (
            ch.plane(sg.image, g),
            (sg.ty0, sg.n),
            &mut out[sg.at * g.rp..],
        );
        match of {
            Of::Input => input(src, g, rows, s, o, (stride, wide)),
            Of::Gradient => gradient(src, g, rows, s, o, (stride, wide)),
        }
    }
}

/// The 16 points of `U = G g G^T` for every (o, c), as `[16][cout_pad / ob][cin][ob]` (the
/// broadcasts of one micro-kernel step are adjacent). Computed in f64, rounded once; in parallel
/// (at 128 x 128 channels it was a tenth of a forward).
pub(super) fn weights(wt: &[f32], cin: usize, cout: usize, obn: usize) -> Vec<f32> {
    let cout_pad = cout.div_ceil(obn) * obn;
    let g4 = |a: [f64; 3]| {
        [
            a[0],
            (a[0] + a[1] + a[2]) / 2.0,
            (a[0] - a[1] + a[2]) / 2.0,
            a[2],
        ]
    };
    let points: Vec<[f32; 16]> = wt
        .par_chunks(9)
        .map(|k| {
            let col = |kx: usize| g4([k[kx] as f64, k[3 + kx] as f64, k[6 + kx] as f64]);
            let cols = [col(0), col(1), col(2)];
            let mut p = [0f32; 16];
            for i in 0..4 {
                let row = g4([cols[0][i], cols[1][i], cols[2][i]]);
                for (j, v) in row.into_iter().enumerate() {
                    p[4 * i + j] = v as f32;
                }
            }
            p
        })
        .collect();
    let mut u = vec![0f32; 16 * cout_pad * cin];
    u.par_chunks_mut(cout_pad * cin)
        .enumerate()
        .for_each(|(xi, ux)| {
            for o in 0..cout {
                for c in 0..cin {
                    ux[(o - o % obn) * cin + c * obn + o % obn] = points[o * cin + c][xi];
                }
            }
        });
    u
}

/// `dW = G^T S G` for every (o, c) from `s` `[16][cout_pad][cin_pad]`, in f64.
pub(super) fn weights_back(
    s: &[f32],
    cin: usize,
    cout: usize,
    (cin_pad, cout_pad): (usize, usize),
) -> Vec<f32> {
    let gt = |v: [f64; 4]| {
        [
            v[0] + (v[1] + v[2]) / 2.0,
            (v[1] - v[2]) / 2.0,
            (v[1] + v[2]) / 2.0 + v[3],
        ]
    };
    let mut dw = vec![0f32; cout * cin * 9];
    dw.par_chunks_mut(9).enumerate().for_each(|(oc, k)| {
        let (o, c) = (oc / cin, oc % cin);
        let at = |xi: usize| s[(xi * cout_pad + o) * cin_pad + c] as f64;
        let cols: [[f64; 3]; 4] =
            std::array::from_fn(|j| gt(std::array::from_fn(|i| at(4 * i + j))));
        for ky in 0..3 {
            let row = gt(std::array::from_fn(|j| cols[j][ky]));
            for kx in 0..3 {
                k[ky * 3 + kx] = row[kx] as f32;
            }
        }
    });
    dw
}

/// `B^T d B` of tile rows `ty0 .. ty0 + n` of one `h x w` input plane: point ξ of tile t goes to
/// `out[ξ * stride + t]`, t < n rp. `s` is scratch.
#[inline(always)]
pub(super) fn input(
    src: &[f32],
    g: Geom,
    (ty0, n): (usize, usize),
    s: &mut Vec<f32>,
    out: &mut [f32],
    (stride, wide): (usize, bool),
) {
    let (rp, len) = (g.rp, n * g.rp);
    // Four planes [row parity][column parity] of the zero-padded rows 2 ty0 - 1 ..: padded row
    // 2 r + p is row r of the planes of parity p, padded column 2 k + q is column k of parity q.
    // One more float each: the extra tile of the last row reads it.
    let pl = (n + 1) * rp + 1;
    s.resize(4 * pl, 0.0);
    let planes = &mut s[..];
    for j in 0..2 * n + 2 {
        let (pe, row) = (2 * (j % 2), j / 2 * rp);
        let (lo, hi) = planes.split_at_mut((pe + 1) * pl);
        let (even, odd) = (&mut lo[pe * pl + row..][..rp], &mut hi[row..row + rp]);
        let sy = (2 * ty0 + j).checked_sub(1).filter(|&sy| sy < g.h);
        let row = sy.map(|sy| &src[sy * g.w..(sy + 1) * g.w]);
        split_row(row, (even, odd), true, wide);
    }
    for p in 0..4 {
        planes[(p + 1) * pl - 1] = 0.0;
    }
    let p: [&[f32]; 4] = std::array::from_fn(|q| &planes[q * pl..(q + 1) * pl]);
    by_lanes(len, wide, |t, step| match step {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `wide` only when the kernel (so the CPU) has AVX2.
        Step::Avx2 => unsafe { input8(p, rp, t, out, stride) },
        Step::Lanes => input_at::<LANES>(p, rp, t, out, stride),
        Step::One => input_at::<1>(p, rp, t, out, stride),
    });
}

/// How [`by_lanes`] asks for tiles t.. to be done.
enum Step {
    /// 8 tiles with the AVX2 kernel.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 8 tiles, portable.
    Lanes,
    /// 1 tile.
    One,
}

/// Calls `f` for tiles 0..len: 8 at a time (with AVX2 when `wide`), then one at a time.
#[inline(always)]
fn by_lanes(len: usize, wide: bool, mut f: impl FnMut(usize, Step)) {
    let full = len / LANES * LANES;
    for t in (0..full).step_by(LANES) {
        #[cfg(target_arch = "x86_64")]
        if wide {
            f(t, Step::Avx2);
            continue;
        }
        f(t, Step::Lanes);
    }
    let _ = wide;
    for t in full..len {
        f(t, Step::One);
    }
}

/// Lanes of the fused transforms (one AVX2 vector).
const LANES: usize = 8;

/// `B^T d B` of tiles t .. t + N from the four parity planes `p` (see [`input`]).
#[inline(always)]
fn input_at<const N: usize>(p: [&[f32]; 4], rp: usize, t: usize, out: &mut [f32], stride: usize) {
    // d(r, c): row r, column c of the tiles' 4 x 4 patches.
    let d = |r: usize, c: usize| -> [f32; N] {
        p[2 * (r % 2) + c % 2][t + r / 2 * rp + c / 2..][..N]
            .try_into()
            .expect("N floats")
    };
    // Vertical (`B^T`): rows d0 - d2, d1 + d2, d2 - d1, d1 - d3, per column.
    let e: [[[f32; N]; 4]; 4] = std::array::from_fn(|c| {
        let (d0, d1, d2, d3) = (d(0, c), d(1, c), d(2, c), d(3, c));
        [sub(d0, d2), add(d1, d2), sub(d2, d1), sub(d1, d3)]
    });
    // Horizontal (`B`): the same combinations across the columns.
    for i in 0..4 {
        let (c0, c1, c2, c3) = (e[0][i], e[1][i], e[2][i], e[3][i]);
        for (j, v) in [sub(c0, c2), add(c1, c2), sub(c2, c1), sub(c1, c3)]
            .into_iter()
            .enumerate()
        {
            out[(4 * i + j) * stride + t..][..N].copy_from_slice(&v);
        }
    }
}

#[inline(always)]
fn add<const N: usize>(a: [f32; N], b: [f32; N]) -> [f32; N] {
    std::array::from_fn(|k| a[k] + b[k])
}

#[inline(always)]
fn sub<const N: usize>(a: [f32; N], b: [f32; N]) -> [f32; N] {
    std::array::from_fn(|k| a[k] - b[k])
}

#[inline(always)]
fn neg<const N: usize>(a: [f32; N]) -> [f32; N] {
    std::array::from_fn(|k| -a[k])
}

/// `A^T M A` of `len` tiles whose point ξ is at `m[ξ * stride + t]`: the top and bottom output
/// rows of every tile, interleaved (tile t's outputs at 2 t and 2 t + 1). `s` is scratch.
#[inline(always)]
pub(super) fn output<'s>(
    m: &[f32],
    (stride, wide): (usize, bool),
    len: usize,
    s: &'s mut Vec<f32>,
) -> (&'s [f32], &'s [f32]) {
    s.resize(4 * len, 0.0);
    let (top, bottom) = s.split_at_mut(2 * len);
    by_lanes(len, wide, |t, step| match step {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `wide` only when the kernel (so the CPU) has AVX2.
        Step::Avx2 => unsafe { output8(m, stride, t, top, bottom) },
        Step::Lanes => output_at::<LANES>(m, stride, t, top, bottom),
        Step::One => output_at::<1>(m, stride, t, top, bottom),
    });
    (top, bottom)
}

/// `A^T M A` of tiles t .. t + N (see [`output`]).
#[inline(always)]
fn output_at<const N: usize>(
    m: &[f32],
    stride: usize,
    t: usize,
    top: &mut [f32],
    bottom: &mut [f32],
) {
    let p = |xi: usize| -> [f32; N] { m[xi * stride + t..][..N].try_into().expect("N floats") };
    // Horizontal: h[i][0] = M[i][0] + M[i][1] + M[i][2], h[i][1] = M[i][1] - M[i][2] - M[i][3].
    let h: [[[f32; N]; 2]; 4] = std::array::from_fn(|i| {
        let (m0, m1, m2, m3) = (p(4 * i), p(4 * i + 1), p(4 * i + 2), p(4 * i + 3));
        [add(add(m0, m1), m2), sub(sub(m1, m2), m3)]
    });
    // Vertical: Y[0][j] = h[0][j] + h[1][j] + h[2][j], Y[1][j] = h[1][j] - h[2][j] - h[3][j].
    for j in 0..2 {
        let y0 = add(add(h[0][j], h[1][j]), h[2][j]);
        let y1 = sub(sub(h[1][j], h[2][j]), h[3][j]);
        for k in 0..N {
            top[2 * (t + k) + j] = y0[k];
            bottom[2 * (t + k) + j] = y1[k];
        }
    }
}

/// `A dY A^T` of tile rows `ty0 .. ty0 + n` of one `h x w` output-gradient plane: point ξ of
/// tile t goes to `out[ξ * stride + t]`, t < n rp (the extra tile of each row gets zeros).
#[inline(always)]
pub(super) fn gradient(
    src: &[f32],
    g: Geom,
    (ty0, n): (usize, usize),
    s: &mut Vec<f32>,
    out: &mut [f32],
    (stride, wide): (usize, bool),
) {
    let (rp, len) = (g.rp, n * g.rp);
    s.resize(4 * len, 0.0);
    // Planes [row parity][column parity]: gradient row 2 (ty0 + ty) + p, column 2 tx + q.
    let planes = &mut s[..4 * len];
    for ty in 0..n {
        for p in 0..2 {
            let (lo, hi) = planes.split_at_mut((2 * p + 1) * len);
            let (even, odd) = (
                &mut lo[2 * p * len + ty * rp..][..rp],
                &mut hi[ty * rp..][..rp],
            );
            let row = 2 * (ty0 + ty) + p;
            let row = (row < g.h).then(|| &src[row * g.w..(row + 1) * g.w]);
            split_row(row, (even, odd), false, wide);
        }
    }
    let p: [&[f32]; 4] = std::array::from_fn(|q| &planes[q * len..(q + 1) * len]);
    by_lanes(len, wide, |t, step| match step {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `wide` only when the kernel (so the CPU) has AVX2.
        Step::Avx2 => unsafe { gradient8(p, t, out, stride) },
        Step::Lanes => gradient_at::<LANES>(p, t, out, stride),
        Step::One => gradient_at::<1>(p, t, out, stride),
    });
}

/// `A dY A^T` of tiles t .. t + N from the four parity planes `p` (see [`gradient`]).
#[inline(always)]
fn gradient_at<const N: usize>(p: [&[f32]; 4], t: usize, out: &mut [f32], stride: usize) {
    let g =
        |r: usize, c: usize| -> [f32; N] { p[2 * r + c][t..][..N].try_into().expect("N floats") };
    // `A` over rows, then over columns: [a, a + b, a - b, -b].
    let a4 = |a: [f32; N], b: [f32; N]| [a, add(a, b), sub(a, b), neg(b)];
    let (c0, c1) = (a4(g(0, 0), g(1, 0)), a4(g(0, 1), g(1, 1)));
    for i in 0..4 {
        for (j, v) in a4(c0[i], c1[i]).into_iter().enumerate() {
            out[(4 * i + j) * stride + t..][..N].copy_from_slice(&v);
        }
    }
}

/// One row (`None`: a row of the zero padding) split by column parity into `even` and `odd`,
/// zeros past its end. With `pad` the row is first given the input's zero column on the left,
/// so that even[k] is column 2 k - 1 and odd[k] column 2 k; without, even[k] is column 2 k.
#[inline(always)]
fn split_row(row: Option<&[f32]>, (even, odd): (&mut [f32], &mut [f32]), pad: bool, wide: bool) {
    let Some(s) = row else {
        even.fill(0.0);
        odd.fill(0.0);
        return;
    };
    let w = s.len();
    if pad {
        even[0] = 0.0;
        deinterleave(s, odd, &mut even[1..], wide);
        odd[w.div_ceil(2)..].fill(0.0);
        even[w / 2 + 1..].fill(0.0);
    } else {
        deinterleave(s, even, odd, wide);
        even[w.div_ceil(2)..].fill(0.0);
        odd[w / 2..].fill(0.0);
    }
}

/// even[k] = s[2 k], odd[k] = s[2 k + 1]; with s.len() odd, even also gets s's last value.
/// (`wide`: 8 pairs at a time with AVX2; LLVM leaves this loop scalar in some callers.)
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut, unused_variables))]
fn deinterleave(s: &[f32], even: &mut [f32], odd: &mut [f32], wide: bool) {
    let mut n0 = 0;
    #[cfg(target_arch = "x86_64")]
    if wide {
        n0 = s.len() / 16 * 8;
        // SAFETY: `wide` only when the CPU has AVX2; the slices hold n0 pairs.
        unsafe { deinterleave8(&s[..2 * n0], &mut even[..n0], &mut odd[..n0]) };
    }
    let (s, even, odd) = (&s[2 * n0..], &mut even[n0..], &mut odd[n0..]);
    let n = s.len() / 2;
    let (ev, od, pairs) = (&mut even[..n], &mut odd[..n], &s[..2 * n]);
    for k in 0..n {
        ev[k] = pairs[2 * k];
        od[k] = pairs[2 * k + 1];
    }
    if s.len() % 2 == 1 {
        even[n] = s[2 * n];
    }
}

/// 8 floats at `s[at..]`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn load8(s: &[f32], at: usize) -> std::arch::x86_64::__m256 {
    let s = &s[at..at + LANES];
    // SAFETY: s holds 8 floats (unaligned loads need no more); AVX is enabled in every caller.
    unsafe { std::arch::x86_64::_mm256_loadu_ps(s.as_ptr()) }
}

/// Stores 8 floats at `s[at..]`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn store8(s: &mut [f32], at: usize, v: std::arch::x86_64::__m256) {
    let s = &mut s[at..at + LANES];
    // SAFETY: s holds 8 floats; AVX is enabled in every caller.
    unsafe { std::arch::x86_64::_mm256_storeu_ps(s.as_mut_ptr(), v) }
}

/// Row i of `B^T` (and column i of `B`) applied to (x0, x1, x2, x3).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn bt8(i: usize, x: [std::arch::x86_64::__m256; 4]) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // SAFETY: AVX is enabled in every caller (all four arms).
    unsafe {
        match i {
            0 => _mm256_sub_ps(x[0], x[2]),
            1 => _mm256_add_ps(x[1], x[2]),
            2 => _mm256_sub_ps(x[2], x[1]),
            _ => _mm256_sub_ps(x[1], x[3]),
        }
    }
}

/// [`input_at`] for 8 tiles with AVX2 (the same operations in the same order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn input8(p: [&[f32]; 4], rp: usize, t: usize, out: &mut [f32], stride: usize) {
    // d[r][c]: row r, column c of the tiles' 4 x 4 patches.
    let mut d = [[std::arch::x86_64::_mm256_setzero_ps(); 4]; 4];
    for (r, dr) in d.iter_mut().enumerate() {
        for (c, v) in dr.iter_mut().enumerate() {
            *v = load8(p[2 * (r % 2) + c % 2], t + r / 2 * rp + c / 2);
        }
    }
    for i in 0..4 {
        let e = [
            bt8(i, [d[0][0], d[1][0], d[2][0], d[3][0]]),
            bt8(i, [d[0][1], d[1][1], d[2][1], d[3][1]]),
            bt8(i, [d[0][2], d[1][2], d[2][2], d[3][2]]),
            bt8(i, [d[0][3], d[1][3], d[2][3], d[3][3]]),
        ];
        for j in 0..4 {
            store8(out, (4 * i + j) * stride + t, bt8(j, e));
        }
    }
}

/// [`output_at`] for 8 tiles with AVX2 (the same operations in the same order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn output8(m: &[f32], stride: usize, t: usize, top: &mut [f32], bottom: &mut [f32]) {
    use std::arch::x86_64::*;
    let mut h = [[_mm256_setzero_ps(); 2]; 4];
    for (i, hi) in h.iter_mut().enumerate() {
        let mi: [__m256; 4] = [0, 1, 2, 3].map(|j| load8(m, (4 * i + j) * stride + t));
        hi[0] = _mm256_add_ps(_mm256_add_ps(mi[0], mi[1]), mi[2]);
        hi[1] = _mm256_sub_ps(_mm256_sub_ps(mi[1], mi[2]), mi[3]);
    }
    let mut y = [[_mm256_setzero_ps(); 2]; 2];
    for j in 0..2 {
        y[0][j] = _mm256_add_ps(_mm256_add_ps(h[0][j], h[1][j]), h[2][j]);
        y[1][j] = _mm256_sub_ps(_mm256_sub_ps(h[1][j], h[2][j]), h[3][j]);
    }
    // Interleave columns 0 and 1 of the 8 tiles: 16 consecutive outputs per row.
    for (row, out) in [(y[0], top), (y[1], bottom)] {
        let (lo, hi) = (
            _mm256_unpacklo_ps(row[0], row[1]),
            _mm256_unpackhi_ps(row[0], row[1]),
        );
        store8(out, 2 * t, _mm256_permute2f128_ps(lo, hi, 0x20));
        store8(out, 2 * t + LANES, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
}

/// [`gradient_at`] for 8 tiles with AVX2 (the same operations in the same order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gradient8(p: [&[f32]; 4], t: usize, out: &mut [f32], stride: usize) {
    use std::arch::x86_64::*;
    let sign = _mm256_set1_ps(-0.0);
    // `A` over rows, then over columns: [a, a + b, a - b, -b].
    let mut c = [[_mm256_setzero_ps(); 4]; 2];
    for (q, cq) in c.iter_mut().enumerate() {
        let (a, b) = (load8(p[q], t), load8(p[2 + q], t));
        *cq = [
            a,
            _mm256_add_ps(a, b),
            _mm256_sub_ps(a, b),
            _mm256_xor_ps(b, sign),
        ];
    }
    for (i, (&a, &b)) in c[0].iter().zip(&c[1]).enumerate() {
        let v = [
            a,
            _mm256_add_ps(a, b),
            _mm256_sub_ps(a, b),
            _mm256_xor_ps(b, sign),
        ];
        for (j, v) in v.into_iter().enumerate() {
            store8(out, (4 * i + j) * stride + t, v);
        }
    }
}

/// [`deinterleave`] of 8 pairs at a time (s.len() = 2 even.len() = 2 odd.len(), a multiple of 16).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn deinterleave8(s: &[f32], even: &mut [f32], odd: &mut [f32]) {
    use std::arch::x86_64::*;
    for ((pairs, e), o) in s
        .chunks_exact(16)
        .zip(even.chunks_exact_mut(8))
        .zip(odd.chunks_exact_mut(8))
    {
        // SAFETY: pairs holds 16 floats, e and o 8 each.
        unsafe {
            let (a, b) = (
                _mm256_loadu_ps(pairs.as_ptr()),
                _mm256_loadu_ps(pairs.as_ptr().add(8)),
            );
            // [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit lanes reordered 0 2 1 3.
            let ev = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)),
                0xD8,
            ));
            let od = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)),
                0xD8,
            ));
            _mm256_storeu_ps(e.as_mut_ptr(), ev);
            _mm256_storeu_ps(o.as_mut_ptr(), od);
        }
    }
}
