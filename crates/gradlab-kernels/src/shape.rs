//! The sizes of one 3x3 convolution.

/// A 3x3 convolution (stride 1, zero padding 1, no bias): input `[batch, cin, h, w]`, weights
/// `[cout, cin * 9]` (PyTorch's `[cout, cin, 3, 3]` flattened), output `[batch, cout, h, w]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvShape {
    pub batch: usize,
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
}

impl ConvShape {
    pub const fn new(batch: usize, cin: usize, cout: usize, h: usize, w: usize) -> Self {
        Self {
            batch,
            cin,
            cout,
            h,
            w,
        }
    }

    /// Floats of the input `[batch, cin, h, w]`.
    pub const fn input_len(&self) -> usize {
        self.batch * self.cin * self.h * self.w
    }

    /// Floats of the output (and its gradient) `[batch, cout, h, w]`.
    pub const fn output_len(&self) -> usize {
        self.batch * self.cout * self.h * self.w
    }

    /// Floats of the weights `[cout, cin * 9]`.
    pub const fn weight_len(&self) -> usize {
        self.cout * self.cin * 9
    }

    /// The same convolution with input and output channels swapped: the input gradient is the
    /// forward of this shape with the kernel [`flip`](crate::conv::flip)ped.
    pub const fn transposed(self) -> Self {
        Self {
            cin: self.cout,
            cout: self.cin,
            ..self
        }
    }
}

impl std::fmt::Display for ConvShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            batch,
            cin,
            cout,
            h,
            w,
        } = self;
        write!(f, "{batch} x {cin} -> {cout} at {h} x {w}")
    }
}
