//! The qt-seed target CNN (spec §5.2), eval forward from a flat weight vector θ (M = 6,676):
//! conv1 1→4 3×3 → ReLU → maxpool 2 (28 → 26 → 13); conv2 4→8 3×3 → ReLU → maxpool 2, floor
//! (13 → 11 → 5); flatten (channel, row, column) → fc1 200→30 → ReLU → fc2 30→10 logits.
//! θ holds, row-major and in order: conv1.weight (4,1,3,3), conv1.bias, conv2.weight (8,4,3,3),
//! conv2.bias, fc1.weight (30,200), fc1.bias, fc2.weight (10,30), fc2.bias.

/// M: weights of the target CNN.
pub const N_WEIGHTS: usize = 6_676;

/// The CNN with its weights taken from θ.
pub struct TargetCnn<'a> {
    conv1: (&'a [f32], &'a [f32]),
    conv2: (&'a [f32], &'a [f32]),
    fc1: (&'a [f32], &'a [f32]),
    fc2: (&'a [f32], &'a [f32]),
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

/// 2×2 max pooling with stride 2 (floor) of x (c, h, w).
fn maxpool2(x: &[f32], ch: usize, h: usize, w: usize) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let mut y = vec![0.0f32; ch * oh * ow];
    for c in 0..ch {
        for r in 0..oh {
            for q in 0..ow {
                let at = |dy: usize, dx: usize| x[(c * h + 2 * r + dy) * w + 2 * q + dx];
                y[(c * oh + r) * ow + q] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            }
        }
    }
    y
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

impl<'a> TargetCnn<'a> {
    /// Slices θ (M values). Panics if θ is not M long.
    pub fn new(theta: &'a [f32]) -> Self {
        assert_eq!(
            theta.len(),
            N_WEIGHTS,
            "TargetCnn: θ must hold {N_WEIGHTS} weights"
        );
        let mut at = 0;
        let mut take = |n: usize| {
            let s = &theta[at..at + n];
            at += n;
            s
        };
        Self {
            conv1: (take(36), take(4)),
            conv2: (take(288), take(8)),
            fc1: (take(6000), take(30)),
            fc2: (take(300), take(10)),
        }
    }

    /// Logits (10) of one normalised 28×28 image.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        let a = conv3x3_relu(x, 1, 28, 28, self.conv1.0, self.conv1.1);
        let a = maxpool2(&a, 4, 26, 26);
        let a = conv3x3_relu(&a, 4, 13, 13, self.conv2.0, self.conv2.1);
        let a = maxpool2(&a, 8, 11, 11);
        let h = dense(&a, self.fc1.0, self.fc1.1, true);
        dense(&h, self.fc2.0, self.fc2.1, false)
    }
}
