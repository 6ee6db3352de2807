//! gradlab's CPU kernels on plain `f32` slices: the 3x3 convolution (stride 1, zero padding 1,
//! no bias) forward, input gradient and weight gradient by direct, banded-gemm and Winograd
//! F(2x2, 3x3) kernels ([`conv`]), 2x2 max-pooling ([`pool`]), the 2x2 stride-2 transposed
//! convolution ([`up`]), BatchNorm + ReLU ([`bn`]) and the AdamW update ([`adamw`]).
//!
//! Tensors are NCHW `f32` buffers; a convolution's sizes travel as one [`ConvShape`]. The SIMD
//! variants are picked at run time by [`cpu`] (the one place that asks the CPU what it has),
//! with portable fallbacks. Every reduction has a static split and a fixed order: results do
//! not depend on the thread count.
//!
//! No GUI, no database, no candle: the app wraps these as candle custom ops and runs the U-Net
//! step on them (`src/labs/segmentation/` in the app).

pub mod adamw;
pub mod alloc;
pub mod bn;
pub mod conv;
pub mod cpu;
pub mod pool;
pub mod reference;
mod shape;
pub mod timers;
pub mod up;

pub use cpu::Kernel;
pub use shape::ConvShape;

/// An output buffer's base pointer shared by the tasks that each write their own disjoint part
/// of it (the writers state why their ranges are disjoint).
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: the pointer is only dereferenced by writers of disjoint ranges of one live buffer,
// which outlives the parallel loop that shares it.
unsafe impl Send for SendPtr {}
// SAFETY: as for Send: shared references only hand out the pointer value.
unsafe impl Sync for SendPtr {}
