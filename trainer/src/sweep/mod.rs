//! Ablation sweeps: a [`grid`] of `trainer fit` runs (models × sampling rates × split seeds ×
//! init seeds × any fit option) planned into a [`manifest`] of runs with stable names and
//! output folders, run on this machine ([`local`]) or as a SLURM job array ([`slurm`]).
//!
//! A run whose `results.json` holds test metrics is skipped when the sweep is submitted again;
//! every run is started with `--resume`, so a run killed mid-way continues from its last
//! checkpoint (the result equals an uninterrupted run's). `trainer report` aggregates the
//! results ([`crate::report`]).
pub mod grid;
pub mod local;
pub mod manifest;
pub mod slurm;
