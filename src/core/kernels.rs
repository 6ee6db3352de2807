//! Element-wise ops done in one pass of our own, with their backward.
//!
//! candle 0.11 hands every element-wise op over 64k elements to a spinning thread barrier; GAT's
//! N x 64 activations cross that size, and with two jobs training (or any other busy process)
//! the spinning costs more than the work (measured: 164 vs 61 ms per GAT epoch under load).
//! Fusing dropout and ELU here also drops the half-dozen temporaries of candle's ELU backward.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

pub fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(d) = s else {
        candle_core::bail!("{what}: only f32 is supported")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{what}: input must be contiguous")
    };
    Ok(&d[a..b])
}

/// How many rows ahead the gathers of the graph kernels ask for: far enough for a row to arrive
/// from memory while the rows before it are summed, near enough to stay in L1.
pub const PREFETCH_AHEAD: usize = 12;

/// Asks the CPU to start loading `v[at..at + len]` into its caches: a hint that changes no result.
/// Gathers of random rows (message passing over a graph larger than the caches) wait on memory
/// for most of their time otherwise.
#[inline(always)]
pub fn prefetch(v: &[f32], at: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let end = at.saturating_add(len).min(v.len());
        let mut i = at;
        while i < end {
            // SAFETY: `i < v.len()`, so the pointer is inside `v`; a prefetch reads nothing
            // architecturally and never faults.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    v.as_ptr().add(i).cast(),
                )
            };
            // The last element too: a row need not start on a cache line.
            i = if i + 16 < end || i + 1 == end {
                i + 16
            } else {
                end - 1
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, at, len);
}

/// Runs `f` on the f32 values of a CPU tensor (made contiguous first), without copying them out.
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (s, l) = t.storage_and_layout();
    match &*s {
        candle_core::Storage::Cpu(s) => f(f32_slice(s, l, "with_f32")?),
        _ => candle_core::bail!("with_f32: only CPU tensors are supported"),
    }
}

/// x * mask, element by element, with a constant mask (dropout).
pub fn mask_mul(x: &Tensor, mask: Vec<f32>) -> Result<Tensor> {
    if mask.len() != x.elem_count() {
        candle_core::bail!(
            "mask-mul: {} mask values for {} elements",
            mask.len(),
            x.elem_count()
        );
    }
    x.contiguous()?.apply_op1(MaskMul(Arc::new(mask)))
}

struct MaskMul(Arc<Vec<f32>>);

impl CustomOp1 for MaskMul {
    fn name(&self) -> &'static str {
        "mask-mul"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "mask-mul")?;
        Ok((
            CpuStorage::F32(x.iter().zip(self.0.iter()).map(|(a, m)| a * m).collect()),
            l.shape().clone(),
        ))
    }
    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1(MaskMul(self.0.clone()))?))
    }
}

/// ELU with alpha = 1.
pub fn elu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Elu)
}

struct Elu;

impl CustomOp1 for Elu {
    fn name(&self) -> &'static str {
        "elu"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "elu")?;
        Ok((
            CpuStorage::F32(
                x.iter()
                    .map(|&v| if v > 0.0 { v } else { v.exp_m1() })
                    .collect(),
            ),
            l.shape().clone(),
        ))
    }
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        // d elu = 1 for x > 0, else e^x = elu(x) + 1; the output alone decides (elu(x) > 0 iff x > 0).
        let y = res.flatten_all()?.to_vec1::<f32>()?;
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let d: Vec<f32> = y
            .iter()
            .zip(&g)
            .map(|(&y, &g)| if y > 0.0 { g } else { g * (y + 1.0) })
            .collect();
        Ok(Some(Tensor::from_vec(d, res.shape(), res.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_util::randn;
    use candle_core::{Device, Var};

    fn grad_of(
        f: impl Fn(&Tensor) -> Result<Tensor>,
        x0: &Tensor,
        proj: &Tensor,
    ) -> Result<Vec<f32>> {
        let x = Var::from_tensor(x0)?;
        let g = (f(x.as_tensor())? * proj)?.sum_all()?.backward()?;
        g.get(x.as_tensor())
            .expect("gradient")
            .flatten_all()?
            .to_vec1()
    }

    #[test]
    fn elu_matches_candle_in_value_and_gradient_and_finite_differences() -> Result<()> {
        let x = randn(&[7, 5], 110).affine(2.0, 0.0)?;
        let p = randn(&[7, 5], 111);
        let d = (elu(&x)? - x.elu(1.0)?)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_scalar::<f32>()?;
        assert!(d < 1e-6, "{d}");
        let a = grad_of(elu, &x, &p)?;
        let b = grad_of(|t| t.elu(1.0), &x, &p)?;
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let xv = x.flatten_all()?.to_vec1::<f32>()?;
        let pv = p.flatten_all()?.to_vec1::<f32>()?;
        for i in 0..xv.len() {
            let f = |v: f32| if v > 0.0 { v } else { v.exp_m1() };
            let fd = (f(xv[i] + 1e-3) - f(xv[i] - 1e-3)) / 2e-3 * pv[i];
            if xv[i].abs() > 1e-2 {
                assert!((fd - a[i]).abs() < 1e-3, "{fd} vs {}", a[i]);
            }
        }
        Ok(())
    }

    #[test]
    fn mask_mul_matches_candle_mul_and_its_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let x = randn(&[70_000], 112);
        let p = randn(&[70_000], 113);
        let mask: Vec<f32> = (0..70_000)
            .map(|i| if i % 3 == 0 { 0.0 } else { 1.5 })
            .collect();
        let mt = Tensor::from_vec(mask.clone(), 70_000, &dev)?;
        let d = (mask_mul(&x, mask.clone())? - (&x * &mt)?)?
            .abs()?
            .max(0)?
            .to_scalar::<f32>()?;
        assert!(d < 1e-7);
        let a = grad_of(|t| mask_mul(t, mask.clone()), &x, &p)?;
        let b = grad_of(|t| t * &mt, &x, &p)?;
        assert_eq!(a, b);
        Ok(())
    }
}
