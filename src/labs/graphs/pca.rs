//! Two-dimensional PCA of the hidden representations, for the embedding picture.

/// Projects the rows of `data` (n x d, row-major) onto their two leading principal axes. Returns
/// the points and the fraction of variance each axis explains. Axis signs are fixed (largest
/// loading positive) so that successive snapshots do not flip.
pub fn pca2(data: &[f32], n: usize, d: usize) -> (Vec<[f32; 2]>, [f32; 2]) {
    if n == 0 || d == 0 {
        return (vec![[0.0; 2]; n], [0.0; 2]);
    }
    let mut mean = vec![0f64; d];
    for r in data.chunks(d) {
        for (m, &x) in mean.iter_mut().zip(r) {
            *m += x as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0f64; d * d];
    for r in data.chunks(d) {
        for i in 0..d {
            let xi = r[i] as f64 - mean[i];
            for j in i..d {
                cov[i * d + j] += xi * (r[j] as f64 - mean[j]);
            }
        }
    }
    for i in 0..d {
        for j in i..d {
            cov[i * d + j] /= n as f64;
            cov[j * d + i] = cov[i * d + j];
        }
    }
    let total: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    let mut axes: Vec<Vec<f64>> = Vec::new();
    let mut explained = [0f32; 2];
    for (a, e) in explained.iter_mut().enumerate() {
        // Power iteration on the covariance deflated by the axes found so far.
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + (i * 7 + a * 3) as f64 % 5.0).collect();
        let mut lambda = 0.0;
        for _ in 0..300 {
            for u in &axes {
                let p: f64 = v.iter().zip(u).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= p * y);
            }
            let w: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| cov[i * d + j] * v[j]).sum())
                .collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-20 {
                break;
            }
            lambda = norm;
            v = w.into_iter().map(|x| x / norm).collect();
        }
        let big = v
            .iter()
            .cloned()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if big < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        *e = if total > 0.0 {
            (lambda / total) as f32
        } else {
            0.0
        };
        axes.push(v);
    }
    let points = data
        .chunks(d)
        .map(|r| {
            let mut p = [0f32; 2];
            for (k, ax) in axes.iter().enumerate() {
                p[k] = r
                    .iter()
                    .zip(&mean)
                    .zip(ax)
                    .map(|((&x, m), a)| (x as f64 - m) * a)
                    .sum::<f64>() as f32;
            }
            p
        })
        .collect();
    (points, explained)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_axes_of_an_anisotropic_cloud() {
        // Points spread 10x more along (1,1,0) than along (1,-1,0), none along z.
        let mut data = Vec::new();
        for i in 0..200 {
            let t = (i as f32 - 99.5) / 10.0;
            let s = ((i * 37 % 200) as f32 - 99.5) / 100.0;
            data.extend([t + s, t - s, 0.0]);
        }
        let (pts, ex) = pca2(&data, 200, 3);
        assert!(
            ex[0] > 0.95 && ex[1] > 0.005 && ex[0] + ex[1] > 0.999,
            "{ex:?}"
        );
        // First coordinate is the position along (1,1)/sqrt(2).
        for (p, r) in pts.iter().zip(data.chunks(3)) {
            let want = (r[0] + r[1]) / 2f32.sqrt();
            assert!((p[0].abs() - want.abs()).abs() < 1e-2, "{p:?} vs {want}");
        }
    }
}
