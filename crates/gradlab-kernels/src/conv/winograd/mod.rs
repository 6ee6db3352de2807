//! The 3x3 convolution (stride 1, zero padding 1, no bias) by Winograd's minimal filtering
//! F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): forward,
//! input gradient (the forward with the kernel flipped) and weight gradient.
//!
//! Each 2x2 output tile is `A^T [U ⊙ V] A` with `U = G g G^T` (the 3x3 kernel as a 4x4 array) and
//! `V = B^T d B` (the tile's 4x4 input patch): 16 multiplications per input channel instead of
//! 36, so the channel sums, which are nearly all of the arithmetic, shrink 2.25x. For every one
//! of the 16 points ξ of the 4x4 array the sum over channels is a small gemm
//! `M[ξ] (cout x tiles) = U[ξ] (cout x cin) V[ξ] (cin x tiles)` ([`forward`]).
//!
//! The weight gradient differentiates that formula: `dW = G^T [Σ_t (A dY_t A^T) ⊙ V_t] G`, where
//! the sum over tiles is, per ξ, a `cout x cin` gemm reduced over the tiles ([`weight_grad`]).
//!
//! The transforms ([`tiles`]) cost about as much as the products at 16 channels, so they run
//! as long contiguous loops over all the tiles of a block (vectorised with AVX2).
//!
//! Accuracy: the transforms add and subtract up to 9 inputs around each product, so the
//! rounding error is a few times the direct sum's (tests: within 1e-5 of the largest output,
//! like the direct kernels). Determinism: every output is one sum in a fixed order, whatever the
//! thread count.

mod forward;
mod tiles;
mod weight_grad;

pub use forward::{forward, forward_with};
pub use weight_grad::{weight_grad, weight_grad_with};

#[cfg(test)]
mod tests;
