//! Models the engine runs through their one description (`qssm_models`): the model's
//! [`Net`] is built from the card by the same constructor the trainer uses
//! ([`qssm_models::zoo::visit_net`] for the zoo, [`TrueClassicalMamba::hqc_mamba`] for the HQC
//! Mamba and its classical twin), every tensor of its parameter layout is taken from the
//! file by its reference `state_dict` name with exactly the layout's shape, and a window runs
//! the net's eval forward on the CPU backend ([`qssm_kernels::backend::cpu::Cpu`](type@qssm_kernels::backend::cpu::Cpu), sequential
//! without `std`). Nothing here re-implements a model: a window's logits are the trainer's
//! `forward_eval` on the same parameters.
//!
//! Weights stay in the file's dtype: an f16 file's weight matrices are kept as f16 bits (half
//! the memory) and read in place by the backend's matrix-vector kernels (widened exactly in
//! registers); a window reads the other tensors (norms, biases, conv kernels, SSM and circuit
//! parameters, a few percent of the parameters) from f32 copies it makes for itself.
use super::circuit_card::{check_circuit, AnsatzRule};
use super::gated_config::GatedConfig;
use crate::error::EngineError;
use crate::weights::{Loader, Store};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;
use qssm_formats::model_file::ModelCard;
use qssm_formats::model_file::MAX_DIM;
use qssm_formats::registry::ModelInfo;
use qssm_kernels::backend::cpu::{CpuIn, Heap, HostParams, MatrixRef};
use qssm_kernels::backend::Infer;
use qssm_kernels::ops::matvec::f16_to_f32;
use qssm_models::config_check::check_config;
use qssm_models::nn::{Net, ProjKind, QProjOptions};
use qssm_models::params::ParamLayout;
use qssm_models::zoo::{self, visit_net, NetVisitor, TrueClassicalMamba};
use qssm_models::{AnsatzKind, ModelConfig};

/// A zoo model as its shared description runs it: the registry id and configuration (from the
/// card), the description's parameter layout, and every parameter once, in the file's dtype
/// ([`Store`]; the streaming code's weight matrices are views of it). The [`Net`] itself is
/// built again for every window (its constructor only lays out names and ranges), so a build
/// that never classifies a window (a streaming firmware) links no window forward at all.
#[derive(Clone)]
pub(crate) struct SharedModel {
    id: &'static str,
    cfg: ModelConfig,
    build: Build,
    layout: ParamLayout,
    /// where tensor i of the layout starts in the store: the layout's order, each tensor at a
    /// multiple of [`ALIGN`] values (the streams' matrix-vector products read rows from aligned
    /// starts, as from separately allocated matrices)
    starts: Vec<usize>,
    store: Arc<Store>,
}

/// Which constructor builds a model's net from its configuration.
#[derive(Clone, Debug)]
enum Build {
    /// the zoo's one list of constructors ([`visit_net`])
    Zoo,
    /// the HQC Mamba (`proj` quantum) or its classical twin (`proj` Linear):
    /// [`TrueClassicalMamba::hqc_mamba`] with d_inner = `expand`·d_model
    Hqc { expand: usize, proj: ProjKind },
}

/// Whether model `id` has a shared description the engine runs: every zoo model and the HQC
/// Mambas (the Quantum-Train CNNs run the shared `qssm_kernels::ops::target_cnn` forward
/// through their engine form).
pub(crate) fn has_description(entry: &ModelInfo) -> bool {
    entry.is_zoo() || is_hqc(entry.id)
}

fn is_hqc(id: &str) -> bool {
    matches!(id, "hqc-mamba" | "hqc-mamba-classical")
}

/// Hands `v` the net of model `id` built by `build` for `cfg`; `None` for an id the zoo does
/// not have.
fn visit<V: NetVisitor>(id: &str, cfg: &ModelConfig, build: &Build, v: V) -> Option<V::Output> {
    match build {
        Build::Zoo => visit_net(id, cfg.clone(), v),
        Build::Hqc { expand, proj } => {
            Some(v.visit(TrueClassicalMamba::hqc_mamba(cfg.clone(), *expand, proj)))
        }
    }
}

/// Values per alignment unit of a tensor's start in the store (64 bytes of f32).
const ALIGN: usize = 16;

impl core::fmt::Debug for SharedModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SharedModel({}, {:?})", self.id, self.store)
    }
}

impl SharedModel {
    /// Builds model `entry` from the card and takes every tensor of its layout from `ld`.
    /// Errors: [`EngineError::Mismatch`] (a card the model cannot be built from),
    /// `File(MissingTensor)`, `File(ShapeMismatch)`, [`EngineError::NonFiniteWeight`].
    pub(crate) fn load(
        entry: &ModelInfo,
        card: &ModelCard,
        ld: &mut Loader<'_, '_>,
    ) -> Result<Self, EngineError> {
        let (cfg, build) = if is_hqc(entry.id) {
            hqc_config(entry.id, card, ld)?
        } else {
            (config(entry, card, ld)?, Build::Zoo)
        };
        let (layout, starts, store) =
            visit(entry.id, &cfg, &build, Take { ld }).unwrap_or_else(|| {
                Err(EngineError::UnsupportedModel {
                    id: format!("{} (no shared description)", entry.id),
                })
            })?;
        Ok(Self {
            id: entry.id,
            cfg,
            build,
            layout,
            starts,
            store: Arc::new(store),
        })
    }

    /// The description's parameter layout.
    pub(crate) fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// Where tensor i of [`Self::layout`] starts in [`Self::store`].
    pub(crate) fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// The parameters.
    pub(crate) fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// Window x (C, T) channel-major → outputs (n_classes), the description's eval forward on
    /// the CPU backend, reading the weight matrices where they are stored ([`WindowParams`]).
    pub(crate) fn logits(&self, x: &[f32]) -> Vec<f32> {
        let p = WindowParams::new(self);
        // the id was built at load, so the visit always runs
        visit(self.id, &self.cfg, &self.build, Window { p: &p, x })
            .unwrap_or_else(|| vec![f32::NAN; self.cfg.n_classes])
    }
}

/// The parameters of a [`SharedModel`] as the CPU backend reads them for one window, by the
/// layout's ranges: the weight matrices in place in the store (f32, or f16 widened exactly by
/// the matrix-vector kernels), the other tensors (norms, biases, conv kernels, SSM and circuit
/// parameters: a few percent of the parameters) from f32 copies made for the window, back to
/// back in layout order (an op may read adjacent small tensors as one range, e.g. the six
/// mixing coefficients of an S3 core, which the store keeps at aligned starts).
struct WindowParams<'m> {
    model: &'m SharedModel,
    small: Vec<f32>,
    /// where tensor i of the layout starts in `small` (`NOT_SMALL` for a matrix)
    small_at: Vec<usize>,
}

/// `small_at` of a tensor with no f32 copy.
const NOT_SMALL: usize = usize::MAX;

impl<'m> WindowParams<'m> {
    fn new(model: &'m SharedModel) -> Self {
        let specs = model.layout.specs();
        let (mut small, mut small_at) = (Vec::new(), Vec::with_capacity(specs.len()));
        for (spec, &start) in specs.iter().zip(&model.starts) {
            if spec.matrix {
                small_at.push(NOT_SMALL);
                continue;
            }
            small_at.push(small.len());
            let n = spec.range.len();
            if !spec.used {
                // constructed but never read (not in the store): zeros keep the ranges aligned
                small.resize(small.len() + n, 0.0);
                continue;
            }
            match &*model.store {
                Store::F32(v) => small.extend_from_slice(&v[start..start + n]),
                Store::F16(v) => small.extend(v[start..start + n].iter().map(|&h| f16_to_f32(h))),
            }
        }
        Self {
            model,
            small,
            small_at,
        }
    }

    /// Index of the layout tensor holding layout index `i`.
    fn tensor_of(&self, i: usize) -> usize {
        self.model
            .layout
            .specs()
            .partition_point(|s| s.range.end <= i)
    }
}

impl HostParams for WindowParams<'_> {
    fn f32(&self, r: Range<usize>) -> &[f32] {
        if r.is_empty() {
            return &[];
        }
        let i = self.tensor_of(r.start);
        let at = self.small_at[i];
        assert!(
            at != NOT_SMALL,
            "{}: a weight matrix read as f32",
            self.model.id
        );
        let off = r.start - self.model.layout.specs()[i].range.start;
        &self.small[at + off..][..r.len()]
    }
    fn matrix(&self, r: Range<usize>) -> MatrixRef<'_> {
        if r.is_empty() {
            return MatrixRef::F32(&[]);
        }
        let i = self.tensor_of(r.start);
        let at = self.model.starts[i] + r.start - self.model.layout.specs()[i].range.start;
        match &*self.model.store {
            Store::F32(v) => MatrixRef::F32(&v[at..][..r.len()]),
            Store::F16(v) => MatrixRef::F16(&v[at..][..r.len()]),
        }
    }
}

/// Runs a net's eval forward on one window.
struct Window<'a> {
    p: &'a WindowParams<'a>,
    x: &'a [f32],
}

impl NetVisitor for Window<'_> {
    type Output = Vec<f32>;
    fn visit<M: Net + 'static>(self, net: M) -> Vec<f32> {
        let be = CpuIn::<Heap, WindowParams<'_>>::new(Heap);
        let mut acts = net.plan(&be, 1);
        be.upload(&mut M::io(&mut acts).x, self.x);
        net.forward(&be, self.p, &mut acts, None);
        let out = &M::io(&mut acts).out;
        let mut v = vec![0.0; be.numel(out)];
        be.download(out, &mut v);
        v
    }
}

/// Takes a net's parameters from the file, tensor by tensor in layout order.
struct Take<'l, 'f, 'a> {
    ld: &'l mut Loader<'f, 'a>,
}

impl NetVisitor for Take<'_, '_, '_> {
    type Output = Result<(ParamLayout, Vec<usize>, Store), EngineError>;
    fn visit<M: Net + 'static>(self, net: M) -> Self::Output {
        let layout = net.layout();
        // every used tensor at an aligned start, in layout order
        let mut starts = Vec::with_capacity(layout.specs().len());
        let mut end = 0usize;
        for s in layout.specs() {
            let start = end.next_multiple_of(ALIGN);
            starts.push(start);
            if s.used {
                end = start + s.range.len();
            }
        }
        let (mut p32, mut p16) = (Vec::new(), Vec::new());
        for (s, &start) in layout.specs().iter().zip(&starts) {
            if !s.used {
                // constructed but never read by the forward (1b's `mamba_layers.i.norm`)
                self.ld.accept_unused(&s.name, &s.shape)?;
                continue;
            }
            let at = start..start + s.range.len();
            // the loader admits one dtype per file (the card's): one of the two is allocated
            match self.ld.take_stored(&s.name, &s.shape)? {
                Store::F32(v) => {
                    if p32.is_empty() {
                        p32 = vec![0.0f32; end];
                    }
                    p32[at].copy_from_slice(&v);
                }
                Store::F16(v) => {
                    if p16.is_empty() {
                        p16 = vec![0u16; end];
                    }
                    p16[at].copy_from_slice(&v);
                }
            }
        }
        let store = if p16.is_empty() {
            p32.resize(end, 0.0);
            Store::F32(p32)
        } else {
            Store::F16(p16)
        };
        Ok((layout.clone(), starts, store))
    }
}

/// The configuration the card describes: its hyperparameters, its causal flag, the gated
/// models' chunk size, ansatz (circuit layout) and hidden size H (the stored shape of
/// `h_tensor`, which the card does not record), checked as the trainer checks it before
/// building ([`check_config`]).
fn config(
    entry: &ModelInfo,
    card: &ModelCard,
    ld: &Loader<'_, '_>,
) -> Result<ModelConfig, EngineError> {
    if card.causal && !entry.streamable {
        return Err(EngineError::Mismatch {
            what: format!(
                "{} is window-only (its output at a time depends on later samples), card says causal = true",
                entry.id
            ),
        });
    }
    // circuit layout (if the card has one) = hyperparameters; Q within the simulator's range
    let circuit = match entry.id {
        "1b" => Some((zoo::CHUNK_SIZE_1B, AnsatzRule::Unified)),
        "1c" => Some((zoo::CHUNK_SIZE_1C, AnsatzRule::Unified)),
        "1a" => Some((zoo::CHUNK_SIZE_1A, AnsatzRule::Unified)),
        "2a" => Some((zoo::CHUNK_SIZE_2A, AnsatzRule::Any)),
        "2b" | "2c" => Some((zoo::CHUNK_SIZE_2BC, AnsatzRule::Any)),
        _ => None,
    };
    if let Some((chunk, ansatz)) = circuit {
        check_circuit(entry.id, card, 1, chunk, ansatz)?;
    }
    let mut cfg = ModelConfig::from_card(card);
    let h_tensor = match entry.id {
        "mg" => Some("gated_recurrence.chunk_agg.1.weight"),
        "hg" => Some("branch_forward.chunk_agg.1.weight"),
        _ => None,
    };
    if let Some(h_tensor) = h_tensor {
        let g = GatedConfig::from_card(entry.id, card, ld, h_tensor)?;
        cfg.hidden_dim = g.h;
        cfg.chunk_size = g.chunk;
        cfg.ansatz = if g.legacy4 {
            AnsatzKind::Legacy4
        } else {
            AnsatzKind::Unified5
        };
    }
    check_config(entry, &cfg).map_err(|e| EngineError::Mismatch {
        what: e.to_string(),
    })?;
    Ok(cfg)
}

/// The HQC Mamba's configuration (spec hqc-mamba-and-quantum-train §3.3): the card's
/// hyperparameters; d_inner / d_model from `architecture.expand` or, in a classical twin's card
/// without `architecture`, from `layers.0.in_proj.weight` (2E, D); the quantum projections'
/// options from `architecture.qproj`, which `hqc-mamba` needs and its twin must not have.
/// (The projections' qubit counts are checked by the streaming form, loaded next.)
fn hqc_config(
    id: &str,
    card: &ModelCard,
    ld: &Loader<'_, '_>,
) -> Result<(ModelConfig, Build), EngineError> {
    let mismatch = |what: String| EngineError::Mismatch { what };
    let arch = card.architecture.as_ref();
    let q = arch.and_then(|a| a.qproj.as_ref());
    if (id == "hqc-mamba") != q.is_some() {
        return Err(mismatch(format!(
            "model '{id}' with{} architecture.qproj in its card",
            if q.is_some() { "" } else { "out" }
        )));
    }
    let cfg = ModelConfig::from_card(card);
    let d = cfg.d_model;
    let expand = match arch {
        Some(a) => a.expand,
        None => {
            let rows = ld.shape("layers.0.in_proj.weight")?[0];
            if rows == 0 || rows % (2 * d) != 0 {
                return Err(mismatch(format!(
                    "layers.0.in_proj.weight has {rows} rows, not 2·expand·d_model with d_model = {d}"
                )));
            }
            rows / (2 * d)
        }
    };
    if !expand
        .checked_mul(d)
        .is_some_and(|e| (1..=MAX_DIM).contains(&e))
    {
        return Err(mismatch(format!(
            "d_inner (expand {expand} × d_model {d}) outside 1..={MAX_DIM}"
        )));
    }
    let proj = match q {
        None => ProjKind::Linear,
        Some(q) => {
            let o = QProjOptions::from_card(q).map_err(mismatch)?;
            if o.layers > MAX_DIM {
                return Err(mismatch(format!(
                    "architecture.qproj.layers {} outside 1..={MAX_DIM}",
                    o.layers
                )));
            }
            ProjKind::Quantum(o)
        }
    };
    Ok((cfg, Build::Hqc { expand, proj }))
}
