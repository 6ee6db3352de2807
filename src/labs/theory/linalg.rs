//! Small dense linear algebra in f64 for the checks: row-major matrices, products, singular
//! values by one-sided Jacobi (accurate for the tiny norms of long Jacobian products), a seeded
//! Gaussian RNG and a least-squares slope.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// A row-major `rows x cols` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Mat {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    #[cfg(test)]
    pub fn from_rows(rows: &[&[f64]]) -> Self {
        let cols = rows.first().map_or(0, |r| r.len());
        assert!(rows.iter().all(|r| r.len() == cols), "ragged rows");
        Self {
            rows: rows.len(),
            cols,
            data: rows.iter().flat_map(|r| r.iter().copied()).collect(),
        }
    }

    pub fn identity(n: usize) -> Self {
        let mut m = Self::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    pub fn gaussian(rows: usize, cols: usize, rng: &mut StdRng) -> Self {
        Self {
            rows,
            cols,
            data: (0..rows * cols)
                .map(|_| rng.sample(StandardNormal))
                .collect(),
        }
    }

    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn row_mut(&mut self, r: usize) -> &mut [f64] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn scale(&mut self, s: f64) {
        self.data.iter_mut().for_each(|v| *v *= s);
    }

    pub fn transpose(&self) -> Self {
        let mut t = Self::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                t.data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        t
    }

    /// `self * other`, i-k-j order so the inner loop runs over contiguous rows.
    pub fn matmul(&self, other: &Mat) -> Mat {
        assert_eq!(
            self.cols, other.rows,
            "matmul shapes {}x{} * {}x{}",
            self.rows, self.cols, other.rows, other.cols
        );
        let mut out = Mat::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            let orow = &mut out.data[i * other.cols..(i + 1) * other.cols];
            for k in 0..self.cols {
                let a = self.data[i * self.cols + k];
                if a == 0.0 {
                    continue;
                }
                for (o, b) in orow.iter_mut().zip(other.row(k)) {
                    *o += a * b;
                }
            }
        }
        out
    }

    pub fn matvec(&self, x: &[f64]) -> Vec<f64> {
        (0..self.rows).map(|r| dot(self.row(r), x)).collect()
    }

    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    /// Largest absolute entry of `self - other`, relative to the largest entry of `other`.
    pub fn rel_err(&self, other: &Mat) -> f64 {
        let d = self.data.iter().zip(&other.data).fold(0.0f64, |m, (a, b)| {
            if (a - b).is_nan() {
                f64::NAN
            } else {
                m.max((a - b).abs())
            }
        });
        d / other.max_abs().max(f64::MIN_POSITIVE)
    }
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn gauss(rng: &mut StdRng) -> f64 {
    rng.sample(StandardNormal)
}

/// Singular values, largest first, by one-sided Jacobi rotations on the columns. Relative
/// accuracy does not depend on the matrix's scale, so norms like 1e-40 come out right.
pub fn singular_values(m: &Mat) -> Vec<f64> {
    // Work on the orientation with fewer columns.
    let mut a = if m.cols > m.rows {
        m.transpose()
    } else {
        m.clone()
    };
    let (rows, cols) = (a.rows, a.cols);
    let col = |a: &Mat, j: usize| -> Vec<f64> { (0..rows).map(|r| a.data[r * cols + j]).collect() };
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..cols {
            for q in p + 1..cols {
                let (cp, cq) = (col(&a, p), col(&a, q));
                let (alpha, beta, gamma) = (dot(&cp, &cp), dot(&cq, &cq), dot(&cp, &cq));
                if gamma == 0.0 || gamma.abs() <= 1e-15 * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for r in 0..rows {
                    let (x, y) = (a.data[r * cols + p], a.data[r * cols + q]);
                    a.data[r * cols + p] = c * x - s * y;
                    a.data[r * cols + q] = s * x + c * y;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut sv: Vec<f64> = (0..cols).map(|j| norm(&col(&a, j))).collect();
    sv.sort_by(|x, y| y.total_cmp(x));
    sv
}

pub fn sigma_max(m: &Mat) -> f64 {
    singular_values(m).first().copied().unwrap_or(0.0)
}

/// An `n x k` matrix with orthonormal columns (Gram-Schmidt, twice for stability), `k <= n`.
pub fn orthonormal_columns(n: usize, k: usize, rng: &mut StdRng) -> Mat {
    assert!(k <= n, "cannot have {k} orthonormal columns in R^{n}");
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(k);
    while cols.len() < k {
        let mut v: Vec<f64> = (0..n).map(|_| gauss(rng)).collect();
        for _ in 0..2 {
            for c in &cols {
                let d = dot(&v, c);
                v.iter_mut().zip(c).for_each(|(x, y)| *x -= d * y);
            }
        }
        let nv = norm(&v);
        if nv > 1e-8 {
            v.iter_mut().for_each(|x| *x /= nv);
            cols.push(v);
        }
    }
    let mut m = Mat::zeros(n, k);
    for (j, c) in cols.iter().enumerate() {
        for (i, v) in c.iter().enumerate() {
            m.data[i * k + j] = *v;
        }
    }
    m
}

/// Least-squares slope of log10(y) against log10(x): the exponent of a power law.
pub fn loglog_slope(points: &[[f64; 2]]) -> f64 {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p[0] > 0.0 && p[1] > 0.0)
        .map(|p| (p[0].log10(), p[1].log10()))
        .collect();
    line_fit(&pts).0
}

/// Theil-Sen slope of log10(y) against log10(x): the median of the pairwise slopes, so one
/// timing spike (a preempted run) cannot decide a verdict.
pub fn loglog_slope_robust(points: &[[f64; 2]]) -> f64 {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p[0] > 0.0 && p[1] > 0.0)
        .map(|p| (p[0].log10(), p[1].log10()))
        .collect();
    crate::core::stats::theil_sen_slope(&pts)
}

/// Least-squares (slope, intercept) of y on x; NaN with fewer than two distinct x.
pub fn line_fit(pts: &[(f64, f64)]) -> (f64, f64) {
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if pts.len() < 2 || sxx == 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_and_transpose_by_hand() {
        let a = Mat::from_rows(&[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]]);
        let b = Mat::from_rows(&[&[1.0, 0.0, -1.0], &[2.0, 1.0, 0.0]]);
        let c = a.matmul(&b);
        assert_eq!(
            c,
            Mat::from_rows(&[&[5.0, 2.0, -1.0], &[11.0, 4.0, -3.0], &[17.0, 6.0, -5.0]])
        );
        assert_eq!(a.transpose().transpose(), a);
        assert_eq!(a.matvec(&[1.0, -1.0]), vec![-1.0, -1.0, -1.0]);
    }

    #[test]
    fn singular_values_of_known_matrices() {
        // [[3,0],[4,5]]: A^T A = [[25,20],[20,25]] -> eigenvalues 45 and 5.
        let s = singular_values(&Mat::from_rows(&[&[3.0, 0.0], &[4.0, 5.0]]));
        assert!(
            (s[0] - 45f64.sqrt()).abs() < 1e-12 && (s[1] - 5f64.sqrt()).abs() < 1e-12,
            "{s:?}"
        );
        // Rank one u v^T with |u| = 5, |v| = 1 scaled to 1e-40: relative accuracy must survive.
        let mut r = Mat::from_rows(&[&[3.0, 0.0, 0.0], &[4.0, 0.0, 0.0]]);
        r.scale(1e-40);
        let s = singular_values(&r);
        assert!((s[0] / 5e-40 - 1.0).abs() < 1e-12 && s[1] == 0.0, "{s:?}");
        // Wide matrices too.
        assert!((sigma_max(&Mat::from_rows(&[&[1.0, 1.0, 1.0, 1.0]])) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn sigma_max_matches_power_iteration_on_random_matrices() {
        let mut g = rng(3);
        for n in [1, 2, 5, 9] {
            let a = Mat::gaussian(n, n, &mut g);
            let ata = a.transpose().matmul(&a);
            let mut v = vec![1.0; n];
            for _ in 0..2000 {
                let w = ata.matvec(&v);
                let nw = norm(&w);
                v = w.iter().map(|x| x / nw).collect();
            }
            let lam = dot(&v, &ata.matvec(&v)).sqrt();
            assert!((sigma_max(&a) - lam).abs() < 1e-8 * lam, "n={n}");
        }
    }

    #[test]
    fn orthonormal_columns_are_orthonormal() {
        let q = orthonormal_columns(20, 7, &mut rng(1));
        let g = q.transpose().matmul(&q);
        assert!(g.rel_err(&Mat::identity(7)) < 1e-12);
    }

    #[test]
    fn slopes_of_power_laws() {
        let pts: Vec<[f64; 2]> = [10.0, 100.0, 1000.0]
            .iter()
            .map(|x: &f64| [*x, 3.0 * x * x])
            .collect();
        assert!((loglog_slope(&pts) - 2.0).abs() < 1e-12);
        assert!(loglog_slope(&[[1.0, 1.0]]).is_nan());
        // One spike moves least squares a lot and Theil-Sen not at all.
        let mut noisy: Vec<[f64; 2]> = (0..7)
            .map(|i| {
                let x = 256.0 * 2f64.powi(i);
                [x, 1e-6 * x]
            })
            .collect();
        noisy[5][1] *= 15.0;
        assert!((loglog_slope_robust(&noisy) - 1.0).abs() < 1e-9);
        assert!(loglog_slope(&noisy) > 1.2);
    }
}
