//! Criterion benches of the channel-minor selective scan (`ops::scan_channels`), one sample at
//! the 3b configuration (L = 249 steps, E = d_inner = 256 channels, N = d_state = 16):
//! forward storing every state (training), forward in the ring of two states (inference), and
//! the backward from the stored states.
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
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
