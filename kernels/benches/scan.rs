//! Criterion benches of the channel-minor selective scan (`ops::scan_channels`), one sample at
//! the 3b configuration (L = 249 steps, E = d_inner = 256 channels, N = d_state = 16):
//! forward storing every state (training), forward in the ring of two states (inference), and
//! the backward from the stored states; and one streaming step (L = 1) in the states' own
//! (E, N) layout (`scan_channels::step`, the description's) beside the transposed (N, E) step
//! (`scan::scan_step_transposed`).
//!
//! `cargo bench -p qssm-kernels --bench scan`
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qssm_kernels::ops::scan::ScanDims;
use qssm_kernels::ops::scan_channels as sc;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn uniform(r: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.gen_range(lo..hi)).collect()
}

fn scan(c: &mut Criterion) {
    let mut r = ChaCha8Rng::seed_from_u64(3);
    let mut g = c.benchmark_group("scan_channels");
    for l in [16usize, 249] {
        let (e, n) = (256, 16);
        let dims = ScanDims {
            l,
            e,
            n,
            a_row_stride: n,
            dt_on_b: true,
        };
        let x = uniform(&mut r, l * e, -1.0, 1.0);
        let delta = uniform(&mut r, l * e, 0.001, 0.1);
        let at = uniform(&mut r, n * e, -16.0, -1.0);
        let bm = uniform(&mut r, l * n, -1.0, 1.0);
        let cm = uniform(&mut r, l * n, -1.0, 1.0);
        let d = uniform(&mut r, e, 0.5, 1.5);
        let dy = uniform(&mut r, l * e, -1.0, 1.0);
        let mut y = vec![0.0; l * e];
        let mut hs = vec![0.0; sc::states_len(dims)];
        let mut ring = vec![0.0; 2 * n * e];
        g.throughput(Throughput::Elements((l * e * n) as u64));
        g.bench_function(BenchmarkId::new("forward_states", l), |bch| {
            bch.iter(|| {
                sc::forward(
                    &mut y, &mut hs, &x, &delta, &at, &bm, &cm, &d, None, dims, false,
                )
            })
        });
        g.bench_function(BenchmarkId::new("forward_ring", l), |bch| {
            bch.iter(|| {
                sc::forward(
                    &mut y, &mut ring, &x, &delta, &at, &bm, &cm, &d, None, dims, false,
                )
            })
        });
        sc::forward(
            &mut y, &mut hs, &x, &delta, &at, &bm, &cm, &d, None, dims, false,
        );
        let (mut dx, mut ddelta) = (vec![0.0; l * e], vec![0.0; l * e]);
        let (mut dat, mut dbm, mut dcm, mut dd) = (
            vec![0.0; n * e],
            vec![0.0; l * n],
            vec![0.0; l * n],
            vec![0.0; e],
        );
        let mut scratch = vec![0.0; sc::backward_scratch_len(dims)];
        g.bench_function(BenchmarkId::new("backward", l), |bch| {
            bch.iter(|| {
                sc::backward(
                    sc::Grads {
                        dx: &mut dx,
                        ddelta: &mut ddelta,
                        dat: &mut dat,
                        dbm: &mut dbm,
                        dcm: &mut dcm,
                        dd: &mut dd,
                        dh0: None,
                    },
                    &mut scratch,
                    &dy,
                    None,
                    &hs,
                    &x,
                    &delta,
                    &at,
                    &bm,
                    &cm,
                    &d,
                    dims,
                    false,
                )
            })
        });
    }
    step(&mut r, &mut g);
    g.finish();
}

/// One token of the 3b configuration, from a given state, in the two layouts (the same random
/// values serve as A in either layout: the timing does not depend on which value is where;
/// the transposed step's state carries on from iteration to iteration).
fn step(
    r: &mut ChaCha8Rng,
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let (e, n) = (256, 16);
    let dims = ScanDims {
        l: 1,
        e,
        n,
        a_row_stride: n,
        dt_on_b: true,
    };
    let x = uniform(r, e, -1.0, 1.0);
    let delta = uniform(r, e, 0.001, 0.1);
    let a = uniform(r, n * e, -16.0, -1.0);
    let (bm, cm) = (uniform(r, n, -1.0, 1.0), uniform(r, n, -1.0, 1.0));
    let d = uniform(r, e, 0.5, 1.5);
    let h0 = uniform(r, e * n, -1.0, 1.0);
    let (mut y, mut h) = (vec![0.0; e], vec![0.0; e * n]);
    g.throughput(Throughput::Elements((e * n) as u64));
    g.bench_function("step_en", |bch| {
        bch.iter(|| {
            sc::step(
                &mut y,
                &mut h,
                &x,
                &delta,
                &a,
                &bm,
                &cm,
                &d,
                Some(&h0),
                dims,
            )
        })
    });
    let mut ht = h0.clone();
    g.bench_function("step_transposed", |bch| {
        bch.iter(|| {
            qssm_kernels::ops::scan::scan_step_transposed(
                &mut y, &mut ht, &x, &delta, &a, &bm, &cm, &d, dims,
            )
        })
    });
}

criterion_group!(benches, scan);
criterion_main!(benches);
