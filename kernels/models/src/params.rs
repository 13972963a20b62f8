//! Parameter storage: one flat `f32` buffer with named views (llm.c's "one allocation, then
//! pointer carving"). Names are the reference's PyTorch `state_dict` keys, in registration
//! order, so export, optimiser, gradient checks and parity tests are uniform. The gradient
//! buffer has the same layout.
use crate::prelude::*;
use core::ops::Range;
#[cfg(feature = "init")]
use rand::Rng;

/// How a tensor is initialised (spec §0 and §3; PyTorch defaults unless stated).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// U(lo, hi).
    Uniform(f32, f32),
    /// Every element equal to the value.
    Const(f32),
    /// N(0, σ²) with the given σ (`torch.randn(..) * σ`; e.g. `circuit_params`, `qff_params`
    /// of 2a–2c: σ = 0.1). Drawn by Box–Muller from the layout's RNG.
    Normal(f32),
    /// `A_log` rows = ln(1..=N) (S4D-real init), repeated over the leading dim.
    ALog,
    /// `dt_proj.bias` = softplus⁻¹(dt), dt log-uniform in [1e-3, 0.1), dt clamped below at the
    /// given floor first (3b: 1e-4; 1b: no clamp → 0).
    DtBias {
        /// floor applied to dt before the inverse softplus
        floor: f32,
    },
    /// Frozen sinusoidal table, filled by the model (not trainable).
    Frozen,
    /// Frozen sinusoidal positional-encoding table of shape (1, max_len, D) (spec §3.2),
    /// filled by [`crate::nn::positional::fill_sinusoidal`]; not trainable, like
    /// [`Init::Frozen`] (the reference's `nn.Parameter(pe, requires_grad=False)`).
    Sinusoidal,
}

impl Init {
    /// Whether the tensor is frozen (PyTorch `requires_grad=False`: never receives a gradient,
    /// never updated by the optimiser, but stored, exported and counted).
    pub fn is_frozen(&self) -> bool {
        matches!(self, Init::Frozen | Init::Sinusoidal)
    }
}

/// One named tensor of a [`ParamLayout`].
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// `state_dict` key, e.g. `mamba_layers.0.ssm.A_log`.
    pub name: String,
    /// PyTorch shape.
    pub shape: Vec<usize>,
    /// Range in the flat buffer.
    pub range: Range<usize>,
    /// Initialiser.
    pub init: Init,
    /// Whether the forward pass uses it (PyTorch: its grad is not None). Unused tensors (e.g.
    /// 1b's constructed-but-unused `mamba_layers.i.norm`) are stored and exported but skipped
    /// by the optimiser, exactly as AdamW skips parameters without a gradient.
    pub used: bool,
    /// A complex PyTorch parameter (e.g. 1c's top-level `alpha`), stored as `shape` =
    /// (PyTorch shape…, 2) real/imaginary pairs, as in the parity fixtures and exported files.
    /// Each pair counts once in [`ParamLayout::n_params`]; the optimiser treats the two parts
    /// as independent reals, as PyTorch's AdamW does.
    pub complex: bool,
    /// The weight matrix of a linear layer (read only by `Infer::linear`, as a whole or by
    /// blocks of rows): the one kind of tensor an inference store may keep in f16 and hand to
    /// the backend as such ([`qssm_kernels::backend::cpu::HostParams::matrix`]); every other
    /// tensor is read as f32.
    pub matrix: bool,
}

impl ParamSpec {
    /// Whether the loss has a gradient for this tensor (PyTorch: `grad` is not `None` after
    /// a backward): used by the forward pass and not frozen. Exactly these tensors are updated
    /// by the optimiser ([`ParamLayout::trainable_ranges`]).
    pub fn receives_grad(&self) -> bool {
        self.used && !self.init.is_frozen()
    }
}

/// Ordered collection of named tensors in one flat buffer.
#[derive(Clone, Debug, Default)]
pub struct ParamLayout {
    specs: Vec<ParamSpec>,
    len: usize,
}

impl ParamLayout {
    /// Empty layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a tensor and returns its range in the flat buffer.
    pub fn add(&mut self, name: impl Into<String>, shape: &[usize], init: Init) -> Range<usize> {
        self.add_with_use(name, shape, init, true)
    }

    /// Registers a tensor that the forward pass never reads (kept for `state_dict` fidelity).
    pub fn add_unused(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        init: Init,
    ) -> Range<usize> {
        self.add_with_use(name, shape, init, false)
    }

    fn add_with_use(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        init: Init,
        used: bool,
    ) -> Range<usize> {
        let numel: usize = shape.iter().product();
        let range = self.len..self.len + numel;
        self.len += numel;
        let name = name.into();
        debug_assert!(
            self.specs.iter().all(|s| s.name != name),
            "duplicate parameter {name}"
        );
        self.specs.push(ParamSpec {
            name,
            shape: shape.to_vec(),
            range: range.clone(),
            init,
            used,
            complex: false,
            matrix: false,
        });
        range
    }

    /// Registers the weight matrix (d_out, …) of a linear layer: as [`Self::add`], marked
    /// [`ParamSpec::matrix`]. `shape` is its PyTorch shape (e.g. a Conv1d's (D, C, 3) read as
    /// the (D, 3C) matrix of an im2col product).
    pub fn add_matrix(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        init: Init,
    ) -> Range<usize> {
        let range = self.add(name, shape, init);
        if let Some(s) = self.specs.last_mut() {
            s.matrix = true;
        }
        range
    }

    /// Registers a complex tensor of PyTorch shape `shape`, stored as `shape` + `[2]`
    /// (re, im) pairs; `init` applies to both parts.
    pub fn add_complex(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        init: Init,
    ) -> Range<usize> {
        let mut stored = shape.to_vec();
        stored.push(2);
        let range = self.add_with_use(name, &stored, init, true);
        if let Some(s) = self.specs.last_mut() {
            s.complex = true;
        }
        range
    }

    /// Total number of scalars (PyTorch `sum(p.numel() for p in model.parameters())` for real
    /// models).
    pub fn len(&self) -> usize {
        self.len
    }

    /// PyTorch's `sum(p.numel() for p in model.parameters())`: [`Self::len`] with every
    /// complex (re, im) pair counted once (the reference's logged `n_params`).
    pub fn n_params(&self) -> usize {
        self.len
            - self
                .specs
                .iter()
                .filter(|s| s.complex)
                .map(|s| s.range.len() / 2)
                .sum::<usize>()
    }

    /// Whether the layout has no tensors.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every tensor, in `state_dict` order.
    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// Looks a tensor up by name.
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// Ranges that the optimiser updates (used, non-frozen tensors).
    pub fn trainable_ranges(&self) -> Vec<Range<usize>> {
        self.specs
            .iter()
            .filter(|s| s.receives_grad())
            .map(|s| s.range.clone())
            .collect()
    }

    /// Fills a fresh buffer with the initialisers, drawing from `rng` in layout order.
    /// Bit-exact reproduction of PyTorch's init stream is not a goal (spec §0).
    #[cfg(feature = "init")]
    pub fn init<R: Rng>(&self, rng: &mut R) -> Vec<f32> {
        let mut p = vec![0.0f32; self.len];
        for s in &self.specs {
            let v = &mut p[s.range.clone()];
            match s.init {
                Init::Uniform(lo, hi) => v.iter_mut().for_each(|x| *x = rng.gen_range(lo..hi)),
                Init::Const(c) => v.iter_mut().for_each(|x| *x = c),
                Init::Normal(sd) => v.iter_mut().for_each(|x| {
                    // Box–Muller: u1 ∈ (0, 1] so that ln u1 is finite
                    let u1: f64 = 1.0 - rng.gen_range(0.0..1.0);
                    let u2: f64 = rng.gen_range(0.0..1.0);
                    let z = (-2.0 * u1.ln()).sqrt() * (core::f64::consts::TAU * u2).cos();
                    *x = (sd as f64 * z) as f32;
                }),
                Init::ALog => {
                    let n = *s.shape.last().unwrap_or(&1);
                    v.iter_mut()
                        .enumerate()
                        .for_each(|(i, x)| *x = ((i % n) as f32 + 1.0).ln());
                }
                Init::DtBias { floor } => v.iter_mut().for_each(|x| {
                    let u: f64 = rng.gen_range(0.0..1.0);
                    let dt = (u * (0.1f64.ln() - 1e-3f64.ln()) + 1e-3f64.ln())
                        .exp()
                        .max(floor as f64);
                    // softplus⁻¹(y) = y + ln(−expm1(−y))
                    *x = (dt + (-(-dt).exp_m1()).ln()) as f32;
                }),
                Init::Frozen => {}
                Init::Sinusoidal => {
                    let d = *s.shape.last().unwrap_or(&1);
                    crate::nn::positional::fill_sinusoidal(v, d);
                }
            }
        }
        p
    }
}

/// PyTorch default bound for `nn.Linear` / `nn.Conv1d`: U(±1/√fan_in).
pub fn default_uniform(fan_in: usize) -> Init {
    let b = 1.0 / libm::sqrtf(fan_in as f32);
    Init::Uniform(-b, b)
}

/// Two disjoint mutable views of one buffer (e.g. a weight's and a bias's gradient).
///
/// # Panics
/// If the ranges overlap (a programming error in a block's construction).
pub fn disjoint_mut(g: &mut [f32], a: Range<usize>, b: Range<usize>) -> (&mut [f32], &mut [f32]) {
    assert!(
        a.end <= b.start || b.end <= a.start,
        "overlapping parameter ranges"
    );
    if a.start < b.start {
        let (lo, hi) = g.split_at_mut(b.start);
        (&mut lo[a], &mut hi[..b.end - b.start])
    } else {
        let (lo, hi) = g.split_at_mut(a.start);
        let (bb, aa) = (&mut lo[b], &mut hi[..a.end - a.start]);
        (aa, bb)
    }
}
