//! What this CPU can run: the one place that asks (at run time, x86_64 only; every other CPU
//! takes the portable loops and `gemm`'s own SIMD).

/// Which micro-kernel to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust, any CPU.
    Scalar,
    /// AVX2 + FMA (x86_64, detected at run time).
    Avx2,
    /// The AVX2 code compiled with AVX-512VL: the same instructions and results, but 32 vector
    /// registers, so the larger register blocks do not spill.
    Avx512Vl,
}

impl Kernel {
    /// Output channels per micro-kernel call: 4 x 3 taps fill 12 of AVX2's 16 registers,
    /// 8 x 3 taps 24 of AVX-512VL's 32.
    pub fn ob(self) -> usize {
        match self {
            Kernel::Avx512Vl => 8,
            _ => 4,
        }
    }

    /// Every kernel this CPU runs, slowest first (tests compare them all).
    pub fn available() -> Vec<Kernel> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v = vec![Kernel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                v.push(Kernel::Avx2);
                if has!("avx512f") && has!("avx512vl") {
                    v.push(Kernel::Avx512Vl);
                }
            }
        }
        v
    }

    /// Whether this CPU runs the kernel. The kernels' `*_with` entry points assert it, which is
    /// what makes their SIMD paths sound: every `unsafe` call of a `#[target_feature]` function
    /// relies on it.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Kernel::Scalar => true,
                Kernel::Avx2 => has!("avx2") && has!("fma"),
                Kernel::Avx512Vl => {
                    has!("avx2") && has!("fma") && has!("avx512f") && has!("avx512vl")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Kernel::Scalar
        }
    }

    /// The fastest kernel this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                if has!("avx512f") && has!("avx512vl") {
                    return Kernel::Avx512Vl;
                }
                return Kernel::Avx2;
            }
        }
        Kernel::Scalar
    }
}

/// Whether this CPU has AVX2 (the BatchNorm loops compiled for AVX2 need nothing more).
#[cfg(target_arch = "x86_64")]
pub fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}
