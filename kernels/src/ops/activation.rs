//! Elementwise activations. Forward writes `y`; backward accumulates `dx += dy·f'(x)`.

/// SiLU(x) = x·σ(x).
pub fn silu_forward(y: &mut [f32], x: &[f32]) { todo!("helper: ops") }
/// Backward of [`silu_forward`].
pub fn silu_backward(dx: &mut [f32], dy: &[f32], x: &[f32]) { todo!("helper: ops") }
/// softplus(x) = ln(1+eˣ), returning x when x > 20 (PyTorch threshold).
pub fn softplus_forward(y: &mut [f32], x: &[f32]) { todo!("helper: ops") }
/// Backward of [`softplus_forward`] (σ(x), 1 above the threshold).
pub fn softplus_backward(dx: &mut [f32], dy: &[f32], x: &[f32]) { todo!("helper: ops") }
/// tanh.
pub fn tanh_forward(y: &mut [f32], x: &[f32]) { todo!("helper: ops") }
/// Backward of [`tanh_forward`], from the saved output `y`: `dx += dy·(1−y²)`.
pub fn tanh_backward(dx: &mut [f32], dy: &[f32], y: &[f32]) { todo!("helper: ops") }
/// ReLU.
pub fn relu_forward(y: &mut [f32], x: &[f32]) { todo!("helper: ops") }
/// Backward of [`relu_forward`] (gradient 0 at x ≤ 0).
pub fn relu_backward(dx: &mut [f32], dy: &[f32], x: &[f32]) { todo!("helper: ops") }
