//! The backend interface: batched operations on buffers that belong to the backend, each a
//! forward/backward pair where it has a backward (Gu & Dao's Mamba kernels, llm.c and
//! candle's `BackendStorage` are the models for this split).
//!
//! A model is written once as a composition of blocks generic over [`Infer`] (forward) and
//! [`Backend`] (forward and backward, for training); a backend
//! decides where the numbers live and how an op runs: [`cpu::Cpu`](type@cpu::Cpu) on the host (the oracle for
//! every other backend), a CUDA backend on device buffers and a stream, an ONNX recorder
//! that emits a node per op. Blocks never touch element storage directly.
//!
//! Conventions (as in [`crate::ops`], which the CPU backend runs):
//! * **Buffers** ([`Infer::Buf`]) carry their shape; the last dimension is the feature
//!   dimension of row-wise ops, the leading ones are rows (B·T for a (B, T, D) sequence).
//!   Sequence buffers are token-major: (B, L, D), row `b·L + t`.
//! * **Parameters and gradients** are one flat buffer each ([`Infer::Params`]); an op with
//!   weights takes the buffer and the tensor's range in it (the trainer's `ParamLayout`
//!   ranges, named by the reference `state_dict`).
//! * Every backward **accumulates** (`+=`) into its gradient outputs, parameters and inputs
//!   alike (llm.c); callers zero gradient buffers first.
//! * Activation buffers are allocated by the blocks' `plan` for one (model, B, T) and reused
//!   for every step; ops never allocate device memory.
//! * Determinism: for the same inputs an op gives bit-identical results whatever the number
//!   of threads (reductions over the batch run in a fixed order).
//!
//! Shape legend: B batch, T time, L sequence length seen by an op, C channels, D `d_model`,
//! E `d_inner`, N `d_state`, R `dt_rank`, H heads.
use crate::circuit::qproj::QProj;
use crate::circuit::Program;
use crate::ops::adam::AdamScalars;
use core::ops::Range;
use cpu::HostParams;

pub mod cpu;
#[cfg(any(feature = "cuda", feature = "cuda-emu"))]
pub mod gpu;

/// A fully connected layer's tensors in the parameter buffer (PyTorch `nn.Linear`:
/// `y = x·Wᵀ + b`, W stored (out, in)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinearP {
    /// range of W (d_out × d_in)
    pub w: Range<usize>,
    /// range of b (d_out), if any
    pub b: Option<Range<usize>>,
    /// input features
    pub d_in: usize,
    /// output features
    pub d_out: usize,
}

impl LinearP {
    /// The sub-layer computing output features `rows` of this one: a contiguous block of W's
    /// rows (and b's entries) in the same parameter buffer, so its output (rows, |rows|) is
    /// that column block of the full layer's, and its backward accumulates into the same
    /// gradient ranges. A layer whose output is split (Mamba's `in_proj` → x ‖ z) runs as its
    /// sub-layers, each writing its own buffer: no split copy forward, no concat backward.
    ///
    /// # Panics
    /// If `rows` is not within 0..d_out.
    pub fn out_rows(&self, rows: Range<usize>) -> LinearP {
        assert!(
            rows.start <= rows.end && rows.end <= self.d_out,
            "out_rows {rows:?} of a layer with {} outputs",
            self.d_out
        );
        let w0 = self.w.start;
        LinearP {
            w: w0 + rows.start * self.d_in..w0 + rows.end * self.d_in,
            b: self
                .b
                .as_ref()
                .map(|b| b.start + rows.start..b.start + rows.end),
            d_in: self.d_in,
            d_out: rows.len(),
        }
    }
}

/// A causal depthwise conv1d's tensors (PyTorch `Conv1d(E, E, k, groups=E, padding=k−1)`
/// truncated to the first L outputs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvP {
    /// range of the (E, 1, k) weight
    pub w: Range<usize>,
    /// range of the (E) bias
    pub b: Range<usize>,
    /// channels E
    pub e: usize,
    /// kernel size k
    pub k: usize,
}

/// Element-wise activations with a backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// x·σ(x)
    Silu,
    /// ln(1 + eˣ) (PyTorch's threshold 20)
    Softplus,
    /// GELU with erf (PyTorch's default)
    Gelu,
    /// max(x, 0)
    Relu,
    /// tanh; its backward takes the **output**
    Tanh,
    /// σ(x) = 1/(1 + e⁻ˣ); its backward takes the **output**
    Sigmoid,
}

/// How [`Infer::superpose`] combines three same-shape branch outputs x_k (rows, W) with the
/// complex coefficients c_k = (re, im) of the parameter buffer, normalised as
/// c̄_k = c_k / √(Σ_j |c_j|² + eps) (the reference's `QuantumSuperpositionBranches` and 1c's
/// top-level mix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Superpose {
    /// y (rows, 3W) = [|c̄₀|·x₀ | |c̄₁|·x₁ | |c̄₂|·x₂] (QSSM-flavour branches, 1b/1c)
    Concat,
    /// y (rows, W) = Σ_k |c̄_k|·x_k (1c's mix of its three chunk processors)
    Sum,
    /// y (rows, W) = |Σ_k c̄_k·x_k|, the element-wise complex modulus (QGR-flavour branches,
    /// 1a and the gated models; derivative 0 at 0 as PyTorch's `abs`)
    Modulus,
    /// y (rows, W) = |Σ_k c_k·x_k| with the **raw** coefficients (hg's mix of its three
    /// branches; `eps` unused)
    ModulusRaw,
}

/// The coefficient ranges and constant of [`Infer::superpose`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SuperposeP {
    /// parameter indices of (re, im) of c₀, c₁, c₂
    pub coeffs: [[usize; 2]; 3],
    /// added to Σ|c|² before the square root
    pub eps: f32,
    /// the combination
    pub mode: Superpose,
}

impl SuperposeP {
    /// The raw coefficients c_k = (re, im) from `p` and the normaliser
    /// n = √(Σ_k |c_k|² + eps) (f32, the one formula of every backend and the ONNX export).
    pub fn coefficients<P: HostParams + ?Sized>(&self, p: &P) -> ([(f32, f32); 3], f32) {
        let c = self.coeffs.map(|[re, im]| (p.scalar(re), p.scalar(im)));
        let n = libm::sqrtf(c.iter().map(|(r, i)| r * r + i * i).sum::<f32>() + self.eps);
        (c, n)
    }

    /// |c̄_k| = |c_k| / n (the `Concat` and `Sum` weights).
    pub fn magnitudes<P: HostParams + ?Sized>(&self, p: &P) -> [f32; 3] {
        let (c, n) = self.coefficients(p);
        c.map(|(r, i)| libm::sqrtf(r * r + i * i) / n)
    }
}

/// The weights of [`Infer::mix_l1`]: w_k = c_k / (Σ_j |c_j| + eps), c_k = p\[coeffs\[k\]\].
pub fn mix_l1_weights<P: HostParams + ?Sized>(p: &P, coeffs: [usize; 3], eps: f32) -> [f32; 3] {
    let c = coeffs.map(|i| p.scalar(i));
    let s = c[0].abs() + c[1].abs() + c[2].abs() + eps;
    c.map(|v| v / s)
}

/// A quantum projection of [`Infer::qproj`] ([`crate::circuit::qproj`]) and where its
/// tensors sit in the parameters: circuit weights W (L, n, 3), the affine's γ and β (empty
/// ranges without an affine).
#[derive(Clone, Debug, PartialEq)]
pub struct QProjP {
    /// shape and options
    pub qp: QProj,
    /// W (3·L·n)
    pub w: Range<usize>,
    /// γ ([`crate::circuit::qproj::Affine::len`])
    pub gamma: Range<usize>,
    /// β (as γ)
    pub beta: Range<usize>,
}

/// Variant and sizes of a batched selective scan (see [`crate::ops::scan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanP {
    /// E channels
    pub e: usize,
    /// N `d_state`
    pub n: usize,
    /// 0: A is one (N) vector shared by all channels (QuantumSSM.py), N: A is (E, N)
    pub a_row_stride: usize,
    /// input term Δ·B·x (Mamba) or B·x (3c's Hydra)
    pub dt_on_b: bool,
    /// scan from the last time step to the first (the backward branch of a bidirectional
    /// SSM): step s consumes time L−1−s, y and the gradients stay at their own time rows,
    /// `h0` is the state before time L−1 and `h_last` the state after time 0. The same as
    /// reversing x, Δ, B, C in time, scanning, and reversing y — without the copies.
    pub reverse: bool,
}

/// One column segment of [`Infer::scale_segments`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// columns of the segment
    pub width: usize,
    /// period of the scaled pattern (5Q for the layers of an ansatz block)
    pub period: usize,
    /// scaled columns at the start of every period (the 3Q rotation angles of a layer)
    pub prefix: usize,
    /// the column of s that scales them; `None`: the segment is copied
    pub scale: Option<usize>,
}

/// Targets of a batch, on the host (they are step inputs, like the window batch).
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// class indices (B): cross-entropy over the logits
    Classes(&'a [usize]),
    /// regression values (B, n_out) row-major: MSE
    Values(&'a [f32]),
}

/// Per-sample dropout seeds of a step and the probability. Masks are counter-based: element
/// `i` of dropout site `site` of sample `b` is dropped iff [`dropout_draw`]`(seeds[b], site, i)`
/// is below [`dropout_threshold`]`(p)`, so a mask depends on neither the order of execution
/// nor the number of threads, and a device can draw it without a sequential RNG.
#[derive(Clone, Copy, Debug)]
pub struct DropoutCfg<'a> {
    /// drop probability
    pub p: f32,
    /// one seed per sample of the batch
    pub seeds: &'a [u64],
}

pub use crate::ops::dropout::{dropout_draw, dropout_threshold};

/// The inference half of a compute backend: where buffers live and how the batched forward
/// ops run. A backend that only runs models (the ONNX recorder, an inference engine)
/// implements this alone; every forward pass and streaming step of the blocks is written
/// against it, so a model runs wherever its forward ops exist.
///
/// Shapes are checked by the ops (a mismatch is a programming error in a block, so it
/// panics); nothing an input file contains reaches an op unchecked.
pub trait Infer: Sync {
    /// An activation buffer with its shape.
    type Buf: Send + Sync;
    /// A flat parameter or gradient buffer (`[f32]` on the host).
    type Params: ?Sized + Sync;

    /// Short name (`cpu`, `cuda`).
    fn name(&self) -> &'static str;

    // ---- buffers ---------------------------------------------------------------------
    /// A zeroed buffer of `shape` (plan time only).
    fn alloc(&self, shape: &[usize]) -> Self::Buf;
    /// The shape of `x`.
    fn shape<'a>(&self, x: &'a Self::Buf) -> &'a [usize];
    /// Host → buffer; `src.len()` must equal the element count.
    fn upload(&self, x: &mut Self::Buf, src: &[f32]);
    /// Buffer → host; `dst.len()` must equal the element count.
    fn download(&self, x: &Self::Buf, dst: &mut [f32]);
    /// Every element ← v.
    fn fill(&self, x: &mut Self::Buf, v: f32);
    /// Element count of `x`.
    fn numel(&self, x: &Self::Buf) -> usize {
        self.shape(x).iter().product()
    }

    // ---- glue ------------------------------------------------------------------------
    /// y ← x (same element count).
    fn copy(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// y += x.
    fn add_assign(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// y ← a ⊙ b.
    fn mul(&self, y: &mut Self::Buf, a: &Self::Buf, b: &Self::Buf);
    /// (B, C, T) channel-major → (B, T, C) token-major.
    fn to_token_major(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// Splits the columns of x (rows, Σwᵢ) into `parts` (rows, wᵢ), in order.
    fn split_cols(&self, x: &Self::Buf, parts: &mut [&mut Self::Buf]);
    /// y (rows, Σwᵢ) ← the columns of `parts` (rows, wᵢ) side by side (backward of
    /// [`Self::split_cols`]).
    fn concat_cols(&self, y: &mut Self::Buf, parts: &[&Self::Buf]);
    /// (B, L, W): y[b, t] ← x[b, L−1−t].
    fn reverse_time(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// y (B, D) ← mean over L of x (B, L, D).
    fn mean_time(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// Streaming form of [`Self::mean_time`]: sum (B, D) += Σ_t x (B, L, D) (in time order),
    /// count (B, 1) += L, y (B, D) ← sum / count. `sum` and `count` are zeros at the start of a
    /// stream; after the chunks of a sequence, y is its mean over time (to rounding).
    fn running_mean(
        &self,
        y: &mut Self::Buf,
        x: &Self::Buf,
        sum: &mut Self::Buf,
        count: &mut Self::Buf,
    );
    /// x (B, L, D) += the first L rows of the (max_len, D) table at `table` in `p`.
    fn add_table_rows(&self, x: &mut Self::Buf, p: &Self::Params, table: Range<usize>);
    /// y (B, L₂, W) ← x (B, L, W) followed by L₂ − L zero rows per sample (L₂ ≥ L).
    fn pad_time(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// y (B, nc, W) ← the mean of every chunk of `cs` rows of x (B, L, W), nc = ⌈L/cs⌉; the
    /// last chunk is averaged over its true length (no padding).
    fn chunk_mean(&self, y: &mut Self::Buf, x: &Self::Buf, cs: usize);
    /// y (B, W) ← x\[:, t, :\] of x (B, L, W).
    fn time_slice(&self, y: &mut Self::Buf, x: &Self::Buf, t: usize);
    /// Conv3's im2col: x (B, C, T) channel-major → y (B, T, 3C), column c·3 + k =
    /// x\[c, t + k − 1\] (zero outside 0..T).
    fn im2col3(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// Streaming form of [`Self::im2col3`] (the centred kernel reads one sample ahead): x (B,
    /// C, L+1) channel-major holds a step's L samples and the next one, `prev` (B, C) the
    /// sample before them (zeros at the start of a stream); y (B, L, 3C) ← row t, column
    /// c·3 + k = sample t + k − 1 of channel c, where sample −1 is `prev` and the samples at or
    /// after `valid` (1 ≤ valid ≤ L + 1) read as 0 (the window's right edge, and the end of a
    /// step over a prefix); then `prev` ← sample min(valid, L) − 1, the next step's left
    /// neighbour.
    fn im2col3_step(&self, y: &mut Self::Buf, prev: &mut Self::Buf, x: &Self::Buf, valid: usize);
    /// y (R, Σ width) ← x with, in every segment whose `scale` is `Some(j)`, the first `prefix`
    /// columns of every `period` multiplied by s\[r, j\] (s (R, S)); the other columns copied
    /// (Δ-modulated ansatz layers and scaled injections of the group-2/4 circuits).
    fn scale_segments(&self, y: &mut Self::Buf, x: &Self::Buf, s: &Self::Buf, segs: &[Segment]);
    /// y ← c·x (same element count).
    fn scale(&self, y: &mut Self::Buf, x: &Self::Buf, c: f32);
    /// y += c·x (same element count; the backward of [`Self::scale`]).
    fn axpy(&self, y: &mut Self::Buf, c: f32, x: &Self::Buf);
    /// y (rows) ← the mean of every row of x (rows, W), summed in f64 and rounded once (2b/2c's
    /// ds = σ(mean_k Δ_k), spec groups-2-4 §3.2); y's element count is x's row count.
    fn row_mean(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// x (rows, W) += p\[range\] on every row (a trainable offset such as `base_params`).
    fn add_param_row(&self, x: &mut Self::Buf, p: &Self::Params, range: Range<usize>);

    // ---- element-wise ----------------------------------------------------------------
    /// y ← act(x).
    fn act(&self, act: Act, y: &mut Self::Buf, x: &Self::Buf);
    /// y ← −exp(p\[range\]) (A = −exp(A_log)); y's element count = the range length.
    fn neg_exp(&self, y: &mut Self::Buf, p: &Self::Params, range: Range<usize>);
    /// Train-mode dropout in place on x (B, …): masks (0 or 1/(1−p)) written to `mask`
    /// (same shape), see [`DropoutCfg`]. `site` names the dropout site within the model.
    fn dropout(&self, x: &mut Self::Buf, mask: &mut Self::Buf, cfg: DropoutCfg<'_>, site: u32);

    // ---- layers with parameters ----------------------------------------------------------
    /// y (rows, out) ← x (rows, in)·Wᵀ + b: one GEMM over all rows.
    fn linear(&self, y: &mut Self::Buf, x: &Self::Buf, p: &Self::Params, lin: &LinearP);
    /// RMSNorm over the last dim (eps 1e-5): y ← x·rstd·w, rstd (rows) saved.
    fn rmsnorm(
        &self,
        y: &mut Self::Buf,
        rstd: &mut Self::Buf,
        x: &Self::Buf,
        p: &Self::Params,
        w: Range<usize>,
    );
    /// LayerNorm over the last dim (eps 1e-5, PyTorch `nn.LayerNorm`): y ← (x − μ)·rstd·w + b;
    /// μ and rstd (rows) saved. `wb` = the ranges of weight and bias.
    fn layernorm(
        &self,
        y: &mut Self::Buf,
        stats: [&mut Self::Buf; 2],
        x: &Self::Buf,
        p: &Self::Params,
        wb: [Range<usize>; 2],
    );
    /// Causal depthwise conv1d over time of x (B, L, E).
    fn conv1d(&self, y: &mut Self::Buf, x: &Self::Buf, p: &Self::Params, conv: &ConvP);
    /// Streaming form of [`Self::conv1d`]: y (B, L, E) over x (B, L, E) continuing from `hist`
    /// (B, k−1, E), the k−1 inputs before x, oldest first (zeros at the start of a stream: the
    /// zero padding); then `hist` ← the last k−1 inputs of [hist; x]. Chunks of a sequence
    /// stepped in order give [`Self::conv1d`] of the whole sequence.
    fn conv1d_step(
        &self,
        y: &mut Self::Buf,
        x: &Self::Buf,
        hist: &mut Self::Buf,
        p: &Self::Params,
        conv: &ConvP,
    );

    // ---- sequence mixing ---------------------------------------------------------------------
    /// Batched selective scan from h0 (B, E, N) (zeros if `None`): y (B, L, E) from x, Δ
    /// (B, L, E), B, C (B, L, N), A (N or E·N), D = p\[d\]. `h_last` (B, E, N) receives the
    /// final states if given. `states`, a buffer of (B, L+1, E, N) elements, if given,
    /// receives every state for the backward (memory for speed; its layout is the
    /// backend's); without it the backward recomputes them per sample.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        y: &mut Self::Buf,
        h_last: Option<&mut Self::Buf>,
        states: Option<&mut Self::Buf>,
        sx: ScanInputs<'_, Self>,
        p: &Self::Params,
        d: Range<usize>,
        dims: ScanP,
    );
    /// Multi-head scaled dot-product self-attention core, per sample, no mask: o (B, L, D)
    /// and probabilities (B, H, L, L) from q, k, v (B, L, D); `drop_mask` (B, H, L, L)
    /// multiplies the probabilities in training.
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        o: &mut Self::Buf,
        probs: &mut Self::Buf,
        q: &Self::Buf,
        k: &Self::Buf,
        v: &Self::Buf,
        drop_mask: Option<&Self::Buf>,
        heads: usize,
    );

    /// Attention pooling inside chunks of cs rows ([`crate::ops::chunk_pool`]): u (B, nc·cs,
    /// F) and scores (B, nc·cs, 1) → s (B, nc, F), softmax weights `wts` (B, nc·cs) saved.
    /// Rows at or after `valid` within a sample get weight 0 (`None`: every row counts, pad
    /// rows included as in the reference).
    fn chunk_pool(
        &self,
        s: &mut Self::Buf,
        wts: &mut Self::Buf,
        u: &Self::Buf,
        scores: &Self::Buf,
        valid: Option<usize>,
    );
    /// Streaming form of [`Self::chunk_pool`] with one block over every row so far (SeqPool),
    /// by the online softmax (Milakov & Gimelshein 2018, "Online normalizer calculation for
    /// softmax"; [`crate::ops::chunk_pool::online_pool_forward`]): u (B, L, F) and scores
    /// (B, L, 1) are the next L ≥ 1 rows; the state, all zeros at the start of a stream, is the
    /// running max `m` (B, 1), the softmax denominator `z` (B, 1) (z = 0: no row yet, m is
    /// then ignored) and the weighted row sum `acc` (B, F). With m′ = max(m, maxₜ sₜ) and
    /// r = e^(m − m′): z ← r·z + Σₜ e^(sₜ − m′), acc ← r·acc + Σₜ e^(sₜ − m′)·uₜ (in time
    /// order), m ← m′, and y (B, F) ← acc / z: the softmax-weighted mean of every row so far
    /// (after a sequence's rows, `chunk_pool`'s s with one block, to rounding).
    #[allow(clippy::too_many_arguments)]
    fn online_softmax_pool(
        &self,
        y: &mut Self::Buf,
        u: &Self::Buf,
        scores: &Self::Buf,
        m: &mut Self::Buf,
        z: &mut Self::Buf,
        acc: &mut Self::Buf,
    );
    /// x (B, L, W): the rows t ≥ `from` of every sample ← 0 (the zero pad rows of a partial
    /// last chunk, on a plan of the whole chunk).
    fn zero_rows_from(&self, x: &mut Self::Buf, from: usize);
    /// One circuit per row ([`crate::circuit::circuit_forward`]: |0…0⟩, the gates of `prog`,
    /// complex128 state): angles θ (R, K) and encodings e (R, n_enc) (`None` when the program
    /// has no encoding gates) → the X, Y, Z expectation values of every wire m (R, 3Q),
    /// rounded to f32. `states`, a buffer of R·[`circuit_state_words`] elements, if given,
    /// receives the final states for the backward (complex128 bits in f32 words; the layout is
    /// the backend's).
    fn circuit(
        &self,
        m: &mut Self::Buf,
        states: Option<&mut Self::Buf>,
        theta: &Self::Buf,
        enc: Option<&Self::Buf>,
        prog: &Program,
    );
    /// The quantum projection of the HQC Mamba ([`crate::circuit::qproj`]), one circuit per
    /// row: y (R, d_out) from x (R, d_in).
    fn qproj(&self, y: &mut Self::Buf, x: &Self::Buf, p: &Self::Params, qp: &QProjP);
    /// The gated cell of the gated models ([`crate::ops::gated`]), per sample: pre-activations
    /// (B, 4H) = \[a_f | a_i | a_o | a_g\] and h_prev (B, H) (zeros if `None`) → gates
    /// (B, 4H) = \[f | i | o | g\] and tc (B, H), both saved, and h (B, H) = o ⊙ tc.
    fn gated_cell(
        &self,
        h: &mut Self::Buf,
        saved: [&mut Self::Buf; 2],
        pre: &Self::Buf,
        h_prev: Option<&Self::Buf>,
    );
    /// Each row of x (rows, W) divided by its L2 norm: y = x/N, N = √(Σ x² + eps) saved per
    /// row (hg's feature normalisation).
    fn l2_normalize(&self, y: &mut Self::Buf, norm: &mut Self::Buf, x: &Self::Buf, eps: f32);
    /// The S3 superposition core's state-level mix and measurement, per row (spec groups-2-4
    /// §2.3; [`crate::circuit::superpose`]): three Q-qubit states ψ_k (R, 4·2^Q words each, as
    /// [`Self::circuit`] stores them), weights w = (α, β, γ)/√(Σ|c|² + 1e-9) from the six
    /// parameters p\[coeffs..coeffs + 6\] (re, im of α, β, γ), v = Σ w_k ψ_k,
    /// φ = v/(‖v‖ + 1e-9) → m (R, 3Q) = the X, Y, Z expectation values of φ (f64, rounded).
    fn s3_measure(
        &self,
        m: &mut Self::Buf,
        states: [&Self::Buf; 3],
        p: &Self::Params,
        coeffs: usize,
    );
    /// [`Self::circuit`] run from given initial states `init` (R, 4·2^Q words, the layout of
    /// `states`) instead of |0…0⟩: the reference's `qml.StatePrep(v)` circuits (2a's QFF
    /// layer on the LCU state, spec groups-2-4 §2.1, §3.1). No encoding gates; the final
    /// states are always kept (`states`, R·[`circuit_state_words`]).
    fn circuit_from(
        &self,
        m: &mut Self::Buf,
        states: &mut Self::Buf,
        init: &Self::Buf,
        theta: &Self::Buf,
        prog: &Program,
    );
    /// 2a's linear combination of unitaries (spec groups-2-4 §3.1; [`crate::circuit::superpose`]),
    /// per sample: the nc chunk states ψ_j (B, nc, 4·2^Q words) mixed with
    /// w_j = m_j/(Σ_k |m_k| + 1e-8), m = the complex parameters p\[mix\] ((nc, 2): re, im),
    /// v = Σ_j w_j ψ_j, φ = v/(‖v‖ + 1e-9) → phi (B, 4·2^Q words). f64 throughout.
    fn lcu(&self, phi: &mut Self::Buf, states: &Self::Buf, p: &Self::Params, mix: Range<usize>);
    /// Combines three branch outputs with normalised complex coefficients, see
    /// [`Superpose`].
    fn superpose(&self, y: &mut Self::Buf, xs: [&Self::Buf; 3], p: &Self::Params, sp: &SuperposeP);

    /// y ← Σ_k w_k·x_k over three same-shape buffers, w_k = c_k / (Σ_j |c_j| + eps) with the
    /// scalar parameters c_k = p\[coeffs\[k\]\] (signed, L1-normalised; 1c's α, β, γ).
    fn mix_l1(
        &self,
        y: &mut Self::Buf,
        xs: [&Self::Buf; 3],
        p: &Self::Params,
        coeffs: [usize; 3],
        eps: f32,
    );

    // ---- objective and optimiser ------------------------------------------------------------
    /// y += a ⊙ b (the backward of [`Self::mul`] for each factor).
    fn mul_acc(&self, y: &mut Self::Buf, a: &Self::Buf, b: &Self::Buf);
    /// dx (B, L, W) += the first L rows per sample of dy (B, L₂, W) (backward of
    /// [`Self::pad_time`]).
    fn pad_time_bwd(&self, dx: &mut Self::Buf, dy: &Self::Buf);
    /// dx\[:, t, :\] += dy (B, W) (backward of [`Self::time_slice`]).
    fn time_slice_bwd(&self, dx: &mut Self::Buf, dy: &Self::Buf, t: usize);
    /// The masks alone (0 or 1/(1−p) per element of `mask` (B, …)), for a dropout applied
    /// inside another op (attention's probabilities); the same draws as [`Self::dropout`].
    fn dropout_mask(&self, mask: &mut Self::Buf, cfg: DropoutCfg<'_>, site: u32);
}

/// A training backend: [`Infer`] plus the backward of every op, the loss, and the
/// optimiser on flat parameter and gradient buffers.
pub trait Backend: Infer {
    /// An owned [`Infer::Params`] (`Vec<f32>` on the host).
    type ParamBuf: core::ops::DerefMut<Target = Self::Params> + Send + Sync;
    /// A flat parameter/gradient buffer holding `host`.
    fn params_from_host(&self, host: &[f32]) -> Self::ParamBuf;
    /// Host → parameter buffer (same length).
    fn params_upload(&self, p: &mut Self::Params, host: &[f32]);
    /// Parameter buffer → host (same length).
    fn params_download(&self, p: &Self::Params, host: &mut [f32]);
    /// (B, L, W): y[b, t] += x[b, L−1−t].
    fn reverse_time_acc(&self, y: &mut Self::Buf, x: &Self::Buf);
    /// dx (B, L, D) += dy (B, D) / L.
    fn mean_time_bwd(&self, dx: &mut Self::Buf, dy: &Self::Buf);
    /// dx (B, L, W) += dy of each row's chunk / that chunk's length (backward of
    /// [`Infer::chunk_mean`]).
    fn chunk_mean_bwd(&self, dx: &mut Self::Buf, dy: &Self::Buf, cs: usize);
    /// Backward of [`Infer::scale_segments`]: dx += dy (× s where scaled), ds\[r, j\] += Σ x·dy
    /// over the columns s\[r, j\] scales (summed in f64, in column order).
    #[allow(clippy::too_many_arguments)]
    fn scale_segments_bwd(
        &self,
        dx: &mut Self::Buf,
        ds: &mut Self::Buf,
        dy: &Self::Buf,
        x: &Self::Buf,
        s: &Self::Buf,
        segs: &[Segment],
    );
    /// Backward of [`Infer::row_mean`]: dx\[r, ·\] += dy\[r\]/W.
    fn row_mean_bwd(&self, dx: &mut Self::Buf, dy: &Self::Buf);
    /// g\[range\] += Σ_rows dy (rows, W) (backward of [`Infer::add_param_row`]), summed in
    /// a fixed order.
    fn add_param_row_bwd(&self, g: &mut Self::Params, range: Range<usize>, dy: &Self::Buf);
    /// dx += dy · act'(·); `saved` is x, or y for [`Act::Tanh`].
    fn act_bwd(&self, act: Act, dx: &mut Self::Buf, dy: &Self::Buf, saved: &Self::Buf);
    /// g\[range\] += da ⊙ a (backward of [`Infer::neg_exp`], given its output a).
    fn neg_exp_bwd(&self, g: &mut Self::Params, range: Range<usize>, da: &Self::Buf, a: &Self::Buf);
    /// dx += dy·W (if `dx`), dW += dyᵀ·x, db += Σ_rows dy.
    fn linear_bwd(
        &self,
        dx: Option<&mut Self::Buf>,
        g: &mut Self::Params,
        dy: &Self::Buf,
        x: &Self::Buf,
        p: &Self::Params,
        lin: &LinearP,
    );
    /// Backward of [`Infer::rmsnorm`]: dx += …, g\[w\] += ….
    #[allow(clippy::too_many_arguments)]
    fn rmsnorm_bwd(
        &self,
        dx: &mut Self::Buf,
        g: &mut Self::Params,
        dy: &Self::Buf,
        x: &Self::Buf,
        rstd: &Self::Buf,
        p: &Self::Params,
        w: Range<usize>,
    );
    /// Backward of [`Infer::layernorm`]: dx += …, g\[w\], g\[b\] += … (summed over rows in a
    /// fixed order). `stats` = (μ, rstd) of the forward.
    #[allow(clippy::too_many_arguments)]
    fn layernorm_bwd(
        &self,
        dx: &mut Self::Buf,
        g: &mut Self::Params,
        dy: &Self::Buf,
        x: &Self::Buf,
        stats: [&Self::Buf; 2],
        p: &Self::Params,
        wb: [Range<usize>; 2],
    );
    /// Backward of [`Infer::conv1d`]: dx += …, g\[w\], g\[b\] += ….
    fn conv1d_bwd(
        &self,
        dx: &mut Self::Buf,
        g: &mut Self::Params,
        dy: &Self::Buf,
        x: &Self::Buf,
        p: &Self::Params,
        conv: &ConvP,
    );
    /// Backward of [`Infer::scan`] with the same inputs: accumulates dx, dΔ, dA, dB, dC,
    /// g\[d\], and dh0 (B, E, N) if given; `dh_last` (B, E, N) is the upstream gradient of the
    /// final states; `states` are the forward's, if it stored them (else recomputed).
    #[allow(clippy::too_many_arguments)]
    fn scan_bwd(
        &self,
        grads: ScanGradBufs<'_, Self>,
        g: &mut Self::Params,
        dy: &Self::Buf,
        dh_last: Option<&Self::Buf>,
        states: Option<&Self::Buf>,
        sx: ScanInputs<'_, Self>,
        p: &Self::Params,
        d: Range<usize>,
        dims: ScanP,
    );
    /// Backward of [`Infer::attention`]: dq, dk, dv += ….
    #[allow(clippy::too_many_arguments)]
    fn attention_bwd(
        &self,
        dq: &mut Self::Buf,
        dk: &mut Self::Buf,
        dv: &mut Self::Buf,
        dout: &Self::Buf,
        qkv: [&Self::Buf; 3],
        probs: &Self::Buf,
        drop_mask: Option<&Self::Buf>,
        heads: usize,
    );
    /// Backward of [`Infer::chunk_pool`]: du, dscores += ….
    fn chunk_pool_bwd(
        &self,
        du: &mut Self::Buf,
        dscores: &mut Self::Buf,
        ds: &Self::Buf,
        u: &Self::Buf,
        wts: &Self::Buf,
    );
    /// Adjoint-method backward of [`Infer::circuit`] (Jones & Gacon 2020) from the forward's
    /// final `states` (recomputed per row when `None`): dθ (R, K) and de (R, n_enc) += … from
    /// dm (R, 3Q).
    #[allow(clippy::too_many_arguments)]
    fn circuit_bwd(
        &self,
        dtheta: &mut Self::Buf,
        denc: Option<&mut Self::Buf>,
        dm: &Self::Buf,
        states: Option<&Self::Buf>,
        theta: &Self::Buf,
        enc: Option<&Self::Buf>,
        prog: &Program,
    );
    /// Backward of [`Infer::qproj`]: dx (R, d_in) += … (if given) and g\[W, γ, β\] += … from
    /// dy (R, d_out); the rows' parameter gradients are summed in row order.
    fn qproj_bwd(
        &self,
        dx: Option<&mut Self::Buf>,
        g: &mut Self::Params,
        dy: &Self::Buf,
        x: &Self::Buf,
        p: &Self::Params,
        qp: &QProjP,
    );
    /// Backward of [`Infer::gated_cell`] from `saved` = (gates, tc): dpre (B, 4H) += … and,
    /// if given, dh_prev (B, H) += … from dh (B, H).
    fn gated_cell_bwd(
        &self,
        dpre: &mut Self::Buf,
        dh_prev: Option<&mut Self::Buf>,
        dh: &Self::Buf,
        saved: [&Self::Buf; 2],
        h_prev: Option<&Self::Buf>,
    );
    /// Backward of [`Infer::l2_normalize`]: dx += dy/N − x·(Σ dy·x)/N³ per row.
    fn l2_normalize_bwd(&self, dx: &mut Self::Buf, dy: &Self::Buf, x: &Self::Buf, norm: &Self::Buf);
    /// Adjoint backward of [`Infer::circuit`] from the gradient with respect to the final state,
    /// `gstate` (R, 4·2^Q words: complex128 bits of G = ∂L/∂Re ψ + i·∂L/∂Im ψ, the layout of
    /// `states`), instead of from expectation values: dθ, de += … (Jones & Gacon 2020).
    #[allow(clippy::too_many_arguments)]
    fn circuit_bwd_state(
        &self,
        dtheta: &mut Self::Buf,
        denc: Option<&mut Self::Buf>,
        gstate: &Self::Buf,
        states: &Self::Buf,
        theta: &Self::Buf,
        enc: Option<&Self::Buf>,
        prog: &Program,
    );
    /// Backward of [`Infer::s3_measure`]: `gstates[k]` ← ∂L/∂ψ_k (overwritten; the `gstate` of
    /// [`Self::circuit_bwd_state`]), g\[coeffs..coeffs + 6\] += … (summed over rows in f64).
    #[allow(clippy::too_many_arguments)]
    fn s3_measure_bwd(
        &self,
        gstates: [&mut Self::Buf; 3],
        g: &mut Self::Params,
        dm: &Self::Buf,
        states: [&Self::Buf; 3],
        p: &Self::Params,
        coeffs: usize,
    );
    /// Adjoint backward of [`Infer::circuit_from`]: dθ (R, K) += … and `ginit` ← the gradient
    /// with respect to the initial states (overwritten; G = ∂L/∂Re ψ + i·∂L/∂Im ψ, as
    /// [`Self::circuit_bwd_state`] takes it) from dm (R, 3Q).
    fn circuit_from_bwd(
        &self,
        dtheta: &mut Self::Buf,
        ginit: &mut Self::Buf,
        dm: &Self::Buf,
        states: &Self::Buf,
        theta: &Self::Buf,
        prog: &Program,
    );
    /// Backward of [`Infer::lcu`]: `gstates` (B, nc, words) ← the state gradients (overwritten)
    /// from gphi (B, words), and g\[mix\] += … (the weight gradients summed over samples in
    /// order, in f64).
    fn lcu_bwd(
        &self,
        gstates: &mut Self::Buf,
        g: &mut Self::Params,
        gphi: &Self::Buf,
        states: &Self::Buf,
        p: &Self::Params,
        mix: Range<usize>,
    );
    /// Backward of [`Infer::superpose`]: dxs\[k\] += …, and the six coefficient reals' gradients
    /// into `g` (sums in f64, in a fixed order).
    fn superpose_bwd(
        &self,
        dxs: [&mut Self::Buf; 3],
        g: &mut Self::Params,
        dy: &Self::Buf,
        xs: [&Self::Buf; 3],
        p: &Self::Params,
        sp: &SuperposeP,
    );
    /// Backward of [`Infer::mix_l1`]: dxs\[k\] += w_k·dy; g\[coeffs\[j\]\] += ∂L/∂c_j
    /// (= G_j/S − sgn(c_j)·Σ_k G_k·c_k/S², G_k = Σ dy ⊙ x_k, S = Σ|c| + eps; sgn(0) = 0 as in
    /// PyTorch's `abs` backward).
    #[allow(clippy::too_many_arguments)]
    fn mix_l1_bwd(
        &self,
        dxs: [&mut Self::Buf; 3],
        g: &mut Self::Params,
        dy: &Self::Buf,
        xs: [&Self::Buf; 3],
        p: &Self::Params,
        coeffs: [usize; 3],
        eps: f32,
    );
    /// Mean loss over the batch of outputs (B, K) (cross-entropy or MSE, see [`Targets`]),
    /// and d(mean loss)/d outputs written to `dout` (overwritten). Targets for b ≤ B samples:
    /// the first b rows are the batch (mean over b), the rest padding (zero gradient). The
    /// only scalar a step reads back besides the gradient norm.
    fn loss(&self, dout: &mut Self::Buf, out: &Self::Buf, targets: Targets<'_>) -> f32;
    /// Zeroes a gradient buffer.
    fn zero_params(&self, g: &mut Self::Params);
    /// Global L2 norm of g (accumulated in f64).
    fn grad_norm(&self, g: &Self::Params) -> f64;
    /// g ← g · c.
    fn scale_params(&self, g: &mut Self::Params, c: f32);
    /// One optimiser step on the flat buffers: clip g by its global L2 norm (PyTorch's
    /// `clip_grad_norm_`: coef = max_norm / (‖g‖ + 1e-6), applied when < 1; `None`: no clip),
    /// then p, m, v ← one Adam/AdamW element update ([`crate::ops::adam`]) wherever `active`
    /// is nonzero (frozen tensors keep their values). The norm is not read back.
    fn adam_step(&self, bufs: AdamBufs<'_, Self>, max_norm: Option<f32>, s: &AdamScalars);
    /// `host` as a parameter buffer without a copy, where buffers live in host memory (the
    /// CPU backend); `None` on a device (then [`Self::params_upload`]).
    fn host_params<'a>(&self, _host: &'a [f32]) -> Option<&'a Self::Params> {
        None
    }
    /// [`Self::host_params`], mutable (a gradient buffer written in place).
    fn host_params_mut<'a>(&self, _host: &'a mut [f32]) -> Option<&'a mut Self::Params> {
        None
    }
}

/// f32 words per row of the `states` buffer of [`Infer::circuit`]: the 2^Q complex128
/// amplitudes of a Q-qubit state, four words each.
pub fn circuit_state_words(n_qubits: usize) -> usize {
    4 << n_qubits
}

/// The flat buffers of [`Backend::adam_step`].
pub struct AdamBufs<'a, B: Backend + ?Sized> {
    /// parameters (updated)
    pub p: &'a mut B::Params,
    /// gradients (clipped in place)
    pub g: &'a mut B::Params,
    /// first moments (updated)
    pub m: &'a mut B::Params,
    /// second moments (updated)
    pub v: &'a mut B::Params,
    /// 1 where the optimiser updates, 0 where a tensor is frozen
    pub active: &'a B::Params,
}

/// The inputs of a batched scan (all (B, L, ·) but `a`).
pub struct ScanInputs<'a, B: Infer + ?Sized> {
    /// x (B, L, E)
    pub x: &'a B::Buf,
    /// Δ (B, L, E)
    pub delta: &'a B::Buf,
    /// A (N) or (E, N), already −exp(A_log)
    pub a: &'a B::Buf,
    /// B (B, L, N)
    pub bm: &'a B::Buf,
    /// C (B, L, N)
    pub cm: &'a B::Buf,
    /// initial states (B, E, N), zeros if `None`
    pub h0: Option<&'a B::Buf>,
}

/// The gradient outputs of [`Backend::scan_bwd`] (accumulated).
pub struct ScanGradBufs<'a, B: Backend + ?Sized> {
    /// dx (B, L, E)
    pub dx: &'a mut B::Buf,
    /// dΔ (B, L, E)
    pub ddelta: &'a mut B::Buf,
    /// dA (same shape as A)
    pub da: &'a mut B::Buf,
    /// dB (B, L, N)
    pub dbm: &'a mut B::Buf,
    /// dC (B, L, N)
    pub dcm: &'a mut B::Buf,
    /// dh0 (B, E, N), if wanted
    pub dh0: Option<&'a mut B::Buf>,
}
