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
//! registers); the other tensors (norms, biases, conv kernels, SSM and circuit parameters, a
//! few percent of the parameters) are kept once in f32, made at load. A window reads both in
//! place.
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
    /// where tensor i of the layout starts: a weight matrix ([`ParamSpec::matrix`](qssm_models::params::ParamSpec::matrix)) in
    /// `store`, at a multiple of [`ALIGN`] values (the matrix-vector products read rows from
    /// aligned starts, as from separately allocated matrices); any other tensor in `small`
    starts: Vec<usize>,
    /// per layout tensor, in order: (end of its layout range, where its layout index 0 would
    /// be in its storage, whether it is a matrix in `store`)
    index: Vec<(usize, isize, bool)>,
    /// per [`COARSE`] layout indices: the first tensor ending after the first of them, so that
    /// an op's parameter lookup (tens per streaming step) is a load and a short forward walk
    /// in `index` (2 bytes per 256 parameters)
    coarse: Vec<u16>,
    /// the weight matrices, in the file's dtype
    store: Arc<Store>,
    /// every other tensor (norms, biases, conv kernels, SSM and circuit parameters: a few
    /// percent of the parameters) in f32, back to back in layout order, so that a range of the
    /// layout over adjacent small tensors (an S3 core's mixing coefficients) is one slice here
    small: Vec<f32>,
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

/// Layout indices per entry of [`SharedModel`]'s coarse tensor index.
const COARSE: usize = 256;

/// The coarse index over tensor `ends` of a layout of `len` values: entry j is the first
/// tensor ending after j·[`COARSE`]. Errors: [`EngineError::Mismatch`] for a layout of 2¹⁶
/// tensors or more (no model comes near).
fn coarse_index(index: &[(usize, isize, bool)], len: usize) -> Result<Vec<u16>, EngineError> {
    (0..len.div_ceil(COARSE))
        .map(|j| {
            let i = index.partition_point(|&(end, ..)| end <= j * COARSE);
            u16::try_from(i).map_err(|_| EngineError::Mismatch {
                what: format!("{i} parameter tensors (at most 65535)"),
            })
        })
        .collect()
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
        let (layout, starts, store, small) = visit(entry.id, &cfg, &build, Take { ld })
            .unwrap_or_else(|| {
                Err(EngineError::UnsupportedModel {
                    id: format!("{} (no shared description)", entry.id),
                })
            })?;
        let index = layout
            .specs()
            .iter()
            .zip(&starts)
            .map(|(s, &at)| (s.range.end, at as isize - s.range.start as isize, s.matrix))
            .collect::<Vec<_>>();
        let coarse = coarse_index(&index, layout.len())?;
        Ok(Self {
            id: entry.id,
            cfg,
            build,
            layout,
            starts,
            index,
            coarse,
            store: Arc::new(store),
            small,
        })
    }

    /// The registry id.
    pub(crate) fn id(&self) -> &'static str {
        self.id
    }

    /// The configuration the description is built from.
    #[cfg_attr(
        not(any(feature = "description-streams", feature = "stream-3b-description")),
        allow(dead_code)
    )]
    pub(crate) fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// The HQC Mamba's or its classical twin's net (built with the card's expand and
    /// projections); `None` for a zoo model.
    #[cfg_attr(not(feature = "description-streams"), allow(dead_code))]
    pub(crate) fn hqc_net(&self) -> Option<TrueClassicalMamba> {
        match &self.build {
            Build::Zoo => None,
            Build::Hqc { expand, proj } => Some(TrueClassicalMamba::hqc_mamba(
                self.cfg.clone(),
                *expand,
                proj,
            )),
        }
    }

    /// The description's parameter layout.
    pub(crate) fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// Where tensor i of [`Self::layout`] starts: in [`Self::store`] for a weight matrix
    /// ([`ParamSpec::matrix`](qssm_models::params::ParamSpec::matrix)), else among the f32 copies of the small tensors.
    pub(crate) fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// The parameters.
    pub(crate) fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// Window x (C, T) channel-major → outputs (n_classes), the description's eval forward on
    /// the CPU backend, reading every parameter where it is kept ([`HostParams`] for
    /// [`SharedModel`]: nothing is copied per window).
    pub(crate) fn logits(&self, x: &[f32]) -> Vec<f32> {
        // the id was built at load, so the visit always runs
        visit(self.id, &self.cfg, &self.build, Window { p: self, x })
            .unwrap_or_else(|| vec![f32::NAN; self.cfg.n_classes])
    }

    /// Where layout range `r` is: (its start in its storage, whether that is `store`).
    #[inline]
    fn locate(&self, r: &Range<usize>) -> (usize, bool) {
        let mut i = usize::from(self.coarse[r.start / COARSE]);
        while self.index[i].0 <= r.start {
            i += 1;
        }
        let (_, offset, matrix) = self.index[i];
        ((r.start as isize + offset) as usize, matrix)
    }
}

/// The parameters as the CPU backend reads them, by the description's layout ranges: the
/// weight matrices in place in the store (f32, or f16 widened exactly by the matrix-vector
/// kernels), every other tensor from its f32 copy made at load (a range over adjacent small
/// tensors, as an S3 core's mixing coefficients, is one slice there too).
///
/// A range is always within the layout (the description's ops read their own parameters);
/// reading a weight matrix of an f16 file element-wise would be a bug of the description (its
/// matrices are read through [`HostParams::matrix`]) and panics.
impl HostParams for SharedModel {
    fn f32(&self, r: Range<usize>) -> &[f32] {
        if r.is_empty() {
            return &[];
        }
        let (at, matrix) = self.locate(&r);
        if !matrix {
            return &self.small[at..][..r.len()];
        }
        match &*self.store {
            Store::F32(v) => &v[at..][..r.len()],
            Store::F16(_) => panic!("{}: a weight matrix at {r:?} read as f32", self.id),
        }
    }
    fn matrix(&self, r: Range<usize>) -> MatrixRef<'_> {
        if r.is_empty() {
            return MatrixRef::F32(&[]);
        }
        let (at, matrix) = self.locate(&r);
        if !matrix {
            return MatrixRef::F32(&self.small[at..][..r.len()]);
        }
        match &*self.store {
            Store::F32(v) => MatrixRef::F32(&v[at..][..r.len()]),
            Store::F16(v) => MatrixRef::F16(&v[at..][..r.len()]),
        }
    }
}

/// Runs a net's eval forward on one window.
struct Window<'a> {
    p: &'a SharedModel,
    x: &'a [f32],
}

impl NetVisitor for Window<'_> {
    type Output = Vec<f32>;
    fn visit<M: Net + 'static>(self, net: M) -> Vec<f32> {
        let be = CpuIn::<Heap, SharedModel>::new(Heap);
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
    type Output = Result<(ParamLayout, Vec<usize>, Store, Vec<f32>), EngineError>;
    fn visit<M: Net + 'static>(self, net: M) -> Self::Output {
        let layout = net.layout();
        // weight matrices at aligned starts in the store, the rest back to back in `small`,
        // both in layout order
        let mut starts = Vec::with_capacity(layout.specs().len());
        let (mut end, mut n_small) = (0usize, 0usize);
        for s in layout.specs() {
            if s.matrix {
                let start = end.next_multiple_of(ALIGN);
                starts.push(start);
                if s.used {
                    end = start + s.range.len();
                }
            } else {
                starts.push(n_small);
                n_small += s.range.len();
            }
        }
        let (mut p32, mut p16) = (Vec::new(), Vec::new());
        let mut small = vec![0.0f32; n_small];
        for (s, &start) in layout.specs().iter().zip(&starts) {
            if !s.used {
                // constructed but never read by the forward (1b's `mamba_layers.i.norm`); its
                // zeros in `small` keep the ranges of its neighbours adjacent
                self.ld.accept_unused(&s.name, &s.shape)?;
                continue;
            }
            let at = start..start + s.range.len();
            if !s.matrix {
                small[at].copy_from_slice(&self.ld.take(&s.name, &s.shape)?);
                continue;
            }
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
        Ok((layout.clone(), starts, store, small))
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
