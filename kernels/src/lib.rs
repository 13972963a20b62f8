//! # qssm-kernels — the numerical core
//!
//! Every op of [`ops`] is a `*_forward` / `*_backward` pair over plain `f32` slices (llm.c
//! style), written for one sample at a time in **token-major** layout: a sequence is `(L, D)`
//! row-major (row `t` = token `t`). [`backend`] is the batched interface the models are
//! written against (buffers with shapes, one flat parameter and gradient buffer); its CPU
//! backend (feature `std`) runs these kernels over whole batches.
//!
//! Shape legend used in every doc comment:
//! B batch, T time samples, L sequence length seen by an op (T or number of chunks),
//! C EEG channels, D feature width (`d_model` or `d_inner`), E `d_inner`, N `d_state`,
//! Q qubits, K circuit angles.
//!
//! Gradient convention (as in llm.c): every `*_backward` **accumulates** (`+=`) into all of
//! its gradient outputs, parameters and inputs alike; callers zero the buffers first.
//!
//! The crate is `no_std` (with `alloc`) so the inference engine reuses the forward ops;
//! feature `std` (default) only adds conveniences.
#![cfg_attr(not(feature = "std"), no_std)]
extern crate alloc;

pub mod backend;
pub mod circuit;
pub mod ops;
pub mod signal;
