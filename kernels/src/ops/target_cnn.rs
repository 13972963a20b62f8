//! The Quantum-Train target CNNs (spec hqc-mamba-and-quantum-train §5.2–5.3) from a flat
//! weight vector θ, forward and backward, for one 28×28 image: conv1 1→c1 k×k (valid) →
//! (ReLU) → maxpool 2 (floor); conv2 c1→c2 k×k → (ReLU) → maxpool 2; flatten (channel, row,
//! column) → fc1 → (ReLU) → fc2 → 10 logits. Two shapes ([`CnnSpec`]):
//! * [`SEED_CNN`] (qt-seed, `classical_target_nn.py`): k 3, c1 4, c2 8, fc1 200→30, ReLUs;
//!   28 → 26 → 13 → 11 → 5; M = 6,676;
//! * [`LIU_CNN`] (qt-liu, the authors' MNIST notebook `CNNModel`): k 5, c1 8, c2 12, fc1
//!   192→20, **no** ReLUs; 28 → 24 → 12 → 8 → 4; M = 6,690.
//!
//! θ holds, row-major and in order: conv1.weight (c1,1,k,k), conv1.bias, conv2.weight
//! (c2,c1,k,k), conv2.bias, fc1.weight (hidden, flat), fc1.bias, fc2.weight (10, hidden),
//! fc2.bias ([`CnnSpec::tensors`]).
//!
//! The forward keeps its activations ([`Activations`]) and [`TargetCnn::backward`] turns
//! ∂L/∂logits into ∂L/∂θ (accumulated, in θ's layout); the eval forward is the same code.
//! This is the networks' one description: the trainer trains Quantum-Train and the directly
//! trained baselines through it, and the inference engine runs an exported CNN with it.

use alloc::vec;
use alloc::vec::Vec;

/// Image side (28×28 input).
pub const SIDE: usize = 28;

/// Classes (logits).
pub const N_CLASSES: usize = 10;

/// The shape of a target CNN (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CnnSpec {
    /// kernel side of both convolutions
    pub k: usize,
    /// conv1's output channels
    pub c1: usize,
    /// conv2's output channels
    pub c2: usize,
    /// fc1's outputs
    pub hidden: usize,
    /// whether ReLU follows conv1, conv2 and fc1
    pub relu: bool,
}

/// qt-seed's CNN (M = 6,676).
pub const SEED_CNN: CnnSpec = CnnSpec {
    k: 3,
    c1: 4,
    c2: 8,
    hidden: 30,
    relu: true,
};

/// qt-liu's CNN (M = 6,690), without activations.
pub const LIU_CNN: CnnSpec = CnnSpec {
    k: 5,
    c1: 8,
    c2: 12,
    hidden: 20,
    relu: false,
};

/// M of qt-seed's CNN ([`SEED_CNN`]).
pub const N_WEIGHTS: usize = SEED_CNN.n_weights();

impl CnnSpec {
    /// Sides after conv1, pool1, conv2, pool2.
    const fn sides(&self) -> [usize; 4] {
        let a = SIDE - self.k + 1;
        let b = a / 2;
        let c = b - self.k + 1;
        [a, b, c, c / 2]
    }

    /// fc1's inputs: c2 × side² after the second pool.
    pub const fn flat(&self) -> usize {
        let s = self.sides()[3];
        self.c2 * s * s
    }

    /// (weights, bias) sizes of conv1, conv2, fc1, fc2.
    pub const fn sizes(&self) -> [(usize, usize); 4] {
        let kk = self.k * self.k;
        [
            (self.c1 * kk, self.c1),
            (self.c2 * self.c1 * kk, self.c2),
            (self.hidden * self.flat(), self.hidden),
            (N_CLASSES * self.hidden, N_CLASSES),
        ]
    }

    /// M: the number of weights.
    pub const fn n_weights(&self) -> usize {
        let s = self.sizes();
        s[0].0 + s[0].1 + s[1].0 + s[1].1 + s[2].0 + s[2].1 + s[3].0 + s[3].1
    }

    /// θ's tensors by their PyTorch names (`state_dict` of both sources) and shapes, in θ's
    /// order.
    pub fn tensors(&self) -> [(&'static str, Vec<usize>); 8] {
        let (k, c1, c2, h) = (self.k, self.c1, self.c2, self.hidden);
        [
            ("conv1.weight", vec![c1, 1, k, k]),
            ("conv1.bias", vec![c1]),
            ("conv2.weight", vec![c2, c1, k, k]),
            ("conv2.bias", vec![c2]),
            ("fc1.weight", vec![h, self.flat()]),
            ("fc1.bias", vec![h]),
            ("fc2.weight", vec![N_CLASSES, h]),
            ("fc2.bias", vec![N_CLASSES]),
        ]
    }
}

/// The CNN with its weights taken from θ.
pub struct TargetCnn<'a> {
    spec: CnnSpec,
    /// (weight, bias) of conv1, conv2, fc1, fc2
    layers: [(&'a [f32], &'a [f32]); 4],
}

/// What one image's forward keeps for its backward.
#[derive(Clone, Debug, Default)]
pub struct Activations {
    /// conv1 (after its ReLU, if any) (c1, side, side)
    a1: Vec<f32>,
    /// after the first pool
    p1: Vec<f32>,
    /// conv2 (after its ReLU, if any)
    a2: Vec<f32>,
    /// after the second pool, flattened (fc1's inputs)
    p2: Vec<f32>,
    /// fc1 (after its ReLU, if any) (hidden)
    h: Vec<f32>,
    /// logits (10)
    pub logits: Vec<f32>,
}

/// θ's tensors as mutable slices (gradients), in [`CnnSpec::sizes`]' order.
fn split_mut<'g>(spec: &CnnSpec, g: &'g mut [f32]) -> [(&'g mut [f32], &'g mut [f32]); 4] {
    let mut rest = g;
    spec.sizes().map(|(w, b)| {
        let (wt, tail) = core::mem::take(&mut rest).split_at_mut(w);
        let (bs, tail) = tail.split_at_mut(b);
        rest = tail;
        (wt, bs)
    })
}

/// A convolution's input shape (ci, h, w), kernel side k and whether ReLU follows it.
#[derive(Clone, Copy)]
struct ConvShape {
    ci: usize,
    h: usize,
    w: usize,
    k: usize,
    relu: bool,
}

/// Valid k×k convolution of x (ci, h, w) → (co, h−k+1, w−k+1), then ReLU if asked.
fn conv(x: &[f32], s: ConvShape, wt: &[f32], b: &[f32]) -> Vec<f32> {
    let ConvShape { ci, h, w, k, relu } = s;
    let (co, oh, ow) = (b.len(), h - k + 1, w - k + 1);
    let mut y = vec![0.0f32; co * oh * ow];
    for o in 0..co {
        for r in 0..oh {
            for c in 0..ow {
                let mut acc = b[o];
                for i in 0..ci {
                    for ky in 0..k {
                        for kx in 0..k {
                            acc += wt[((o * ci + i) * k + ky) * k + kx]
                                * x[(i * h + r + ky) * w + c + kx];
                        }
                    }
                }
                y[(o * oh + r) * ow + c] = if relu { acc.max(0.0) } else { acc };
            }
        }
    }
    y
}

/// Backward of [`conv`] from its output y (the ReLU, if any, masks where y ≤ 0) and dy:
/// accumulates dW, db and, if given, dx.
fn conv_bwd(
    x: &[f32],
    s: ConvShape,
    wt: &[f32],
    y: &[f32],
    dy: &[f32],
    (dw, db): (&mut [f32], &mut [f32]),
    mut dx: Option<&mut [f32]>,
) {
    let ConvShape {
        ci,
        h,
        w,
        k: ks,
        relu,
    } = s;
    let (oh, ow) = (h - ks + 1, w - ks + 1);
    for (o, dbo) in db.iter_mut().enumerate() {
        for r in 0..oh {
            for c in 0..ow {
                let at = (o * oh + r) * ow + c;
                if relu && y[at] <= 0.0 {
                    continue;
                }
                let g = dy[at];
                *dbo += g;
                for i in 0..ci {
                    for ky in 0..ks {
                        for kx in 0..ks {
                            let (k, xi) = (
                                ((o * ci + i) * ks + ky) * ks + kx,
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
    /// Slices θ (M = [`CnnSpec::n_weights`] values) for the CNN of shape `spec`. Panics if θ is
    /// not M long.
    pub fn new(spec: CnnSpec, theta: &'a [f32]) -> Self {
        let m = spec.n_weights();
        assert_eq!(theta.len(), m, "TargetCnn: θ must hold {m} weights");
        let mut rest = theta;
        Self {
            spec,
            layers: spec.sizes().map(|(w, b)| {
                let (wt, tail) = rest.split_at(w);
                let (bs, tail) = tail.split_at(b);
                rest = tail;
                (wt, bs)
            }),
        }
    }

    /// The two convolutions' shapes.
    fn convs(&self) -> [ConvShape; 2] {
        let (sp, [_, s1, _, _]) = (&self.spec, self.spec.sides());
        [
            ConvShape {
                ci: 1,
                h: SIDE,
                w: SIDE,
                k: sp.k,
                relu: sp.relu,
            },
            ConvShape {
                ci: sp.c1,
                h: s1,
                w: s1,
                k: sp.k,
                relu: sp.relu,
            },
        ]
    }

    /// The forward pass of one normalised 28×28 image x (784, row-major), keeping its
    /// activations. Panics if x holds fewer than 784 values.
    pub fn forward(&self, x: &[f32]) -> Activations {
        let [c1, c2, f1, f2] = self.layers;
        let [v1, v2] = self.convs();
        let (sp, [a, _, c, _]) = (&self.spec, self.spec.sides());
        let a1 = conv(x, v1, c1.0, c1.1);
        let p1: Vec<f32> = maxpool2_argmax(&a1, sp.c1, a, a)
            .into_iter()
            .map(|i| a1[i])
            .collect();
        let a2 = conv(&p1, v2, c2.0, c2.1);
        let p2: Vec<f32> = maxpool2_argmax(&a2, sp.c2, c, c)
            .into_iter()
            .map(|i| a2[i])
            .collect();
        let h = dense(&p2, f1.0, f1.1, sp.relu);
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
        let [v1, v2] = self.convs();
        let (sp, [s0, _, s2, _]) = (&self.spec, self.spec.sides());
        let [g1, g2, gf1, gf2] = split_mut(sp, dtheta);
        let dh = dense_bwd(&a.h, f2.0, &a.logits, dlogits, false, gf2);
        let dp2 = dense_bwd(&a.p2, f1.0, &a.h, &dh, sp.relu, gf1);
        let mut da2 = vec![0.0f32; a.a2.len()];
        for (i, g) in maxpool2_argmax(&a.a2, sp.c2, s2, s2).into_iter().zip(dp2) {
            da2[i] += g;
        }
        let mut dp1 = vec![0.0f32; a.p1.len()];
        conv_bwd(&a.p1, v2, c2.0, &a.a2, &da2, g2, Some(&mut dp1));
        let mut da1 = vec![0.0f32; a.a1.len()];
        for (i, g) in maxpool2_argmax(&a.a1, sp.c1, s0, s0).into_iter().zip(dp1) {
            da1[i] += g;
        }
        conv_bwd(x, v1, c1.0, &a.a1, &da1, g1, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_cnns_have_the_specs_sizes() {
        assert_eq!(SEED_CNN.n_weights(), 6_676);
        assert_eq!(SEED_CNN.flat(), 200);
        assert_eq!(LIU_CNN.n_weights(), 6_690);
        assert_eq!(LIU_CNN.flat(), 192);
        for spec in [SEED_CNN, LIU_CNN] {
            let n: usize = spec
                .tensors()
                .iter()
                .map(|(_, s)| s.iter().product::<usize>())
                .sum();
            assert_eq!(n, spec.n_weights());
        }
    }
}
