//! 2x2 max-pooling, stride 2, on `[planes, h, w]` data (h and w even), keeping the argmax of
//! each window (one byte per output) for the backward.

use rayon::prelude::*;

/// 2x2 max-pool, stride 2, of `planes` planes `h` x `w` (both even); also the argmax.
pub fn forward(x: &[f32], planes: usize, h: usize, w: usize) -> (Vec<f32>, Vec<u8>) {
    let (ho, wo) = (h / 2, w / 2);
    let mut y = vec![0f32; planes * ho * wo];
    let mut arg = vec![0u8; planes * ho * wo];
    y.par_chunks_mut(ho * wo)
        .zip(arg.par_chunks_mut(ho * wo))
        .enumerate()
        .for_each(|(p, (yp, ap))| {
            let xp = &x[p * h * w..(p + 1) * h * w];
            for i in 0..ho {
                let (r0, r1) = (
                    &xp[2 * i * w..2 * i * w + w],
                    &xp[(2 * i + 1) * w..(2 * i + 2) * w],
                );
                for j in 0..wo {
                    // First maximum wins on ties (as candle's max over the window). Selects, not
                    // branches: which element wins is random, and a mispredicted branch per
                    // window cost more than the rest of the pool.
                    let c = [r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]];
                    let (mut m, mut k) = (c[0], 0u8);
                    for (q, &v) in c.iter().enumerate().skip(1) {
                        let gt = v > m;
                        m = if gt { v } else { m };
                        k = if gt { q as u8 } else { k };
                    }
                    yp[i * wo + j] = m;
                    ap[i * wo + j] = k;
                }
            }
        });
    (y, arg)
}

/// Adds the max-pool backward of `g` (`planes` x h/2 x w/2) into `dx` (`planes` x h x w).
pub fn backward(g: &[f32], arg: &[u8], planes: usize, h: usize, w: usize, dx: &mut [f32]) {
    let (ho, wo) = (h / 2, w / 2);
    dx.par_chunks_mut(h * w)
        .enumerate()
        .take(planes)
        .for_each(|(p, dp)| {
            let (gp, ap) = (
                &g[p * ho * wo..(p + 1) * ho * wo],
                &arg[p * ho * wo..(p + 1) * ho * wo],
            );
            for i in 0..ho {
                for j in 0..wo {
                    let k = ap[i * wo + j] as usize;
                    dp[(2 * i + k / 2) * w + 2 * j + k % 2] += gp[i * wo + j];
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pool_keeps_the_first_maximum_of_each_window() {
        // One plane 2 x 8: four windows, with ties (the first maximum wins, as in candle).
        let x = [
            1.0, 3.0, 2.0, 2.0, -1.0, -5.0, 0.0, 4.0, //
            3.0, 0.0, 2.0, 1.0, -1.0, -2.0, 4.0, 4.0,
        ];
        let (y, arg) = forward(&x, 1, 2, 8);
        assert_eq!(y, vec![3.0, 2.0, -1.0, 4.0]);
        assert_eq!(arg, vec![1, 0, 0, 1]);
        let mut dx = vec![0f32; 16];
        backward(&[1.0, 2.0, 3.0, 4.0], &arg, 1, 2, 8, &mut dx);
        let want_at = [1, 2, 4, 7];
        for (i, v) in dx.iter().enumerate() {
            let want = want_at
                .iter()
                .position(|&p| p == i)
                .map_or(0.0, |k| k as f32 + 1.0);
            assert_eq!(*v, want, "dx[{i}]");
        }
    }
}
