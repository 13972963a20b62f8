//! The qt-seed target CNN (spec §5.2) from a flat weight vector θ (M = 6,676), forward and
//! backward: conv1 1→4 3×3 → ReLU → maxpool 2 (28 → 26 → 13); conv2 4→8 3×3 → ReLU → maxpool
//! 2, floor (13 → 11 → 5); flatten (channel, row, column) → fc1 200→30 → ReLU → fc2 30→10
//! logits. θ holds, row-major and in order: conv1.weight (4,1,3,3), conv1.bias, conv2.weight
//! (8,4,3,3), conv2.bias, fc1.weight (30,200), fc1.bias, fc2.weight (10,30), fc2.bias.
//!
//! The forward keeps its activations ([`Activations`]) and [`TargetCnn::backward`] turns
//! ∂L/∂logits into ∂L/∂θ (accumulated, in θ's layout); the eval forward is the same code.
//! This is the network's one description: the trainer trains Quantum-Train and the directly
//! trained baseline through it, and the inference engine runs an exported CNN with it.

use alloc::vec;
use alloc::vec::Vec;

/// M: weights of the target CNN.
pub const N_WEIGHTS: usize = 6_676;

/// Image side (28×28 input).
pub const SIDE: usize = 28;

/// Classes (logits).
pub const N_CLASSES: usize = 10;

/// θ's tensors, in order: (weights, bias) of conv1, conv2, fc1, fc2.
pub const SIZES: [(usize, usize); 4] = [(36, 4), (288, 8), (6000, 30), (300, 10)];

/// θ's tensors by their PyTorch names (`state_dict` of the seed's `classical_target_nn.py`)
/// and shapes, in θ's order.
pub const TENSORS: [(&str, &[usize]); 8] = [
    ("conv1.weight", &[4, 1, 3, 3]),
    ("conv1.bias", &[4]),
    ("conv2.weight", &[8, 4, 3, 3]),
    ("conv2.bias", &[8]),
    ("fc1.weight", &[30, 200]),
    ("fc1.bias", &[30]),
    ("fc2.weight", &[10, 30]),
    ("fc2.bias", &[10]),
];

/// The CNN with its weights taken from θ.
pub struct TargetCnn<'a> {
    /// (weight, bias) of conv1, conv2, fc1, fc2
    layers: [(&'a [f32], &'a [f32]); 4],
}

/// What one image's forward keeps for its backward.
#[derive(Clone, Debug, Default)]
pub struct Activations {
    /// conv1 after ReLU (4, 26, 26)
    a1: Vec<f32>,
    /// after the first pool (4, 13, 13)
    p1: Vec<f32>,
    /// conv2 after ReLU (8, 11, 11)
    a2: Vec<f32>,
    /// after the second pool, flattened (200)
    p2: Vec<f32>,
    /// fc1 after ReLU (30)
    h: Vec<f32>,
    /// logits (10)
    pub logits: Vec<f32>,
}

/// θ's tensors as mutable slices (gradients), in [`SIZES`]' order.
fn split_mut(g: &mut [f32]) -> [(&mut [f32], &mut [f32]); 4] {
    let mut rest = g;
    SIZES.map(|(w, b)| {
        let (wt, tail) = core::mem::take(&mut rest).split_at_mut(w);
        let (bs, tail) = tail.split_at_mut(b);
        rest = tail;
        (wt, bs)
    })
}

/// Valid 3×3 convolution of x (ci, h, w) → (co, h−2, w−2), then ReLU.
fn conv3x3_relu(x: &[f32], ci: usize, h: usize, w: usize, wt: &[f32], b: &[f32]) -> Vec<f32> {
    let (co, oh, ow) = (b.len(), h - 2, w - 2);
    let mut y = vec![0.0f32; co * oh * ow];
    for o in 0..co {
        for r in 0..oh {
            for c in 0..ow {
                let mut acc = b[o];
                for i in 0..ci {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            acc += wt[((o * ci + i) * 3 + ky) * 3 + kx]
                                * x[(i * h + r + ky) * w + c + kx];
                        }
                    }
                }
                y[(o * oh + r) * ow + c] = acc.max(0.0);
            }
        }
    }
    y
}

/// Backward of [`conv3x3_relu`] from its output y and dy: accumulates dW, db and, if given,
/// dx.
fn conv3x3_relu_bwd(
    x: &[f32],
    (ci, h, w): (usize, usize, usize),
    wt: &[f32],
    y: &[f32],
    dy: &[f32],
    (dw, db): (&mut [f32], &mut [f32]),
    mut dx: Option<&mut [f32]>,
) {
    let (oh, ow) = (h - 2, w - 2);
    for (o, dbo) in db.iter_mut().enumerate() {
        for r in 0..oh {
            for c in 0..ow {
                let at = (o * oh + r) * ow + c;
                if y[at] <= 0.0 {
                    continue;
                }
                let g = dy[at];
                *dbo += g;
                for i in 0..ci {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (k, xi) = (
                                ((o * ci + i) * 3 + ky) * 3 + kx,
                                (i * h + r + ky) * w + c + kx,
                            );
                            dw[k] += g * x[xi];
                            if let Some(dx) = dx.as_deref_mut() {
                                dx[xi] += g * wt[k];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The input index of the maximum of each 2×2 window, stride 2 (floor), of x (c, h, w): the
/// first of the largest in the order (0,0), (0,1), (1,0), (1,1).
fn maxpool2_argmax(x: &[f32], ch: usize, h: usize, w: usize) -> Vec<usize> {
    let (oh, ow) = (h / 2, w / 2);
    let mut arg = Vec::with_capacity(ch * oh * ow);
    for c in 0..ch {
        for r in 0..oh {
            for q in 0..ow {
                let at = |dy: usize, dx: usize| (c * h + 2 * r + dy) * w + 2 * q + dx;
                let mut best = at(0, 0);
                for i in [at(0, 1), at(1, 0), at(1, 1)] {
                    if x[i] > x[best] {
                        best = i;
                    }
                }
                arg.push(best);
            }
        }
    }
    arg
}

/// y = W·x + b (W (out, in)), then ReLU if asked.
fn dense(x: &[f32], wt: &[f32], b: &[f32], relu: bool) -> Vec<f32> {
    b.iter()
        .enumerate()
        .map(|(o, &bo)| {
            let v = bo
                + wt[o * x.len()..(o + 1) * x.len()]
                    .iter()
                    .zip(x)
                    .map(|(a, v)| a * v)
                    .sum::<f32>();
            if relu {
                v.max(0.0)
            } else {
                v
            }
        })
        .collect()
}

/// Backward of [`dense`] from its output y (ReLU masks where y ≤ 0 when `relu`) and dy:
/// accumulates dW and db and returns dx.
fn dense_bwd(
    x: &[f32],
    wt: &[f32],
    y: &[f32],
    dy: &[f32],
    relu: bool,
    (dw, db): (&mut [f32], &mut [f32]),
) -> Vec<f32> {
    let n = x.len();
    let mut dx = vec![0.0f32; n];
    for (o, &g) in dy.iter().enumerate() {
        if relu && y[o] <= 0.0 {
            continue;
        }
        db[o] += g;
        for ((dwk, &xk), (dxk, &wk)) in dw[o * n..(o + 1) * n]
            .iter_mut()
            .zip(x)
            .zip(dx.iter_mut().zip(&wt[o * n..(o + 1) * n]))
        {
            *dwk += g * xk;
            *dxk += g * wk;
        }
    }
    dx
}

impl<'a> TargetCnn<'a> {
    /// Slices θ (M values). Panics if θ is not M long.
    pub fn new(theta: &'a [f32]) -> Self {
        assert_eq!(
            theta.len(),
            N_WEIGHTS,
            "TargetCnn: θ must hold {N_WEIGHTS} weights"
        );
        let mut rest = theta;
        Self {
            layers: SIZES.map(|(w, b)| {
                let (wt, tail) = rest.split_at(w);
                let (bs, tail) = tail.split_at(b);
                rest = tail;
                (wt, bs)
            }),
        }
    }

    /// The forward pass of one normalised 28×28 image x (784, row-major, MNIST-normalised
    /// pixels), keeping its activations. Panics if x holds fewer than 784 values.
    pub fn forward(&self, x: &[f32]) -> Activations {
        let [c1, c2, f1, f2] = self.layers;
        let a1 = conv3x3_relu(x, 1, SIDE, SIDE, c1.0, c1.1);
        let p1: Vec<f32> = maxpool2_argmax(&a1, 4, 26, 26)
            .into_iter()
            .map(|i| a1[i])
            .collect();
        let a2 = conv3x3_relu(&p1, 4, 13, 13, c2.0, c2.1);
        let p2: Vec<f32> = maxpool2_argmax(&a2, 8, 11, 11)
            .into_iter()
            .map(|i| a2[i])
            .collect();
        let h = dense(&p2, f1.0, f1.1, true);
        let logits = dense(&h, f2.0, f2.1, false);
        Activations {
            a1,
            p1,
            a2,
            p2,
            h,
            logits,
        }
    }

    /// Logits (10) of one normalised 28×28 image x (784; see [`Self::forward`]).
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        self.forward(x).logits
    }

    /// Backward of [`Self::forward`] for image x with activations `a`: accumulates ∂L/∂θ into
    /// `dtheta` (M, θ's layout) for dlogits = ∂L/∂logits (10); `a` must be `forward(x)`'s.
    /// Panics if `dtheta` is shorter than M.
    pub fn backward(&self, x: &[f32], a: &Activations, dlogits: &[f32], dtheta: &mut [f32]) {
        let [c1, c2, f1, f2] = self.layers;
        let [g1, g2, gf1, gf2] = split_mut(dtheta);
        let dh = dense_bwd(&a.h, f2.0, &a.logits, dlogits, false, gf2);
        let dp2 = dense_bwd(&a.p2, f1.0, &a.h, &dh, true, gf1);
        let mut da2 = vec![0.0f32; a.a2.len()];
        for (i, g) in maxpool2_argmax(&a.a2, 8, 11, 11).into_iter().zip(dp2) {
            da2[i] += g;
        }
        let mut dp1 = vec![0.0f32; a.p1.len()];
        conv3x3_relu_bwd(&a.p1, (4, 13, 13), c2.0, &a.a2, &da2, g2, Some(&mut dp1));
        let mut da1 = vec![0.0f32; a.a1.len()];
        for (i, g) in maxpool2_argmax(&a.a1, 4, 26, 26).into_iter().zip(dp1) {
            da1[i] += g;
        }
        conv3x3_relu_bwd(x, (1, SIDE, SIDE), c1.0, &a.a1, &da1, g1, None);
    }
}
